"""autoperp: an autonomous, self-evolving trading system for crypto perpetual futures."""

__version__ = "0.1.0"
