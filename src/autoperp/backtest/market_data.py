"""What a strategy sees: one pair's bars as arrays, and causal windows over them.

Every array is aligned on the bar index. ``funding_rate[j]`` is the last funding rate *settled* at or
before bar j's open (NaN before the first settlement) — the value a live strategy would know at bar j's
close. A :class:`Window` at bar t exposes bars 0..t only, as array views (no copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket

__all__ = ["MarketData", "Window", "market_data_from_sim"]


@dataclass(frozen=True)
class MarketData:
    """One pair's history. Prices USDT, volumes base units, ts int64 ms (bar open), rates fractions."""

    symbol: str
    timeframe: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    mark: np.ndarray  # mark close (trade close where there is no mark data)
    funding_rate: np.ndarray  # last settled rate, forward-filled; NaN before the first settlement
    #: per-bar order-flow columns the candles carried (``taker_buy_volume``, ``trades``), when any
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def truncated(self, stop: int) -> MarketData:
        """Bars 0..stop-1 only: what was known at bar stop-1's close (used by lookahead analysis)."""
        return MarketData(
            self.symbol, self.timeframe,
            *(a[:stop].copy() for a in (self.ts, self.open, self.high, self.low, self.close, self.volume, self.mark, self.funding_rate)),
            extras={k: v[:stop].copy() for k, v in self.extras.items()},
        )  # fmt: skip

    def window(self, t: int) -> Window:
        """The causal view at bar t's close: bars 0..t."""
        return Window(self, t)


class Window:
    """Bars 0..t of a :class:`MarketData` as array views; ``close[-1]`` is bar t's close."""

    __slots__ = ("_data", "t")

    def __init__(self, data: MarketData, t: int) -> None:
        self._data = data
        self.t = t

    def __len__(self) -> int:
        return self.t + 1

    def _view(self, a: np.ndarray) -> np.ndarray:
        return a[: self.t + 1]

    @property
    def symbol(self) -> str:
        return self._data.symbol

    @property
    def ts(self) -> np.ndarray:
        return self._view(self._data.ts)

    @property
    def open(self) -> np.ndarray:
        return self._view(self._data.open)

    @property
    def high(self) -> np.ndarray:
        return self._view(self._data.high)

    @property
    def low(self) -> np.ndarray:
        return self._view(self._data.low)

    @property
    def close(self) -> np.ndarray:
        return self._view(self._data.close)

    @property
    def volume(self) -> np.ndarray:
        return self._view(self._data.volume)

    @property
    def mark(self) -> np.ndarray:
        return self._view(self._data.mark)

    @property
    def funding_rate(self) -> np.ndarray:
        return self._view(self._data.funding_rate)


def _last_settled(rate_at_bar: np.ndarray) -> np.ndarray:
    has = ~np.isnan(rate_at_bar)
    idx = np.where(has, np.arange(rate_at_bar.shape[0]), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, rate_at_bar[np.maximum(idx, 0)], np.nan)


def market_data_from_sim(market: SimMarket) -> MarketData:
    """The strategy-facing view of a kernel market (shares the price arrays, no copies)."""
    d = market.data
    return MarketData(
        symbol=market.symbol,
        timeframe=market.timeframe,
        ts=market.ts,
        open=d[L.M_OPEN],
        high=d[L.M_HIGH],
        low=d[L.M_LOW],
        close=d[L.M_CLOSE],
        volume=d[L.M_VOLUME],
        mark=d[L.M_MARK],
        funding_rate=_last_settled(d[L.M_FUNDING]),
        extras=market.extras,
    )
