"""Drawdown of a wealth curve: depth, longest underwater spell, Ulcer index.

Drawdown at point i is ``1 - W_i / max_{j<=i} W_j`` as a fraction (0.25 = 25 % below the peak), never
negative. A spell under water is a run of consecutive points below the running peak; its duration is the number of
those points (bars), i.e. the index of its last point minus the index of its peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from autoperp.metrics.inputs import MetricsInputError, as_float_array


@nb.njit(cache=True, nogil=True)
def _drawdown_scan(log_wealth: np.ndarray) -> tuple[float, int, int, int, int, float]:
    """(max drawdown, its peak index, its trough index, longest spell's peak and last point,
    sum of squared drawdowns)."""
    n = log_wealth.shape[0]
    peak = log_wealth[0]
    peak_i = 0
    max_dd = 0.0
    mdd_peak = 0
    mdd_trough = 0
    longest = 0
    spell_peak = 0
    spell_end = 0
    sq = 0.0
    for i in range(n):
        lw = log_wealth[i]
        if lw >= peak:
            peak = lw
            peak_i = i
        else:
            dd = 1.0 - np.exp(lw - peak)
            sq += dd * dd
            if dd > max_dd:
                max_dd = dd
                mdd_peak = peak_i
                mdd_trough = i
            if i - peak_i > longest:
                longest = i - peak_i
                spell_peak = peak_i
                spell_end = i
    return max_dd, mdd_peak, mdd_trough, spell_peak, spell_end, sq


@dataclass(frozen=True)
class DrawdownStats:
    """Drawdown summary of a wealth curve of ``n`` points.

    ``max_drawdown``: deepest fall below a running peak, fraction in [0, 1].
    ``peak_index`` / ``trough_index``: points where that deepest fall starts and bottoms.
    ``max_duration_bars``: longest spell under water, in bars; it runs from point ``duration_start``
    (its peak) to point ``duration_end`` (its last point below that peak); all 0 when never under water.
    ``ulcer_index``: sqrt(mean(drawdown²)) over all points, as a fraction (multiply by 100 for Martin's %).
    """

    max_drawdown: float
    peak_index: int
    trough_index: int
    max_duration_bars: int
    duration_start: int
    duration_end: int
    ulcer_index: float


def drawdown_from_log_wealth(log_wealth: np.ndarray) -> DrawdownStats:
    """:class:`DrawdownStats` of a curve given as log wealth (``-inf`` allowed: ruin). No input checks."""
    max_dd, p, t, s0, s1, sq = _drawdown_scan(log_wealth)
    ulcer = float(np.sqrt(sq / log_wealth.shape[0])) if log_wealth.shape[0] else 0.0
    return DrawdownStats(float(max_dd), int(p), int(t), int(s1 - s0), int(s0), int(s1), ulcer)


def drawdown_stats(equity: np.ndarray) -> DrawdownStats:
    """:class:`DrawdownStats` of an equity curve (any positive currency units; zero means ruin)."""
    e = as_float_array(equity, "equity", min_len=1)
    if (e < 0).any():
        raise MetricsInputError(f"equity must be >= 0, first negative at index {int(np.argmax(e < 0))}")
    with np.errstate(divide="ignore"):
        return drawdown_from_log_wealth(np.log(e))


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """Drawdown at each point of an equity curve, fraction in [0, 1] (0 at a running peak)."""
    e = as_float_array(equity, "equity", min_len=1)
    if (e < 0).any():
        raise MetricsInputError(f"equity must be >= 0, first negative at index {int(np.argmax(e < 0))}")
    peak = np.maximum.accumulate(e)
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = np.where(peak > 0, 1.0 - e / peak, 0.0)
    return np.asarray(dd, dtype=np.float64)
