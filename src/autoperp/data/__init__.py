"""Layer 1: market-data sources, the store, validation and repair, synthetic markets and stress scenarios."""
