"""The default store: Parquet files partitioned by series and month, queried through DuckDB."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from autoperp.core.errors import StoreError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange, format_ms
from autoperp.core.timeframes import can_resample, is_timeframe, timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS
from autoperp.data.store import layout
from autoperp.data.store.base import MarketStore, SeriesInfo, SeriesKey
from autoperp.data.store.resample import resample_sql

_FAR_PAST = -(2**62)
_FAR_FUTURE = 2**62


def _merge_key(kind: DataKind, columns: Sequence[str]) -> list[str] | None:
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


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    return bool(((a == b) | (a.isna() & b.isna())).all().all())


class ParquetStore(MarketStore):
    """Market data under ``root`` (normally ``user_data/data``).

    One DuckDB in-memory connection per store reads the Parquet files; writes go through pyarrow to
    temporary files that replace the originals only once every file of the call has been staged.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- reading
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = duckdb.connect(":memory:")
        return self._con

    def _files(self, key: SeriesKey, timerange: TimeRange | None) -> list[Path]:
        d = layout.series_dir(self.root, key)
        files = sorted(d.glob("*.parquet"))
        if timerange is None:
            return files
        lo = timerange.start_ms if timerange.start_ms is not None else _FAR_PAST
        hi = timerange.end_ms if timerange.end_ms is not None else _FAR_FUTURE
        m_lo = int(layout.month_ids(np.array([max(lo, 0)]))[0])
        m_hi = int(layout.month_ids(np.array([min(hi, 2**53)]))[0])
        return [f for f in files if m_lo <= layout.month_of_file(f) <= m_hi]

    def exists(self, key: SeriesKey) -> bool:
        return any(layout.series_dir(self.root, key).glob("*.parquet"))

    def _query(self, sql: str, files: list[Path], timerange: TimeRange | None) -> pd.DataFrame:
        tr = timerange or TimeRange()
        params = {
            "start": tr.start_ms if tr.start_ms is not None else _FAR_PAST,
            "end": tr.end_ms if tr.end_ms is not None else _FAR_FUTURE,
        }
        params = {k: v for k, v in params.items() if f"${k}" in sql}
        with self._lock:
            src = self.con.read_parquet([str(f) for f in files])
            self.con.register("src", src)
            try:
                return self.con.execute(sql, params).df()
            finally:
                self.con.unregister("src")

    def read(self, key: SeriesKey, timerange: TimeRange | None = None) -> pd.DataFrame:
        files = self._files(key, timerange)
        if not files:
            raise StoreError(
                f"no stored data for {key.symbol} {key.kind.value} {key.timeframe} on {key.exchange}"
                f"{'' if timerange is None else ' in ' + str(timerange)}: run `autoperp list-data` to see what"
                " is stored, `autoperp import-data` or `autoperp download-data` to add it"
            )
        order = ", ".join(_merge_key(key.kind, self._columns(files[0])) or ["ts"])
        df = self._query(
            f"SELECT * FROM src WHERE ts >= $start AND ts < $end ORDER BY {order}", files, timerange
        )
        return self._restore_dtypes(df)

    @staticmethod
    def _restore_dtypes(df: pd.DataFrame) -> pd.DataFrame:
        for c in ("source", "title", "description", "url", "author"):
            if c in df.columns:
                df[c] = df[c].astype("string")
        return df

    @staticmethod
    def _columns(path: Path) -> tuple[str, ...]:
        return tuple(pq.read_schema(path).names)

    def stored_timeframes(self, exchange: str, symbol: Symbol, kind: DataKind) -> list[str]:
        base = layout.series_dir(self.root, SeriesKey(exchange, symbol, kind, "x")).parent
        tfs = [p.name.split("=", 1)[1] for p in base.glob("timeframe=*") if any(p.glob("*.parquet"))]
        return sorted((t for t in tfs if is_timeframe(t)), key=timeframe_ms)

    def read_candles(
        self,
        exchange: str,
        symbol: Symbol,
        timeframe: str,
        timerange: TimeRange | None = None,
        kind: DataKind = DataKind.FUTURES,
    ) -> pd.DataFrame:
        timeframe_ms(timeframe)  # validates the name
        key = SeriesKey(exchange, symbol, kind, timeframe)
        if self.exists(key):
            return self.read(key, timerange)
        sources = [t for t in self.stored_timeframes(exchange, symbol, kind) if can_resample(t, timeframe)]
        if not sources:
            stored = self.stored_timeframes(exchange, symbol, kind)
            raise StoreError(
                f"no {kind.value} candles of {symbol} at {timeframe} on {exchange}, and none finer to resample"
                f" from (stored: {', '.join(stored) or 'none'})"
            )
        src_key = SeriesKey(exchange, symbol, kind, sources[0])
        files = self._files(src_key, timerange)
        if not files:
            raise StoreError(f"no {sources[0]} data of {symbol} in {timerange} to resample to {timeframe}")
        sql = resample_sql(self._columns(files[0]), sources[0], timeframe)
        return self._query(sql, files, timerange)

    def read_resampled(
        self, key: SeriesKey, timeframe: str, timerange: TimeRange | None = None
    ) -> pd.DataFrame:
        """Resample the stored series ``key`` to ``timeframe`` even when ``timeframe`` is also stored."""
        if not can_resample(key.timeframe, timeframe):
            raise UsageError(f"cannot resample {key.timeframe} bars to {timeframe}")
        files = self._files(key, timerange)
        if not files:
            raise StoreError(f"no stored data for {key} to resample")
        return self._query(resample_sql(self._columns(files[0]), key.timeframe, timeframe), files, timerange)

    # ---------------------------------------------------------------- listing
    def list_series(self) -> list[SeriesInfo]:
        out = []
        for d in layout.series_dirs(self.root):
            files = sorted(d.glob("*.parquet"))
            if not files:
                continue
            key = layout.key_from_dir(self.root, d)
            rows, lo, hi, size = 0, None, None, 0
            for f in files:
                md = pq.read_metadata(f)
                rows += md.num_rows
                size += f.stat().st_size
                for g in range(md.num_row_groups):
                    st = md.row_group(g).column(0).statistics
                    if st is not None and st.has_min_max:
                        lo = st.min if lo is None else min(lo, st.min)
                        hi = st.max if hi is None else max(hi, st.max)
            out.append(SeriesInfo(key, rows, lo, hi, self._holes(key, files), self._columns(files[0]), size))
        return out

    def _holes(self, key: SeriesKey, files: list[Path]) -> int:
        """Missing stretches in a bar series (within a file or between imported months)."""
        if not is_timeframe(key.timeframe):
            return 0
        step = timeframe_ms(key.timeframe)
        sql = f"SELECT count(*) AS n FROM (SELECT ts - lag(ts) OVER (ORDER BY ts) AS d FROM src) WHERE d > {step}"
        return int(self._query(sql, files, None)["n"].iat[0])

    # ---------------------------------------------------------------- writing
    def write(self, items: Sequence[tuple[SeriesKey, pd.DataFrame]]) -> dict[SeriesKey, int]:
        grouped: dict[SeriesKey, list[pd.DataFrame]] = {}
        for key, df in items:
            if len(df):
                grouped.setdefault(key, []).append(df)
        staged: list[tuple[Path, Path]] = []
        added: dict[SeriesKey, int] = {}
        try:
            with self._lock:
                for key, dfs in grouped.items():
                    cols = {tuple(df.columns) for df in dfs}
                    if len(cols) > 1:
                        raise StoreError(
                            f"{key.symbol} {key.kind.value} {key.timeframe}: sources in one import"
                            " have different columns; import them separately"
                        )
                    df = dfs[0] if len(dfs) == 1 else pd.concat(dfs, ignore_index=True)
                    files, added[key] = self._stage(key, df)
                    staged += files
                for tmp, final in staged:
                    os.replace(tmp, final)
                staged = []
        finally:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
        return added

    def _stage(self, key: SeriesKey, df: pd.DataFrame) -> tuple[list[tuple[Path, Path]], int]:
        if key.kind.is_candles and not is_timeframe(key.timeframe):
            raise StoreError(f"candles need a timeframe, got '{key.timeframe}'")
        if not key.kind.is_candles and key.timeframe != EVENTS:
            raise StoreError(
                f"{key.kind.value} series are stored with timeframe '{EVENTS}', got '{key.timeframe}'"
            )
        d = layout.series_dir(self.root, key)
        d.mkdir(parents=True, exist_ok=True)
        existing_files = sorted(d.glob("*.parquet"))
        if existing_files:
            cols = self._columns(existing_files[0])
            if tuple(df.columns) != cols:
                raise StoreError(
                    f"{key.symbol} {key.kind.value} {key.timeframe}: stored columns ({', '.join(cols)}) differ from"
                    f" the new data's ({', '.join(df.columns)}); nothing was written. Import this source into"
                    " another user_data directory, or remove the stored series first"
                )
        mkey = _merge_key(key.kind, list(df.columns))
        months = layout.month_ids(df["ts"].to_numpy())
        staged = []
        added = 0
        for m in np.unique(months):
            part = df.loc[months == m]
            final = layout.month_file(d, int(m))
            old = pd.read_parquet(final) if final.exists() else part.iloc[:0]
            merged = self._merge(key, old, part, mkey)
            if merged is None:
                continue
            added += len(merged) - len(old)
            tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
            table = pa.Table.from_pandas(merged.reset_index(drop=True), preserve_index=False)
            pq.write_table(table, tmp, compression="zstd", row_group_size=256_000)
            staged.append((tmp, final))
        return staged, added

    @staticmethod
    def _merge(
        key: SeriesKey, old: pd.DataFrame, new: pd.DataFrame, mkey: list[str] | None
    ) -> pd.DataFrame | None:
        """Union of stored and new rows; None when the new rows are all stored already."""
        if mkey is None:
            lo, hi = int(new["ts"].min()), int(new["ts"].max())
            window = old[(old["ts"] >= lo) & (old["ts"] <= hi)]
            if len(window) == 0:
                return pd.concat([old, new], ignore_index=True).sort_values("ts", kind="stable")
            if _frames_equal(window, new):
                return None
            raise StoreError(
                f"{key.symbol} {key.kind.value}: stored rows between {format_ms(lo)} and {format_ms(hi)} differ"
                " from the new data (no row ids to merge by); nothing was written"
            )
        both = pd.concat([old, new], ignore_index=True) if len(old) else new
        both = both.drop_duplicates(keep="first")
        if len(old) and len(both) == len(old):
            return None
        clash = both.duplicated(subset=mkey, keep=False)
        if clash.any():
            row = both.loc[clash].iloc[0]
            at = format_ms(int(row["ts"]))
            raise StoreError(
                f"{key.symbol} {key.kind.value} {key.timeframe}: two different rows for {at} (stored data or"
                " another file of this import); nothing was written, stored data is never overwritten silently"
            )
        if both["ts"].is_monotonic_increasing and mkey == ["ts"]:
            return both
        return both.sort_values(mkey, kind="stable")

    # ---------------------------------------------------------------- metadata
    @staticmethod
    def _meta(d: Path) -> dict:
        p = d / layout.META_FILE
        return json.loads(p.read_text()) if p.exists() else {}

    def record_gaps(self, key: SeriesKey, gaps: Sequence[tuple[int, int]]) -> None:
        d = layout.series_dir(self.root, key)
        meta = self._meta(d)
        merged = sorted({tuple(g) for g in meta.get("gaps", [])} | {tuple(g) for g in gaps})
        meta["gaps"] = [list(g) for g in merged]
        tmp = d / f".{layout.META_FILE}.tmp"
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, d / layout.META_FILE)

    def gaps(self, key: SeriesKey) -> list[tuple[int, int]]:
        return [tuple(g) for g in self._meta(layout.series_dir(self.root, key)).get("gaps", [])]

    def append_repair_log(self, key: SeriesKey, line: str) -> str:
        """Append one JSON line to the series' repair log (beside the data); returns the log's path."""
        p = layout.series_dir(self.root, key) / layout.REPAIR_LOG
        with p.open("a", encoding="utf-8") as f:
            f.write(line.rstrip("\n") + "\n")
        return str(p)
