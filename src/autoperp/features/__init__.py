"""Causal, lookahead-free feature kernels shared by training and live trading (DESIGN.md §2, layer 1)."""
