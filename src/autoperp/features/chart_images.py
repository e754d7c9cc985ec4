"""OHLC bar-chart images after Jiang, Kelly & Xiu ("(Re-)Imag(in)ing Price Trends", 2023).

Each image shows ``window`` bars (20 by default) as a ``64 × 3·window`` black canvas with white pixels:

* columns ``3j, 3j+1, 3j+2`` belong to bar ``j`` of the window (oldest left): the open is a one-pixel
  tick in the left column, the high–low range a vertical line in the middle column, the close a tick in
  the right column;
* rows ``0 .. PRICE_ROWS-1`` (the top ~4/5) are the price area, scaled so the window's highest high is
  row 0 and its lowest low is row ``PRICE_ROWS-1``; a flat window (max high = min low) sits on the
  middle row;
* the moving average of closes is a line through the middle columns of consecutive bars, drawn only
  where it lies inside the price range (scaling to the OHLC range alone keeps the bars' geometry the same
  with or without the MA; an MA point outside it is dropped, not clipped to the border);
* one black gap row, then ``VOLUME_ROWS`` rows (the bottom ~1/5): each bar's volume as a bar in its middle
  column, rising from the bottom row, ``round(volume / max volume in window · VOLUME_ROWS)`` pixels high.

Pixel row of a price ``p``: ``PRICE_ROWS-1 - floor((p - lo) / (hi - lo) · (PRICE_ROWS-1) + 0.5)``.

Causality: the image ending at bar ``t`` draws OHLCV of bars ``t-window+1 .. t``; its MA at bar ``i``
averages the closes of bars ``i-ma_window+1 .. i`` taken from the whole input arrays, so bars before the
window are used when the caller passes them, and the first bars of the arrays average the closes that
exist (``max(0, i-ma_window+1) .. i``). Nothing after ``t`` is ever read. A window holding a non-finite
open/high/low/close/volume, or a non-finite MA point, gives an all-black image (the caller can detect it
with ``img.max() == 0``; a real window always has white pixels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from autoperp.core.errors import DataError

#: Image height in pixels (Jiang–Kelly–Xiu 20-bar images).
HEIGHT = 64
#: Rows of the price area (top ~4/5 of the height).
PRICE_ROWS = 51
#: Rows of the volume strip (bottom ~1/5), below a one-row gap.
VOLUME_ROWS = HEIGHT - PRICE_ROWS - 1
#: Pixel value of a drawn pixel (background is 0).
WHITE = 255


@njit(cache=False, nogil=True)
def _price_row(p: float, lo: float, scale: float) -> int:  # pragma: no cover - numba
    if scale == 0.0:
        return (PRICE_ROWS - 1) // 2
    return PRICE_ROWS - 1 - int(np.floor((p - lo) * scale + 0.5))


@njit(cache=False, nogil=True)
def _draw(
    o: np.ndarray,
    h: np.ndarray,
    lo_: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    ma: np.ndarray,
    ends: np.ndarray,
    window: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    for k in range(ends.shape[0]):
        t = ends[k]
        s = t - window + 1
        ok = True
        lo = np.inf
        hi = -np.inf
        vmax = 0.0
        for i in range(s, t + 1):
            if not (
                np.isfinite(o[i])
                and np.isfinite(h[i])
                and np.isfinite(lo_[i])
                and np.isfinite(c[i])
                and np.isfinite(v[i])
                and np.isfinite(ma[i])
            ):
                ok = False
                break
            lo = min(lo, lo_[i])
            hi = max(hi, h[i])
            vmax = max(vmax, v[i])
        if not ok:
            continue
        scale = (PRICE_ROWS - 1) / (hi - lo) if hi > lo else 0.0
        img = out[k]
        prev_row = -1.0
        for j in range(window):
            i = s + j
            x = 3 * j
            img[_price_row(o[i], lo, scale), x] = WHITE
            r_top = _price_row(h[i], lo, scale)
            r_bot = _price_row(lo_[i], lo, scale)
            for r in range(min(r_top, r_bot), max(r_top, r_bot) + 1):
                img[r, x + 1] = WHITE
            img[_price_row(c[i], lo, scale), x + 2] = WHITE
            # the MA row as a float (not yet rounded) so the connecting line interpolates smoothly
            if scale == 0.0:
                ma_row = float((PRICE_ROWS - 1) // 2) if ma[i] == lo else np.nan
            else:
                ma_row = (PRICE_ROWS - 1) - (ma[i] - lo) * scale
            if j > 0:
                for step in range(1, 4):
                    rr = prev_row + (ma_row - prev_row) * step / 3.0
                    if np.isfinite(rr):
                        ri = int(np.floor(rr + 0.5))
                        if 0 <= ri < PRICE_ROWS:
                            img[ri, x - 3 + 1 + step] = WHITE
            elif np.isfinite(ma_row):
                ri = int(np.floor(ma_row + 0.5))
                if 0 <= ri < PRICE_ROWS:
                    img[ri, x + 1] = WHITE
            prev_row = ma_row
            if vmax > 0.0:
                vh = int(np.floor(v[i] / vmax * VOLUME_ROWS + 0.5))
                for r in range(HEIGHT - vh, HEIGHT):
                    img[r, x + 1] = WHITE


def moving_average(close: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean of ``close`` over ``window`` bars, over the bars available at the start (causal)."""
    x = np.asarray(close, dtype=np.float64)
    bad = ~np.isfinite(x)
    # a non-finite close poisons only the windows that hold it, not every later prefix sum
    csum = np.concatenate(([0.0], np.cumsum(np.where(bad, 0.0, x))))
    cbad = np.concatenate(([0], np.cumsum(bad)))
    idx = np.arange(x.shape[0])
    start = np.maximum(0, idx - window + 1)
    ma = (csum[idx + 1] - csum[start]) / (idx + 1 - start)
    ma[cbad[idx + 1] - cbad[start] > 0] = np.nan
    return ma


def chart_images(
    open: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    ends: np.ndarray,
    window: int = 20,
    ma_window: int | None = None,
) -> np.ndarray:
    """Jiang–Kelly–Xiu images of the ``window`` bars ending at each index in ``ends``.

    Prices in any unit (quote currency), volume in base units; ``ends`` are 0-based bar indices, each
    at least ``window - 1``. ``ma_window`` (bars) defaults to ``window``. Returns ``(len(ends), 64,
    3·window)`` uint8, 0 = black, 255 = white. See the module docstring for the exact layout.
    """
    if window < 1:
        raise DataError(f"window must be >= 1 bar, got {window}", field="window")
    ma_w = window if ma_window is None else int(ma_window)
    if ma_w < 1:
        raise DataError(f"ma_window must be >= 1 bar, got {ma_w}", field="ma_window")
    arrays = []
    n = np.asarray(close).shape[0]
    for name, a in (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume)):
        arr = np.ascontiguousarray(a, dtype=np.float64)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise DataError(f"must be 1-D with {n} bars like close, got shape {arr.shape}", field=name)
        arrays.append(arr)
    e = np.ascontiguousarray(ends, dtype=np.int64).reshape(-1)
    if e.size and (e.min() < window - 1 or e.max() >= n):
        raise DataError(
            f"bar indices must lie in [{window - 1}, {n - 1}] (a full window of {window} bars), "
            f"got {e.min()}..{e.max()}",
            field="ends",
        )
    o, h, lo, c, v = arrays
    out = np.zeros((e.shape[0], HEIGHT, 3 * window), dtype=np.uint8)
    _draw(o, h, lo, c, v, moving_average(c, ma_w), e, int(window), out)
    return out
