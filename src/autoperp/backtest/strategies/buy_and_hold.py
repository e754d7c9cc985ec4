"""Buy and hold: enter ``exposure`` × equity at the first bar and hold it to the end (the baseline every
candidate must beat after costs, DESIGN.md §6)."""

from __future__ import annotations

import numpy as np

from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategies.params_check import finite, require
from autoperp.backtest.strategy import Strategy

__all__ = ["BuyAndHold"]


class BuyAndHold(Strategy):
    """Target ``exposure`` (units of equity; 1.0 = long 1x) once, at the first bar's close, then NaN
    (hold). Holding rather than re-asking for ``exposure`` every bar keeps the quantity fixed, as a real
    buy-and-hold does, instead of rebalancing (and paying fees) on every price move."""

    name = "buy_and_hold"
    description = "long `exposure` x equity from the first bar to the last"
    exposure: float = 1.0

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        require(finite(self.exposure), self.name, "exposure", self.exposure, "must be a finite number")

    @property
    def lookback(self) -> int:  # type: ignore[override]
        return 1

    def decide(self, window: Window) -> float:
        return self.exposure if len(window) == 1 else float("nan")

    def targets(self, data: MarketData) -> np.ndarray:
        out = np.full(len(data), np.nan)
        if len(data):
            out[0] = self.exposure
        return out
