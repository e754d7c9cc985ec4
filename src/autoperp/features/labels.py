"""Triple-barrier labels (López de Prado, *Advances in Financial Machine Learning*, ch. 3).

For a decision at bar t the upper barrier is ``close[t]·(1 + k_up·vol[t])``, the lower one
``close[t]·(1 − k_down·vol[t])`` and the vertical barrier is bar ``t + horizon``. The label is the sign
of the first barrier touched, judged on **closes** (bars t+1 … t+horizon): +1 upper, −1 lower, 0 when
the vertical barrier comes first. Closes, not highs/lows, so that a bar whose range spans both barriers
never needs an intrabar ordering guess.

``vol`` is the barrier width as a fraction of price over the whole horizon (e.g. per-bar log-return
std × sqrt(horizon)); the caller chooses the scaling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from autoperp.core.errors import ValidationError

__all__ = ["triple_barrier"]


@njit(cache=False, nogil=True)
def _barrier_kernel(
    close: np.ndarray, vol: np.ndarray, horizon: int, k_up: float, k_down: float
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    n = close.shape[0]
    labels = np.zeros(n, dtype=np.int8)
    ends = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        c0 = close[t]
        v = vol[t]
        if t + horizon >= n or not (c0 > 0.0) or not (v > 0.0) or not np.isfinite(v):
            continue
        up = c0 * (1.0 + k_up * v)
        down = c0 * (1.0 - k_down * v)
        ends[t] = t + horizon
        for j in range(t + 1, t + horizon + 1):
            c = close[j]
            if c >= up:
                labels[t] = 1
                ends[t] = j
                break
            if c <= down:
                labels[t] = -1
                ends[t] = j
                break
    return labels, ends


def triple_barrier(
    close: np.ndarray, vol: np.ndarray, horizon: int, k_up: float = 1.0, k_down: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(labels int8 in {−1, 0, 1}, end index int64) per bar; see the module docstring.

    ``end[t]`` is the bar at which the event decided (first touch, or ``t + horizon``): the event spans
    bars ``[t, end[t]]``, which is what purging needs. ``end[t] = -1`` (label 0) marks bars with no label:
    fewer than ``horizon`` bars left, or a non-finite / non-positive vol or close.

    Raises:
        ValidationError: shapes differ, ``horizon < 1`` or a multiplier is not positive.
    """
    c = np.ascontiguousarray(close, dtype=np.float64)
    v = np.ascontiguousarray(vol, dtype=np.float64)
    if c.ndim != 1 or c.shape != v.shape:
        raise ValidationError(f"features/labels.py: field 'vol' shape {v.shape} differs from close {c.shape}")
    if horizon < 1:
        raise ValidationError(f"features/labels.py: field 'horizon' must be at least 1 bar, got {horizon}")
    if not (k_up > 0 and k_down > 0):
        raise ValidationError(f"features/labels.py: fields 'k_up'/'k_down' must be > 0, got {k_up}/{k_down}")
    labels, ends = _barrier_kernel(c, v, int(horizon), float(k_up), float(k_down))
    return labels, ends
