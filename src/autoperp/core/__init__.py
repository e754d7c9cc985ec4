"""Layer 0: domain types, time, timeframes, symbols, config and errors. Imports nothing of ours."""
