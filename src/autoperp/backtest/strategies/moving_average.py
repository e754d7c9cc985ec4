"""Trailing simple moving averages in O(n), accurate to a few ulps of the window sum.

A running sum (add the new bar, drop the old one) drifts by one rounding error per bar; over a million
bars that is enough to flip a fast/slow comparison that the strategy's ``decide`` (a plain sum of the
window) gets right. The sum is therefore recomputed from scratch every ``k`` bars, which bounds the
drift to ~2k ulps and keeps the cost at about three flops per bar.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["TIE_TOLERANCE", "crossing_side", "trailing_mean", "window_mean"]

#: |fast − slow| at or below this fraction of the slow average is a tie (neither above nor below): far
#: below any exchange tick, far above the rounding difference between a running and a direct sum.
TIE_TOLERANCE = 1e-9


@njit(cache=True)
def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if k > n:
        return out
    s = 0.0
    for t in range(k - 1, n):
        if (t - k + 1) % k == 0:
            s = 0.0
            for i in range(t - k + 1, t + 1):
                s += x[i]
        else:
            s += x[t] - x[t - k]
        out[t] = s / k
    return out


def trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of ``x[t-k+1..t]`` at each t (same units as ``x``); NaN for t < k−1."""
    if k < 1:
        raise ValueError(f"window must be >= 1 bar, got {k}")
    return _trailing_mean(np.ascontiguousarray(x, dtype=np.float64), int(k))


def window_mean(x: np.ndarray, k: int) -> float:
    """Mean of the last ``k`` values of ``x`` (what ``decide`` sees); NaN when ``x`` is shorter."""
    if x.shape[0] < k:
        return float("nan")
    return float(np.sum(x[x.shape[0] - k :]) / k)


def crossing_side(fast: np.ndarray | float, slow: np.ndarray | float) -> np.ndarray:
    """+1 where ``fast`` is above ``slow``, −1 below, 0 on a tie (see :data:`TIE_TOLERANCE`) or NaN."""
    f = np.asarray(fast, dtype=np.float64)
    s = np.asarray(slow, dtype=np.float64)
    d = f - s
    with np.errstate(invalid="ignore"):
        side = np.where(
            d > TIE_TOLERANCE * np.abs(s), 1.0, np.where(d < -TIE_TOLERANCE * np.abs(s), -1.0, 0.0)
        )
    return side
