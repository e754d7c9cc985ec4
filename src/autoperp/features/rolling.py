"""Rolling-window sums and z-scores: O(n) batch kernels (numba) and their one-bar-at-a-time twins.

Both twins run the same float operations in the same order, so online values equal batch values to
rounding. A running sum drifts as values are added and removed; every ``resum_period(window)`` bars
(counted from bar 0, so truncating the input never changes the schedule) it is recomputed exactly.
A non-finite input poisons every window that holds it: the output is NaN there, never a partial sum.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: The shortest period between exact re-summations; with ``max(window, RESUM_MIN)`` the extra cost
#: of re-summing stays below one pass over the input.
RESUM_MIN = 256

#: A window variance below this fraction of the mean squared offset is rounding noise: z-score 0.
ZERO_VAR_REL = 1e-12


def resum_period(window: int) -> int:
    """Bars between exact re-summations of a rolling window of ``window`` bars."""
    return max(window, RESUM_MIN)


@njit(cache=False, nogil=True)
def _rolling_sum(x: np.ndarray, window: int, period: int) -> np.ndarray:  # pragma: no cover - numba
    n = x.shape[0]
    out = np.full(n, np.nan)
    s = 0.0
    bad = 0
    for t in range(n):
        v = x[t]
        if np.isfinite(v):
            s += v
        else:
            bad += 1
        if t >= window:
            u = x[t - window]
            if np.isfinite(u):
                s -= u
            else:
                bad -= 1
        if (t + 1) % period == 0 and t >= window - 1:
            s = 0.0
            for k in range(t - window + 1, t + 1):
                u = x[k]
                if np.isfinite(u):
                    s += u
        if t >= window - 1 and bad == 0:
            out[t] = s
    return out


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` values at every t (inclusive); NaN until full or if any is non-finite."""
    return _rolling_sum(np.ascontiguousarray(x, dtype=np.float64), int(window), resum_period(window))


class RollingSum:
    """Online twin of :func:`rolling_sum`: ``update(v)`` returns the sum the batch kernel gives at that bar."""

    def __init__(self, window: int) -> None:
        self.window = int(window)
        self.period = resum_period(self.window)
        self._buf = [math.nan] * self.window
        self._t = 0
        self._s = 0.0
        self._bad = 0

    def update(self, v: float) -> float:
        """Push one value; the rolling sum ending at it."""
        t, w = self._t, self.window
        if math.isfinite(v):
            self._s += v
        else:
            self._bad += 1
        slot = t % w
        if t >= w:
            u = self._buf[slot]
            if math.isfinite(u):
                self._s -= u
            else:
                self._bad -= 1
        self._buf[slot] = v
        if (t + 1) % self.period == 0 and t >= w - 1:
            s = 0.0
            for k in range(t - w + 1, t + 1):
                u = self._buf[k % w]
                if math.isfinite(u):
                    s += u
            self._s = s
        self._t = t + 1
        return self._s if t >= w - 1 and self._bad == 0 else math.nan


@njit(cache=False, nogil=True)
def _rolling_zscore(x: np.ndarray, window: int, period: int) -> np.ndarray:  # pragma: no cover - numba
    # Sums are of (x - k): k is the first finite value, then the window mean at each re-summation,
    # so the sum of squares never cancels against a large mean.
    n = x.shape[0]
    out = np.full(n, np.nan)
    k = np.nan
    s1 = 0.0
    s2 = 0.0
    bad = 0
    for t in range(n):
        v = x[t]
        if np.isfinite(v):
            if not np.isfinite(k):
                k = v
            d = v - k
            s1 += d
            s2 += d * d
        else:
            bad += 1
        if t >= window:
            u = x[t - window]
            if np.isfinite(u):
                d = u - k
                s1 -= d
                s2 -= d * d
            else:
                bad -= 1
        if (t + 1) % period == 0 and t >= window - 1 and bad == 0:
            m = 0.0
            for j in range(t - window + 1, t + 1):
                m += x[j]
            k = m / window
            s1 = 0.0
            s2 = 0.0
            for j in range(t - window + 1, t + 1):
                d = x[j] - k
                s1 += d
                s2 += d * d
        if t >= window - 1 and bad == 0:
            var_n = s2 - s1 * s1 / window
            if var_n <= ZERO_VAR_REL * s2 or s2 <= 0.0:
                out[t] = 0.0
            else:
                mean = k + s1 / window
                out[t] = (v - mean) / math.sqrt(var_n / (window - 1))
    return out


def rolling_zscore(x: np.ndarray, window: int) -> np.ndarray:
    """(x_t - mean) / std over the last ``window`` values (std with ddof=1, as pandas); window >= 2.

    NaN until full or while the window holds a non-finite value; 0 where the window is constant.
    """
    if window < 2:
        raise ValueError("a z-score window needs at least 2 bars")
    return _rolling_zscore(np.ascontiguousarray(x, dtype=np.float64), int(window), resum_period(window))


class RollingZScore:
    """Online twin of :func:`rolling_zscore`."""

    def __init__(self, window: int) -> None:
        if window < 2:
            raise ValueError("a z-score window needs at least 2 bars")
        self.window = int(window)
        self.period = resum_period(self.window)
        self._buf = [math.nan] * self.window
        self._t = 0
        self._k = math.nan
        self._s1 = 0.0
        self._s2 = 0.0
        self._bad = 0

    def update(self, v: float) -> float:
        """Push one value; its z-score against the window ending at it."""
        t, w = self._t, self.window
        if math.isfinite(v):
            if not math.isfinite(self._k):
                self._k = v
            d = v - self._k
            self._s1 += d
            self._s2 += d * d
        else:
            self._bad += 1
        slot = t % w
        if t >= w:
            u = self._buf[slot]
            if math.isfinite(u):
                d = u - self._k
                self._s1 -= d
                self._s2 -= d * d
            else:
                self._bad -= 1
        self._buf[slot] = v
        if (t + 1) % self.period == 0 and t >= w - 1 and self._bad == 0:
            m = 0.0
            for j in range(t - w + 1, t + 1):
                m += self._buf[j % w]
            k = m / w
            s1 = 0.0
            s2 = 0.0
            for j in range(t - w + 1, t + 1):
                d = self._buf[j % w] - k
                s1 += d
                s2 += d * d
            self._k, self._s1, self._s2 = k, s1, s2
        self._t = t + 1
        if t < w - 1 or self._bad != 0:
            return math.nan
        s1, s2 = self._s1, self._s2
        var_n = s2 - s1 * s1 / w
        if var_n <= ZERO_VAR_REL * s2 or s2 <= 0.0:
            return 0.0
        return (v - (self._k + s1 / w)) / math.sqrt(var_n / (w - 1))
