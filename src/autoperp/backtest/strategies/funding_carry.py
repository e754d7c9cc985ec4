"""Funding carry: take the side that receives funding when the last settled rate is far from zero.

Longs pay shorts when the rate is positive, so the strategy is short while the last settled rate is
above ``threshold`` and long while it is below −``threshold``; flat in between and before the first
settlement. The rate is :attr:`MarketData.funding_rate` (fraction per settlement, known at the bar).
"""

from __future__ import annotations

import math

import numpy as np

from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategies.params_check import finite, require
from autoperp.backtest.strategy import Strategy

__all__ = ["FundingCarry"]


class FundingCarry(Strategy):
    """``threshold``: fraction per settlement (default 0.0001 = 0.01 %, Binance's base rate, so only rates
    beyond the usual level are traded); ``exposure`` in units of equity. A target is emitted when the
    state (short / flat / long) changes from the previous bar, NaN (hold) otherwise."""

    name = "funding_carry"
    description = "short when funding > threshold, long when < -threshold, flat otherwise"
    threshold: float = 0.0001
    exposure: float = 1.0

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        require(
            finite(self.threshold) and self.threshold >= 0,
            self.name,
            "threshold",
            self.threshold,
            "must be >= 0",
        )
        require(finite(self.exposure), self.name, "exposure", self.exposure, "must be a finite number")

    @property
    def lookback(self) -> int:  # type: ignore[override]
        return 1

    def _state(self, rate: float) -> float:
        if math.isnan(rate):
            return 0.0
        if rate > self.threshold:
            return -1.0
        if rate < -self.threshold:
            return 1.0
        return 0.0

    def decide(self, window: Window) -> float:
        rate = window.funding_rate
        now = self._state(float(rate[-1]))
        prev = self._state(float(rate[-2])) if len(window) > 1 else None
        return now * self.exposure if now != prev else float("nan")

    def targets(self, data: MarketData) -> np.ndarray:
        rate = data.funding_rate
        with np.errstate(invalid="ignore"):
            state = np.where(rate > self.threshold, -1.0, np.where(rate < -self.threshold, 1.0, 0.0))
        changed = np.ones(state.shape[0], dtype=bool)
        changed[1:] = state[1:] != state[:-1]
        return np.where(changed, state * self.exposure, np.nan)
