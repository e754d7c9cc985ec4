"""Numba kernels of the row-wise and order checks: one pass each, no allocation per row.

Each kernel fills ``counts[rule]`` and ``first[rule]`` (frame index of the first offending row, -1 if none)
using the rule order of :data:`autoperp.data.validation.rules.RULE_INDEX`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from autoperp.data.validation.rules import RULE_INDEX

NAN_INF = RULE_INDEX["nan_inf"]
NON_POSITIVE = RULE_INDEX["non_positive_price"]
HIGH_BELOW_LOW = RULE_INDEX["high_below_low"]
OPEN_OUTSIDE = RULE_INDEX["open_outside_range"]
CLOSE_OUTSIDE = RULE_INDEX["close_outside_range"]
NEG_VOLUME = RULE_INDEX["negative_volume"]
TAKER_GT_VOLUME = RULE_INDEX["taker_buy_exceeds_volume"]
OUT_OF_ORDER = RULE_INDEX["out_of_order"]
MISALIGNED = RULE_INDEX["misaligned_timestamp"]


@njit(cache=True, nogil=True, inline="always")
def _hit(counts: np.ndarray, first: np.ndarray, rule: int, i: int) -> None:
    if counts[rule] == 0:
        first[rule] = i
    counts[rule] += 1


@njit(cache=True, nogil=True)
def _candle_rows_clean(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    tb: np.ndarray,
    qv: np.ndarray,
    tbq: np.ndarray,
) -> bool:
    """True when no row can break a rule of :func:`candle_row_checks` (a branch-free pass over every row).

    ``0 < low <= open, close <= high < inf`` makes all four prices finite and positive; ``0 <= volume < inf``
    and ``0 <= taker <= volume * (1 + 1e-9) + 1e-12`` (the rule's own expression) cover the volume rules;
    ``x - x != 0`` is true only for NaN and infinities. Any NaN fails every comparison, so a row that
    passes breaks nothing.
    """
    n = o.shape[0]
    has_v = v.shape[0] == n
    has_tb = has_v and tb.shape[0] == n
    has_qv = qv.shape[0] == n
    has_tbq = tbq.shape[0] == n
    bad = 0
    for i in range(n):
        li, hi = lo[i], h[i]
        ok = (li > 0.0) & (hi >= li) & (hi < np.inf)
        ok &= (o[i] >= li) & (o[i] <= hi) & (c[i] >= li) & (c[i] <= hi)
        bad += not ok
    if has_v:
        for i in range(n):
            bad += not ((v[i] >= 0.0) & (v[i] < np.inf))
    if has_tb:
        for i in range(n):
            bad += not ((tb[i] >= 0.0) & (tb[i] <= v[i] * (1.0 + 1e-9) + 1e-12))
    elif tb.shape[0] == n:
        return False  # taker volume without volume: let the full check decide
    if has_qv:
        for i in range(n):
            bad += qv[i] - qv[i] != 0.0
    if has_tbq:
        for i in range(n):
            bad += tbq[i] - tbq[i] != 0.0
    return bad == 0


@njit(cache=True, nogil=True)
def candle_row_checks(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    tb: np.ndarray,
    qv: np.ndarray,
    tbq: np.ndarray,
    counts: np.ndarray,
    first: np.ndarray,
) -> None:
    """OHLC consistency, positivity, finiteness and volume checks.

    ``v``/``tb`` may be empty (price-only series / no taker data); ``qv``/``tbq`` (quote volumes) may be
    empty and are only checked for finiteness.
    """
    if _candle_rows_clean(o, h, lo, c, v, tb, qv, tbq):  # the usual case: nothing to count
        return
    n = o.shape[0]
    has_v = v.shape[0] == n
    has_tb = tb.shape[0] == n
    has_qv = qv.shape[0] == n
    has_tbq = tbq.shape[0] == n
    for i in range(n):
        oi, hi, li, ci = o[i], h[i], lo[i], c[i]
        finite = np.isfinite(oi) and np.isfinite(hi) and np.isfinite(li) and np.isfinite(ci)
        if has_v and not np.isfinite(v[i]):
            finite = False
        if has_tb and not np.isfinite(tb[i]):
            finite = False
        if has_qv and not np.isfinite(qv[i]):
            finite = False
        if has_tbq and not np.isfinite(tbq[i]):
            finite = False
        if not finite:
            _hit(counts, first, NAN_INF, i)
            continue
        if oi <= 0.0 or hi <= 0.0 or li <= 0.0 or ci <= 0.0:
            _hit(counts, first, NON_POSITIVE, i)
        if hi < li:
            _hit(counts, first, HIGH_BELOW_LOW, i)
        elif oi > hi or oi < li:
            _hit(counts, first, OPEN_OUTSIDE, i)
        if hi >= li and (ci > hi or ci < li):
            _hit(counts, first, CLOSE_OUTSIDE, i)
        if has_v and v[i] < 0.0:
            _hit(counts, first, NEG_VOLUME, i)
        if has_tb:
            if tb[i] < 0.0:
                _hit(counts, first, NEG_VOLUME, i)
            # tolerance of one part in 1e9: archives round volumes to the lot step
            elif has_v and tb[i] > v[i] * (1.0 + 1e-9) + 1e-12:
                _hit(counts, first, TAKER_GT_VOLUME, i)


@njit(cache=True, nogil=True)
def order_checks(ts: np.ndarray, step_ms: int, counts: np.ndarray, first: np.ndarray) -> bool:
    """Out-of-order and misaligned timestamps. Returns True when ``ts`` is non-decreasing."""
    n = ts.shape[0]
    # the usual case, checked without a division per row: non-decreasing, and (bars) one step apart
    # from an aligned first bar, which leaves nothing to count
    irregular = 0
    if step_ms > 0:
        for i in range(1, n):
            irregular += (ts[i] - ts[i - 1] != step_ms) | (ts[i] < ts[i - 1])  # (the second: int64 wrap)
        if irregular == 0 and (n == 0 or ts[0] % step_ms == 0):
            return True
    else:
        for i in range(1, n):
            irregular += ts[i] < ts[i - 1]
        if irregular == 0:
            return True
    monotone = True
    for i in range(n):
        if step_ms > 0 and ts[i] % step_ms != 0:
            _hit(counts, first, MISALIGNED, i)
        if i > 0 and ts[i] < ts[i - 1]:
            _hit(counts, first, OUT_OF_ORDER, i)
            monotone = False
    return monotone


@njit(cache=True, nogil=True)
def spike_candidates(close: np.ndarray, min_ret: float, revert: float) -> np.ndarray:
    """Indices i where |r_i| >= ``min_ret`` and r_{i+1} gives back at least ``revert`` of it.

    Real crashes trend or bounce partially; a print that jumps and comes straight back is a bad tick.
    This is the cheap half of the spike rule: one pass, no statistics. Real series almost never have a candidate,
    so the robust z-score (two medians) is computed only when there is something to score.
    A price well inside ``prev * (exp(-min_ret), exp(min_ret))`` cannot reach ``min_ret`` and skips the division
    and the log (the margin of 1e-9 is far beyond their rounding, so the outcome is the same as taking every
    log; non-positive or NaN prices never skip).
    """
    n = close.shape[0]
    out = np.empty(n, dtype=np.int64)
    m = 0
    q_lo = np.exp(-min_ret) * (1.0 + 1e-9)
    q_hi = np.exp(min_ret) * (1.0 - 1e-9)
    for i in range(1, n - 1):
        prev = close[i - 1]
        if prev * q_lo < close[i] < prev * q_hi:
            continue
        r0 = np.log(close[i] / prev)
        if abs(r0) < min_ret:
            continue
        r1 = np.log(close[i + 1] / close[i])
        if r0 * r1 < 0.0 and abs(r0 + r1) <= (1.0 - revert) * abs(r0):
            out[m] = i
            m += 1
    return out[:m]


@njit(cache=True, nogil=True)
def robust_scale(close: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826·MAD) of one-bar log returns; the scale is floored to stay positive."""
    n = close.shape[0]
    if n < 3:
        return 0.0, 1.0
    r = np.empty(n - 1)
    for i in range(1, n):
        r[i - 1] = np.log(close[i] / close[i - 1])
    med = np.median(r)
    mad = np.median(np.abs(r - med))
    scale = 1.4826 * mad
    if scale <= 1e-12:
        scale = max(np.mean(np.abs(r - med)), 1e-12)
    return med, scale
