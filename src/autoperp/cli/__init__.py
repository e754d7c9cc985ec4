"""Layer 9: the `autoperp` command line (freqtrade-style verbs)."""
