"""The default store: Parquet files partitioned by series and month, queried through DuckDB."""

from __future__ import annotations

import itertools
import json
import os
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from autoperp.core.errors import StoreError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.timeframes import can_resample, is_timeframe, timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS
from autoperp.data.store import layout
from autoperp.data.store.base import MarketStore, SeriesInfo, SeriesKey
from autoperp.data.store.merge import merge_key, merge_rows
from autoperp.data.store.resample import resample_sql

#: Parquet codecs the store writes. "none" imports fastest (about 2x the disk of lz4); zstd is smallest.
PARQUET_COMPRESSIONS = ("none", "lz4", "snappy", "zstd")
_FAR_PAST = -(2**62)
_FAR_FUTURE = 2**62


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    """Zero-copy for numeric columns. ``Table.from_pandas`` scans every float column to turn NaN into null,
    which costs a sixth of an import; NaN stays NaN here (validation has already refused NaN prices)."""
    arrays = []
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            arrays.append(pa.array(np.ascontiguousarray(col.to_numpy())))
        else:
            arrays.append(pa.array(col, from_pandas=True, type=pa.string()))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns])


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
    def write(self, items: Sequence[tuple[SeriesKey, pd.DataFrame]]) -> dict[SeriesKey, int]:
        grouped: dict[SeriesKey, list[pd.DataFrame]] = {}
        for key, df in items:
            if len(df):
                grouped.setdefault(key, []).append(df)
        staged: list[tuple[Path, Path]] = []
        try:
            with self._lock:
                parts: list[tuple[SeriesKey, Path, pd.DataFrame]] = []
                for key, dfs in grouped.items():
                    parts += self._month_parts(key, dfs)
                # merging and Parquet encoding release the GIL for the most part: use every core
                with ThreadPoolExecutor(max_workers=min(len(parts), os.cpu_count() or 1) or 1) as pool:
                    # biggest parts first: no large encode is left running alone at the end
                    order = sorted(range(len(parts)), key=lambda i: -len(parts[i][2]))
                    by_index = {i: pool.submit(self._stage_part, *parts[i]) for i in order}
                    futures = [by_index[i] for i in range(len(parts))]
                    wait(futures)
                added: dict[SeriesKey, int] = dict.fromkeys(grouped, 0)
                failure: BaseException | None = None
                for (key, _final, _df), fut in zip(parts, futures, strict=True):
                    if (err := fut.exception()) is not None:
                        failure = failure or err
                    elif (res := fut.result()) is not None:
                        staged.append(res[0])
                        added[key] += res[1]
                if failure is not None:
                    for tmp, _ in staged:
                        tmp.unlink(missing_ok=True)
                    staged = []
                    self._prune_empty_dirs([layout.series_dir(self.root, k) for k in grouped])
                    raise failure
                for tmp, final in staged:
                    os.replace(tmp, final)
                staged = []
        finally:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
        return added

    def _prune_empty_dirs(self, dirs: list[Path]) -> None:
        """Remove series directories (and empty parents below the root) that a refused write created."""
        for d in dirs:
            while d != self.root and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
                d = d.parent

    def _month_parts(
        self, key: SeriesKey, dfs: list[pd.DataFrame]
    ) -> list[tuple[SeriesKey, Path, pd.DataFrame]]:
        """Check a series' frames against what is stored and split them by month file."""
        if key.kind.is_candles and not is_timeframe(key.timeframe):
            raise StoreError(f"candles need a timeframe, got '{key.timeframe}'")
        if not key.kind.is_candles and key.timeframe != EVENTS:
            raise StoreError(
                f"{key.kind.value} series are stored with timeframe '{EVENTS}', got '{key.timeframe}'"
            )
        cols = {tuple(df.columns) for df in dfs}
        if len(cols) > 1:
            raise StoreError(
                f"{key.symbol} {key.kind.value} {key.timeframe}: sources in one import have different columns;"
                " import them separately"
            )
        d = layout.series_dir(self.root, key)
        existing = sorted(d.glob("*.parquet"))
        if existing and (stored := self._columns(existing[0])) != next(iter(cols)):
            raise StoreError(
                f"{key.symbol} {key.kind.value} {key.timeframe}: stored columns ({', '.join(stored)}) differ from"
                f" the new data's ({', '.join(next(iter(cols)))}); nothing was written. Import this source into"
                " another user_data directory, or remove the stored series first"
            )
        parts = []
        for df in dfs:
            months = layout.month_ids(df["ts"].to_numpy())
            bounds = np.flatnonzero(months[1:] != months[:-1]) + 1
            if bounds.size == 0 or (np.diff(months) >= 0).all():  # the usual case: rows in time order
                edges = [0, *bounds.tolist(), len(df)]
                parts += [
                    (key, layout.month_file(d, int(months[a])), df.iloc[a:b])
                    for a, b in itertools.pairwise(edges)
                ]
            else:
                parts += [(key, layout.month_file(d, int(m)), df.loc[months == m]) for m in np.unique(months)]
        # several frames may touch one month: merge them in one task so no write is lost
        by_file: dict[Path, list[pd.DataFrame]] = {}
        for _k, f, part in parts:
            by_file.setdefault(f, []).append(part)
        return [
            (key, f, ps[0] if len(ps) == 1 else pd.concat(ps, ignore_index=True)) for f, ps in by_file.items()
        ]

    def _stage_part(
        self, key: SeriesKey, final: Path, part: pd.DataFrame
    ) -> tuple[tuple[Path, Path], int] | None:
        """Merge one month's rows with the stored file into a temporary file; None if nothing is new."""
        old = pd.read_parquet(final) if final.exists() else part.iloc[:0]
        merged = merge_rows(key, old, part)
        if merged is None:
            return None
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        final.parent.mkdir(parents=True, exist_ok=True)
        table = _to_arrow(merged)
        # A large write buffer: pyarrow's default stream issues many small writes (2x slower here).
        # No dictionaries (prices rarely repeat enough to pay), statistics on ts only: all that list-data and
        # DuckDB's range pruning read.
        with pa.output_stream(str(tmp), buffer_size=16 << 20) as out:
            pq.write_table(
                table,
                out,
                compression=self.compression,
                use_dictionary=False,
                write_statistics=["ts"],
                row_group_size=256_000,
                data_page_size=8 << 20,
                # bar open times advance by a constant step: delta encoding stores them in ~nothing
                column_encoding={"ts": "DELTA_BINARY_PACKED"},
            )
        return (tmp, final), len(merged) - len(old)

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
