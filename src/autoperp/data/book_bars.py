"""L2 book snapshots (long format) sampled onto bars: what the book looked like at each bar's close.

For each bar, the last snapshot taken strictly before the bar's close time (open + bar length) gives the
best bid/ask prices and the quantity summed over the top ``depth`` levels of each side. Bars before the
first snapshot, or whose last snapshot is older than ``max_age_ms``, get NaN: a stale book is not
carried forward silently. The output feeds :mod:`autoperp.features.book` (imbalance, relative spread).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoperp.core.errors import ValidationError
from autoperp.data.schema import BOOK_REQUIRED

__all__ = ["book_at_bar_close"]


def book_at_bar_close(
    book: pd.DataFrame, bar_ts: np.ndarray, bar_ms: int, *, depth: int = 5, max_age_ms: int = 60_000
) -> dict[str, np.ndarray]:
    """Per-bar ``bid_price``, ``ask_price`` (USDT) and ``bid_qty``, ``ask_qty`` (base units, top ``depth``
    levels) from snapshots ``ts, side (+1 bid / −1 ask), level (0 = best), price, qty``."""
    missing = [c for c in BOOK_REQUIRED if c not in book.columns]
    if missing:
        raise ValidationError(f"book snapshots: missing column(s) {', '.join(missing)}")
    if depth < 1 or bar_ms <= 0:
        raise ValidationError(f"book snapshots: depth ({depth}) and bar_ms ({bar_ms}) must be positive")
    ts = book["ts"].to_numpy(np.int64)
    if ts.size and np.any(np.diff(ts) < 0):
        bad = int(np.flatnonzero(np.diff(ts) < 0)[0]) + 1
        raise ValidationError(
            f"book snapshots: row {bad + 1}: field ts goes back in time", row=bad + 1, field="ts"
        )
    side = book["side"].to_numpy(np.int64)
    level = book["level"].to_numpy(np.int64)
    price = book["price"].to_numpy(np.float64)
    qty = book["qty"].to_numpy(np.float64)
    snaps = np.unique(ts)  # ts is sorted: one group per snapshot
    group = np.searchsorted(snaps, ts)
    n_snap = snaps.size
    out_snap = {k: np.full(n_snap, np.nan) for k in ("bid_price", "ask_price")}
    best_bid = (side == 1) & (level == 0)
    best_ask = (side == -1) & (level == 0)
    out_snap["bid_price"][group[best_bid]] = price[best_bid]
    out_snap["ask_price"][group[best_ask]] = price[best_ask]
    top = level < depth
    out_snap["bid_qty"] = np.bincount(
        group[top & (side == 1)], weights=qty[top & (side == 1)], minlength=n_snap
    )
    out_snap["ask_qty"] = np.bincount(
        group[top & (side == -1)], weights=qty[top & (side == -1)], minlength=n_snap
    )
    # the last snapshot strictly before each bar's close
    close = np.asarray(bar_ts, dtype=np.int64) + int(bar_ms)
    idx = np.searchsorted(snaps, close, side="left") - 1
    has = idx >= 0
    fresh = has & (close - snaps[np.maximum(idx, 0)] <= max_age_ms)
    return {k: np.where(fresh, v[np.maximum(idx, 0)], np.nan) for k, v in out_snap.items()}
