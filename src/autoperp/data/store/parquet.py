"""The default store: Parquet files partitioned by series and month, queried through DuckDB."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from autoperp.core.errors import StoreError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.timeframes import can_resample, is_timeframe, timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.store import layout
from autoperp.data.store.base import MarketStore, SeriesInfo, SeriesKey
from autoperp.data.store.merge import merge_key
from autoperp.data.store.resample import resample_sql
from autoperp.data.store.write_batch import ParquetWriteBatch

#: Parquet codecs the store writes. "none" imports fastest (about 2x the disk of lz4); zstd is smallest.
PARQUET_COMPRESSIONS = ("none", "lz4", "snappy", "zstd")
_FAR_PAST = -(2**62)
_FAR_FUTURE = 2**62


class ParquetStore(MarketStore):
    """Market data under ``root`` (normally ``user_data/data``).

    One DuckDB in-memory connection per store reads the Parquet files; writes go through pyarrow to
    temporary files that replace the originals only once every file of the call has been staged.
    """

    def __init__(self, root: Path | str, compression: str = "none") -> None:
        if compression not in PARQUET_COMPRESSIONS:
            raise UsageError(
                f"unknown Parquet compression '{compression}': use one of {', '.join(PARQUET_COMPRESSIONS)}"
            )
        self.root = Path(root)
        self.compression = compression
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
        # an open end prunes nothing on that side (and month ids of far-off sentinels do not exist)
        m_lo = (
            None
            if timerange.start_ms is None
            else int(layout.month_ids(np.array([max(timerange.start_ms, 0)]))[0])
        )
        m_hi = None if timerange.end_ms is None else int(layout.month_ids(np.array([timerange.end_ms]))[0])
        return [
            f
            for f in files
            if (m_lo is None or layout.month_of_file(f) >= m_lo)
            and (m_hi is None or layout.month_of_file(f) <= m_hi)
        ]

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
        order = ", ".join(merge_key(key.kind, self._columns(files[0])) or ["ts"])
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
    def begin_write(self) -> ParquetWriteBatch:
        return ParquetWriteBatch(self.root, self.compression, self._columns)

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
