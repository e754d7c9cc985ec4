"""Input checks and annualisation shared by the metrics: finite arrays, enough samples, periods per year.

Markets are 24/7, so a year is 365.25 days of bars: ``periods_per_year = 365.25 * 86_400_000 / bar_ms``.
"""

from __future__ import annotations

import numpy as np

from autoperp.core.errors import AutoperpError
from autoperp.core.time import MS_PER_DAY

MS_PER_YEAR = 365.25 * MS_PER_DAY


class MetricsInputError(AutoperpError, ValueError):
    """An array handed to a metric is unusable (NaN/inf, wrong shape, too short). It is a ``ValueError``."""

    exit_code = 2


def periods_per_year(bar_ms: float | None = None, periods: float | None = None) -> float:
    """Bars per year of a 24/7 market from the bar length in ms, or ``periods`` itself when given.

    Exactly one of the two must be set; both must be positive.
    """
    if (bar_ms is None) == (periods is None):
        raise MetricsInputError("give exactly one of bar_ms (bar length in ms) or periods_per_year")
    if periods is not None:
        if not periods > 0:
            raise MetricsInputError(f"periods_per_year must be > 0, got {periods}")
        return float(periods)
    assert bar_ms is not None
    if not bar_ms > 0:
        raise MetricsInputError(f"bar_ms must be > 0, got {bar_ms}")
    return MS_PER_YEAR / float(bar_ms)


def as_float_array(values: object, name: str, *, ndim: int = 1, min_len: int = 0) -> np.ndarray:
    """``values`` as a contiguous float64 array of ``ndim`` dimensions whose entries are all finite.

    Raises :class:`MetricsInputError` naming the first non-finite index (row, column for 2-D) or the
    shape problem.
    """
    a = np.ascontiguousarray(values, dtype=np.float64)
    if a.ndim != ndim:
        raise MetricsInputError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if a.shape[0] < min_len:
        raise MetricsInputError(f"{name} needs at least {min_len} rows, got {a.shape[0]}")
    check_finite(a, name)
    return a


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise :class:`MetricsInputError` naming the first NaN/inf entry of ``a``."""
    finite = np.isfinite(a)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        where = int(bad[0]) if a.ndim == 1 else tuple(int(i) for i in bad)
        raise MetricsInputError(f"{name} has a non-finite value ({a[tuple(bad)]}) at index {where}")
