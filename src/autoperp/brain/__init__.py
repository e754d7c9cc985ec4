"""The brain: torch models (ZIRA blocks, HRM, encoders, policy heads). It sees tensors only (DESIGN.md §4)."""
