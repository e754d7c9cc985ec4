"""autoperp: an autonomous, self-evolving trading system for crypto perpetual futures."""

from autoperp._numba_cache import configure_numba_cache

__version__ = "0.1.0"

configure_numba_cache()
