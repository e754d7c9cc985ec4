"""Calendar consistency: compounded returns per UTC week and month, and the share of positive ones.

Bars are assigned to the calendar period holding their timestamp (int64 ms UTC, the bar's label; weeks start
Monday 00:00 UTC). A period's return is the compounded simple return of its bars. Partial first and last
periods count like full ones; empty calendar periods (gaps in the data) are skipped.
"""

from __future__ import annotations

import numpy as np

from autoperp.core.time import MS_PER_DAY
from autoperp.metrics.inputs import MetricsInputError

MS_PER_WEEK = 7 * MS_PER_DAY
_MONDAY_SHIFT = 3 * MS_PER_DAY  # 1970-01-01 was a Thursday; 1969-12-29 was a Monday


def check_timestamps(timestamps_ms: np.ndarray, n: int) -> np.ndarray:
    """``timestamps_ms`` as int64, of length ``n`` and strictly increasing, or :class:`MetricsInputError`."""
    ts = np.ascontiguousarray(timestamps_ms, dtype=np.int64)
    if ts.ndim != 1 or ts.shape[0] != n:
        raise MetricsInputError(f"timestamps_ms must be 1-D of length {n}, got shape {ts.shape}")
    if n > 1:
        bad = np.flatnonzero(ts[1:] <= ts[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            raise MetricsInputError(
                f"timestamps_ms must be strictly increasing: index {i} ({ts[i]}) follows {ts[i - 1]}"
            )
    return ts


def week_starts_ms(first_ms: int, last_ms: int) -> np.ndarray:
    """Monday 00:00 UTC of every week from the one holding ``first_ms`` to the one after ``last_ms``."""
    w0 = (first_ms + _MONDAY_SHIFT) // MS_PER_WEEK
    w1 = (last_ms + _MONDAY_SHIFT) // MS_PER_WEEK
    return np.arange(w0, w1 + 2, dtype=np.int64) * MS_PER_WEEK - _MONDAY_SHIFT


def month_starts_ms(first_ms: int, last_ms: int) -> np.ndarray:
    """First day 00:00 UTC of every month from the one holding ``first_ms`` to the one after ``last_ms``."""
    m0 = np.datetime64(int(first_ms), "ms").astype("datetime64[M]")
    m1 = np.datetime64(int(last_ms), "ms").astype("datetime64[M]")
    months = np.arange(m0, m1 + np.timedelta64(2, "M"), dtype="datetime64[M]")
    return months.astype("datetime64[ms]").astype(np.int64)


def period_returns(log_wealth: np.ndarray, timestamps_ms: np.ndarray, starts_ms: np.ndarray) -> np.ndarray:
    """Compounded simple return of each non-empty period ``[starts_ms[j], starts_ms[j+1])``.

    ``log_wealth`` has ``n + 1`` points (0 before the first bar, then after each bar); ``timestamps_ms`` has
    the ``n`` bar labels, sorted.
    """
    idx = np.searchsorted(timestamps_ms, starts_ms, side="left")
    idx = np.unique(idx)  # empty periods collapse onto their neighbour's boundary
    lw = log_wealth[idx]
    with np.errstate(invalid="ignore"):
        out = np.expm1(np.diff(lw))
    # ruin inside a period (-inf to -inf) leaves NaN: that period and every later one lost everything
    return np.where(np.isnan(out), -1.0, out)


def positive_share(returns: np.ndarray) -> float:
    """Share of strictly positive entries, NaN when there are none."""
    return float(np.mean(returns > 0)) if returns.size else float("nan")
