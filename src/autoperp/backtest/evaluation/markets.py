"""Putting several pairs on one timeline, and the bar length of a history."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autoperp.core.errors import UsageError
from autoperp.core.timeframes import is_timeframe, timeframe_ms
from autoperp.sim.market import SimMarket

__all__ = ["align_markets", "bar_length_ms"]


def align_markets(markets: Sequence[SimMarket]) -> list[SimMarket]:
    """The pairs cut to the span they all cover; :class:`UsageError` when their bars then differ (a gap in
    one pair only): a portfolio's folds must cut every pair at the same bar."""
    if not markets:
        raise UsageError("no market data to evaluate")
    if len(markets) == 1:
        return list(markets)
    start = max(int(m.ts[0]) for m in markets)
    stop = min(int(m.ts[-1]) for m in markets)
    if stop <= start:
        raise UsageError("the pairs' histories do not overlap: evaluate them one at a time")
    out = []
    for m in markets:
        a, b = np.searchsorted(m.ts, [start, stop + 1])
        out.append(m.slice(int(a), int(b)))
    ref = out[0]
    for m in out[1:]:
        if m.ts.shape != ref.ts.shape or not np.array_equal(m.ts, ref.ts):
            raise UsageError(
                f"{m.symbol} and {ref.symbol} have different bars between their common start and end "
                "(a gap in one of them): evaluate them one at a time"
            )
    return out


def bar_length_ms(market: SimMarket) -> int:
    """The market's timeframe in ms, else the median spacing of its bars."""
    if market.timeframe and is_timeframe(market.timeframe):
        return int(timeframe_ms(market.timeframe))
    if len(market) < 2:
        raise UsageError(f"{market.symbol or 'the market'} has fewer than 2 bars: no bar length")
    return int(np.median(np.diff(market.ts)))
