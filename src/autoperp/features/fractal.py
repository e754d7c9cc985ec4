"""Hurst exponent by DFA and multifractal width by MF-DFA, on rolling windows of 1-bar log returns.

For a window of returns x the profile is Y = cumsum(x − mean x). For each scale s the profile is cut
into ⌊W/s⌋ forward segments, each detrended by a least-squares line; F²(ν, s) is the residual
variance of segment ν. The q-th order fluctuation is F_q(s) = (mean_ν F²^{q/2})^{1/q} and h(q) is the
slope of log F_q(s) against log s. The Hurst exponent is h(2) (0.5 for a random walk, > 0.5
trending, < 0.5 mean-reverting); the width is h(q_min) − h(q_max), the spread of generalised Hurst
exponents (0 for a monofractal series).

The estimate is refreshed every ``step`` bars, at bars t with t % step == 0 (an absolute schedule, so
truncating the input never moves it), and carried forward between refreshes: value t uses only
returns at bars <= t. The online twin calls the same compiled window function, so it is bit-equal.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from autoperp.features.returns import LogReturnState, log_returns

DEFAULT_SCALES = (8, 16, 32, 60, 120)
DEFAULT_QS = (-3.0, 2.0, 3.0)


@njit(cache=False, nogil=True)
def _window_h(x: np.ndarray, scales: np.ndarray, qs: np.ndarray) -> np.ndarray:  # pragma: no cover
    w = x.shape[0]
    nq = qs.shape[0]
    ns = scales.shape[0]
    h = np.full(nq, np.nan)
    mean = 0.0
    for i in range(w):
        mean += x[i]
    mean /= w
    # prefix sums of y, y² and j·y make every segment's line fit O(1): SSR = Syy − a·Sy − b·Sxy
    py = np.zeros(w + 1)
    pyy = np.zeros(w + 1)
    pjy = np.zeros(w + 1)
    acc = 0.0
    for j in range(w):
        acc += x[j] - mean
        py[j + 1] = py[j] + acc
        pyy[j + 1] = pyy[j] + acc * acc
        pjy[j + 1] = pjy[j] + j * acc
    logf = np.empty((nq, ns))
    logs = np.empty(ns)
    for si in range(ns):
        s = scales[si]
        m = w // s
        logs[si] = math.log(s)
        # the x-sums of a line fit over 0..s-1 are the same for every segment
        sx = s * (s - 1) / 2.0
        sxx = (s - 1) * s * (2 * s - 1) / 6.0
        den = s * sxx - sx * sx
        fq = np.zeros(nq)
        for v in range(m):
            o = v * s
            sy = py[o + s] - py[o]
            syy = pyy[o + s] - pyy[o]
            sxy = (pjy[o + s] - pjy[o]) - o * sy
            b = (s * sxy - sx * sy) / den
            a = (sy - b * sx) / s
            f2 = (syy - a * sy - b * sxy) / s
            # a residual at rounding level is a flat (exactly linear) segment: no exponent
            if f2 <= 1e-13 * syy / s or f2 <= 0.0:
                return h
            # F^q by integer powers of F where q is whole: a float power costs more than the fit
            rf = math.sqrt(f2)
            for qi in range(nq):
                q = qs[qi]
                if q == 0.0:
                    fq[qi] += math.log(rf)
                elif q == math.floor(q):
                    fq[qi] += rf ** int(q)
                else:
                    fq[qi] += rf**q
        for qi in range(nq):
            q = qs[qi]
            if q == 0.0:
                logf[qi, si] = fq[qi] / m
            else:
                logf[qi, si] = math.log(fq[qi] / m) / q
    mls = 0.0
    for si in range(ns):
        mls += logs[si]
    mls /= ns
    vls = 0.0
    for si in range(ns):
        vls += (logs[si] - mls) ** 2
    for qi in range(nq):
        mlf = 0.0
        for si in range(ns):
            mlf += logf[qi, si]
        mlf /= ns
        c = 0.0
        for si in range(ns):
            c += (logs[si] - mls) * (logf[qi, si] - mlf)
        h[qi] = c / vls
    return h


@njit(cache=False, nogil=True)
def _rolling_h(
    r: np.ndarray, window: int, step: int, scales: np.ndarray, qs: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    n = r.shape[0]
    out = np.full((n, qs.shape[0]), np.nan)
    bad = 0
    for t in range(n):
        if not np.isfinite(r[t]):
            bad += 1
        if t >= window and not np.isfinite(r[t - window]):
            bad -= 1
        if t % step == 0:
            if t >= window - 1 and bad == 0:
                out[t] = _window_h(r[t - window + 1 : t + 1], scales, qs)
        elif t > 0:
            out[t] = out[t - 1]
    return out


def _check(window: int, step: int, scales: tuple[int, ...], qs: tuple[float, ...]) -> None:
    if step < 1:
        raise ValueError("the refresh step is at least 1 bar")
    if len(scales) < 2 or min(scales) < 3 or max(scales) > window // 2:
        raise ValueError("DFA needs at least 2 scales, each from 3 bars to half the window")
    if 2.0 not in qs:
        raise ValueError("the q grid must hold 2 (the Hurst exponent)")


def rolling_mfdfa(
    close: np.ndarray,
    window: int = 480,
    *,
    step: int = 1,
    scales: tuple[int, ...] = DEFAULT_SCALES,
    qs: tuple[float, ...] = DEFAULT_QS,
) -> tuple[np.ndarray, np.ndarray]:
    """(Hurst exponent h(2), width h(min q) − h(max q)) over the last ``window`` 1-bar log returns.

    NaN until ``window`` returns exist (t >= window), while the window holds a missing return, or
    when a segment is exactly linear (flat prices).
    """
    _check(window, step, scales, qs)
    r = log_returns(close, 1)
    qa = np.asarray(qs, dtype=np.float64)
    h = _rolling_h(r, int(window), int(step), np.asarray(scales, dtype=np.int64), qa)
    return h[:, int(np.flatnonzero(qa == 2.0)[0])], h[:, int(qa.argmin())] - h[:, int(qa.argmax())]


class MfdfaState:
    """Online twin of :func:`rolling_mfdfa`: ``update(close) -> (hurst, width)``."""

    def __init__(
        self,
        window: int = 480,
        *,
        step: int = 1,
        scales: tuple[int, ...] = DEFAULT_SCALES,
        qs: tuple[float, ...] = DEFAULT_QS,
    ) -> None:
        _check(window, step, scales, qs)
        self.window, self.step = int(window), int(step)
        self._scales = np.asarray(scales, dtype=np.int64)
        self._qs = np.asarray(qs, dtype=np.float64)
        self._i2 = int(np.flatnonzero(self._qs == 2.0)[0])
        self._lo, self._hi = int(self._qs.argmin()), int(self._qs.argmax())
        self._ret = LogReturnState(1)
        self._buf = [math.nan] * self.window
        self._t = 0
        self._bad = 0
        self._last = (math.nan, math.nan)

    def update(self, close: float) -> tuple[float, float]:
        """Push one close; (Hurst exponent, multifractal width) at it."""
        t, w = self._t, self.window
        r = self._ret.update(close)
        if not math.isfinite(r):
            self._bad += 1
        slot = t % w
        if t >= w and not math.isfinite(self._buf[slot]):
            self._bad -= 1
        self._buf[slot] = r
        self._t = t + 1
        if t % self.step == 0:
            if t >= w - 1 and self._bad == 0:
                x = np.array(self._buf[slot + 1 :] + self._buf[: slot + 1])
                h = _window_h(x, self._scales, self._qs)
                self._last = (float(h[self._i2]), float(h[self._lo] - h[self._hi]))
            else:
                self._last = (math.nan, math.nan)
        return self._last
