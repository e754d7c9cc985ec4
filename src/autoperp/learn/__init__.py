"""Learning: supervised pre-training (and later RL) of the brain models (DESIGN.md layer 5)."""
