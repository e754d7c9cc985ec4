"""The built-in rule strategies by name."""

from __future__ import annotations

from typing import Any

from autoperp.backtest.strategies.buy_and_hold import BuyAndHold
from autoperp.backtest.strategies.funding_carry import FundingCarry
from autoperp.backtest.strategies.sma_trend import SmaTrend
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import AutoperpError, UsageError

__all__ = ["STRATEGIES", "get_strategy", "make_strategy"]

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (BuyAndHold, SmaTrend, FundingCarry)}


def _key(name: str) -> str:
    # buy-and-hold, Buy_And_Hold and buy_and_hold all name the same strategy
    return name.strip().lower().replace("-", "_")


def make_strategy(cls: type[Strategy], label: str, **params: Any) -> Strategy:
    """``cls(**params)``, with a bad or unknown parameter turned into one :class:`UsageError` line."""
    try:
        return cls(**params)
    except AutoperpError:
        raise
    except (TypeError, ValueError, AttributeError) as e:
        known = ", ".join(f"{k}={v!r}" for k, v in _defaults(cls).items()) or "none"
        raise UsageError(f"{label}: bad parameter ({e}); parameters: {known}") from None


def _defaults(cls: type[Strategy]) -> dict[str, Any]:
    try:
        return cls().params()
    except Exception:
        return {}


def get_strategy(name: str, **params: Any) -> Strategy:
    """A built-in strategy by name (``buy_and_hold``, ``sma_trend``, ``funding_carry``; ``-`` may stand
    for ``_``) with ``params`` overriding its defaults. Unknown names raise :class:`UsageError` listing
    the known ones."""
    cls = STRATEGIES.get(_key(name))
    if cls is None:
        raise UsageError(
            f"unknown strategy '{name}': built-in strategies are {', '.join(sorted(STRATEGIES))}"
            " (or load your own with --strategy-path FILE)"
        )
    return make_strategy(cls, cls.name, **params)
