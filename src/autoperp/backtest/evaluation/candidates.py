"""What an evaluation runs: the strategy, the baselines beside it and the parameter grid PBO is measured on.

Grids: a strategy class may define ``param_grid() -> list[dict]`` (a classmethod); built-ins without one
use :data:`DEFAULT_GRIDS`. The evaluated parameters are always part of the grid, so PBO asks "would
picking the best of these settings in-sample have held up out of sample?".
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategies.registry import get_strategy, make_strategy
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError

__all__ = [
    "DEFAULT_GRIDS",
    "Candidate",
    "Flat",
    "baseline_candidates",
    "grid_candidates",
    "settable_params",
    "strategy_label",
]

#: Parameter grids of the built-ins (bars / fractions per settlement), used when the class has none.
DEFAULT_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "sma_trend": {"fast": (10, 20, 50), "slow": (100, 200, 400)},
    "funding_carry": {"threshold": (0.0, 0.00005, 0.0001, 0.0002, 0.0005)},
    "buy_and_hold": {"exposure": (0.5, 1.0, 2.0)},
}


class Flat(Strategy):
    """Never in the market: the zero-return baseline (what doing nothing earns after costs)."""

    name = "flat"
    description = "no position, ever"

    def decide(self, window: Window) -> float:
        return 0.0

    def targets(self, data: MarketData) -> np.ndarray:
        return np.zeros(len(data))


@dataclass(frozen=True)
class Candidate:
    """One thing simulated on every segment. ``role``: "strategy", "baseline" or "grid"."""

    role: str
    label: str
    strategy: Strategy


def strategy_label(strategy: Strategy) -> str:
    """``name`` with the parameters that differ from the class defaults, e.g. ``sma_trend(fast=10)``."""
    name = getattr(strategy, "name", "") or type(strategy).__name__
    try:
        params = settable_params(strategy)
        defaults = settable_params(type(strategy)())
    except Exception:  # a user class that cannot be built without arguments: show every parameter
        return name
    diff = {k: v for k, v in params.items() if defaults.get(k) != v}
    return name + ("(" + ", ".join(f"{k}={v}" for k, v in diff.items()) + ")" if diff else "")


def baseline_candidates(names: Sequence[str]) -> list[Candidate]:
    """The baselines by name: ``flat`` or any built-in strategy with default parameters."""
    out = []
    for n in names:
        s: Strategy = Flat() if n == "flat" else get_strategy(n)
        out.append(Candidate("baseline", s.name, s))
    return out


def _grid_rows(strategy: Strategy) -> list[dict[str, Any]]:
    fn = getattr(type(strategy), "param_grid", None)
    if callable(fn):
        rows = fn()
        if isinstance(rows, Mapping):  # {param: values} as well as a list of dicts
            rows = [dict(zip(rows, combo, strict=True)) for combo in itertools.product(*rows.values())]
        return [dict(r) for r in rows]
    grid = DEFAULT_GRIDS.get(getattr(strategy, "name", ""))
    if not grid:
        return []
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def settable_params(strategy: Strategy) -> dict[str, Any]:
    """The parameters a new instance can be given: ``params()`` without derived properties (a
    ``lookback`` that follows ``slow``, say)."""
    cls = type(strategy)
    return {k: v for k, v in strategy.params().items() if not isinstance(getattr(cls, k, None), property)}


def grid_candidates(strategy: Strategy) -> list[Candidate]:
    """The strategy's parameter grid around its own parameters (invalid combinations, e.g. fast ≥ slow,
    are skipped); the evaluated parameters are included. Empty when the strategy has no grid."""
    cls = type(strategy)
    base = settable_params(strategy)
    seen: set[str] = set()
    out: list[Candidate] = []
    for row in [{}, *_grid_rows(strategy)]:
        params = {**base, **row}
        try:
            variant = make_strategy(cls, strategy.name or cls.__name__, **params)
        except (UsageError, TypeError, ValueError):
            continue
        key = repr(sorted(variant.params().items()))
        if key in seen:
            continue
        seen.add(key)
        out.append(Candidate("grid", strategy_label(variant), variant))
    return out if len(out) > 1 else []
