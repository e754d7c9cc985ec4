"""Merging new rows into stored rows of one partition without ever overwriting a stored value.

Identical rows are no-ops; two different rows for one key are a conflict. Bar and funding series are keyed
by ``ts`` and take a numpy fast path (the import hot path); other kinds go through pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoperp.core.errors import StoreError
from autoperp.core.time import format_ms
from autoperp.core.types import DataKind
from autoperp.data.store.base import SeriesKey


def merge_key(kind: DataKind, columns: list[str] | tuple[str, ...]) -> list[str] | None:
    """Columns that identify a row of ``kind``; None = no natural key (quotes, trades without ids)."""
    if kind.is_candles or kind is DataKind.FUNDING:
        return ["ts"]
    if kind is DataKind.BOOK:
        return ["ts", "side", "level"]
    if kind is DataKind.TRADES and "id" in columns:
        return ["id"]
    if kind is DataKind.NEWS:
        return [c for c in ("ts", "title", "url") if c in columns]
    return None


def _rows_equal(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Row-wise equality of two aligned frames (NaN equals NaN)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    return ((a == b) | (a.isna() & b.isna())).all(axis=1).to_numpy()


def _conflict(key: SeriesKey, ts: int) -> StoreError:
    return StoreError(
        f"{key.symbol} {key.kind.value} {key.timeframe}: two different rows for {format_ms(ts)} (stored data or"
        " another file of this import); nothing was written, stored data is never overwritten silently"
    )


def _dedupe_sorted_ts(key: SeriesKey, df: pd.DataFrame) -> pd.DataFrame:
    """Sort a ts-keyed frame and drop exact repeats; raise on same-ts rows that differ."""
    ts = df["ts"].to_numpy()
    if not (ts[1:] > ts[:-1]).all():
        df = df.iloc[np.argsort(ts, kind="stable")].reset_index(drop=True)
        ts = df["ts"].to_numpy()
        same = np.flatnonzero(ts[1:] == ts[:-1])
        if same.size:
            equal = _rows_equal(df.iloc[same], df.iloc[same + 1])
            if not equal.all():
                raise _conflict(key, int(ts[same[~equal][0]]))
            df = df.drop(index=same + 1).reset_index(drop=True)
    return df


def _merge_ts(key: SeriesKey, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame | None:
    new = _dedupe_sorted_ts(key, new)
    if len(old) == 0:
        return new
    old_ts, new_ts = old["ts"].to_numpy(), new["ts"].to_numpy()
    common, i_old, i_new = np.intersect1d(old_ts, new_ts, assume_unique=True, return_indices=True)
    if common.size:
        equal = _rows_equal(old.iloc[i_old], new.iloc[i_new])
        if not equal.all():
            raise _conflict(key, int(common[~equal][0]))
        keep = np.ones(len(new), dtype=bool)
        keep[i_new] = False
        new = new.loc[keep]
        if len(new) == 0:
            return None
    if new_ts[0] > old_ts[-1]:
        return pd.concat([old, new], ignore_index=True)
    both = pd.concat([old, new], ignore_index=True)
    return both.iloc[np.argsort(both["ts"].to_numpy(), kind="stable")].reset_index(drop=True)


def _merge_keyed(
    key: SeriesKey, old: pd.DataFrame, new: pd.DataFrame, mkey: list[str]
) -> pd.DataFrame | None:
    both = pd.concat([old, new], ignore_index=True) if len(old) else new
    both = both.drop_duplicates(keep="first")
    if len(old) and len(both) == len(old):
        return None
    clash = both.duplicated(subset=mkey, keep=False)
    if clash.any():
        raise _conflict(key, int(both.loc[clash, "ts"].iloc[0]))
    return both.sort_values(mkey, kind="stable").reset_index(drop=True)


def _merge_window(key: SeriesKey, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame | None:
    """Series without a row key: new rows must not overlap stored ones in time, unless identical."""
    lo, hi = int(new["ts"].min()), int(new["ts"].max())
    window = old[(old["ts"] >= lo) & (old["ts"] <= hi)]
    if len(window) == 0:
        return (
            pd.concat([old, new], ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
        )
    if len(window) == len(new) and _rows_equal(window, new).all():
        return None
    raise StoreError(
        f"{key.symbol} {key.kind.value}: stored rows between {format_ms(lo)} and {format_ms(hi)} differ"
        " from the new data (no row ids to merge by); nothing was written"
    )


def merge_rows(key: SeriesKey, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame | None:
    """Stored rows ``old`` plus ``new``, sorted by key; None when ``new`` adds nothing."""
    mkey = merge_key(key.kind, list(new.columns))
    if mkey == ["ts"]:
        return _merge_ts(key, old, new)
    if mkey is None:
        return _merge_window(key, old, new)
    return _merge_keyed(key, old, new, mkey)
