"""A two-phase write into the Parquet store: frames are staged as temporary files while an import is still
reading and validating other files, and become visible only on :meth:`ParquetWriteBatch.commit`.

``abort`` (or any failure) removes every temporary file and directory the batch made, so a refused import
leaves the store byte-for-byte as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from autoperp.core.errors import StoreError
from autoperp.core.timeframes import is_timeframe
from autoperp.data.schema import EVENTS
from autoperp.data.store import layout, parquet_plain
from autoperp.data.store.base import SeriesKey, WriteBatch
from autoperp.data.store.merge import merge_key, merge_rows


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    """Zero-copy for numeric columns. ``Table.from_pandas`` scans every float column to turn NaN into null,
    which costs a sixth of an import; NaN stays NaN here (validation has already refused NaN prices)."""
    arrays = []
    for _, col in df.items():
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            arrays.append(pa.array(np.ascontiguousarray(col.to_numpy())))
        else:
            arrays.append(pa.array(col, from_pandas=True, type=pa.string()))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns])


def write_table(table: pa.Table, path: Path, compression: str) -> None:
    """Encode ``table`` to ``path`` the way the store reads fastest."""
    if compression == "none" and parquet_plain.supports(table):
        parquet_plain.write_table(table, path)  # the same bytes as below, written from the numpy buffers
        return
    # A large write buffer: pyarrow's default stream issues many small writes (2x slower here).
    # No dictionaries (prices rarely repeat enough to pay); statistics on ts only: all that list-data and
    # DuckDB's range pruning read.
    with pa.output_stream(str(path), buffer_size=16 << 20) as out:
        pq.write_table(
            table,
            out,
            compression=compression,
            use_dictionary=False,
            write_statistics=["ts"],
            row_group_size=parquet_plain.ROW_GROUP_SIZE,
            max_rows_per_page=parquet_plain.ROWS_PER_PAGE,
            data_page_size=8 << 20,
            write_batch_size=64 << 10,  # values handed to the encoder at once (default 1024): 10% faster
            # bar open times advance by a constant step: delta encoding stores them in ~nothing
            column_encoding={"ts": "DELTA_BINARY_PACKED"},
        )


def write_parquet(df: pd.DataFrame, path: Path, compression: str) -> None:
    """Encode ``df`` to ``path`` (see :func:`write_table`)."""
    write_table(_to_arrow(df), path, compression)


@dataclass(frozen=True)
class _Part:
    """New rows of one month: the frame (for merges) and the same rows as an Arrow table (zero-copy), which
    a month that is new to the store and gets a single frame writes as it is."""

    frame: pd.DataFrame
    table: pa.Table


def _write_new(key: SeriesKey, table: pa.Table) -> bool:
    """True when ``table`` can be stored as it is in a month file of its own: its series is keyed by ts
    alone and its ts strictly increase (so there is nothing to sort, deduplicate or check for conflicts)."""
    if merge_key(key.kind, table.column_names) != ["ts"]:
        return False
    ts = table.column("ts")
    if ts.null_count or not pa.types.is_integer(ts.type):
        return False
    values = np.asarray(ts.chunk(0)) if ts.num_chunks == 1 else ts.to_numpy()
    return bool((values[1:] > values[:-1]).all())


@dataclass
class _Month:
    """New rows for one month file of one series, and what has been staged for them so far."""

    key: SeriesKey
    parts: list[_Part] = field(default_factory=list)
    staged_parts: int = 0  # how many of ``parts`` the staged file holds
    tmp: Path | None = None
    added: int = 0


class ParquetWriteBatch(WriteBatch):
    """Holds an exclusive lock on the store (``<root>/.write.lock``) from creation to commit/abort, so
    two processes importing at once cannot interleave their merges. Readers never wait: a month file is
    replaced atomically."""

    def __init__(self, root: Path, compression: str, read_columns: Callable[[Path], tuple[str, ...]]) -> None:
        self.root = root
        # the directories this batch creates, outermost first, so a refused first import leaves no trace
        self._created = [p for p in (*reversed(root.parents), root) if not p.exists()]
        root.mkdir(parents=True, exist_ok=True)
        self._lock_path = root / ".write.lock"
        self._created_lock = not self._lock_path.exists()
        self._lock_file = self._lock_path.open("a+b")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreError(
                f"{root}: another autoperp process is writing to this store; wait for it to finish"
            ) from None
        self.compression = compression
        self._read_columns = read_columns
        self._lock = threading.Lock()
        self._months: dict[Path, _Month] = {}
        self._columns: dict[SeriesKey, tuple[str, ...]] = {}
        self._fresh: set[SeriesKey] = set()  # series with no stored file when this batch first saw them
        self._made_dirs: set[Path] = set()
        self._closed = False

    # ------------------------------------------------------------------ adding
    def add(self, key: SeriesKey, df: pd.DataFrame) -> None:
        if len(df) == 0:
            return
        cols = tuple(str(c) for c in df.columns)
        with self._lock:
            self._check_open()
            self._check_key(key, cols)
        parts = self._split_months(key, df, _to_arrow(df))  # outside the lock: other callers proceed
        first_claims = []
        with self._lock:
            self._check_open()
            for final, part in parts:
                month = self._months.setdefault(final, _Month(key))
                month.parts.append(part)
                if len(month.parts) == 1:
                    first_claims.append(final)
        for final in first_claims:  # stage now, outside the lock: encoding runs in parallel across callers
            self._stage(final)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("this write batch was already committed or aborted")

    def _check_key(self, key: SeriesKey, cols: tuple[str, ...]) -> None:
        if key.kind.is_candles and not is_timeframe(key.timeframe):
            raise StoreError(f"candles need a timeframe, got '{key.timeframe}'")
        if not key.kind.is_candles and key.timeframe != EVENTS:
            raise StoreError(
                f"{key.kind.value} series are stored with timeframe '{EVENTS}', got '{key.timeframe}'"
            )
        known = self._columns.get(key)
        if known is None:
            existing = sorted(layout.series_dir(self.root, key).glob("*.parquet"))
            if not existing:
                self._fresh.add(key)
            if existing and (stored := self._read_columns(existing[0])) != cols:
                raise StoreError(
                    f"{key.symbol} {key.kind.value} {key.timeframe}: stored columns ({', '.join(stored)}) differ"
                    f" from the new data's ({', '.join(cols)}); nothing was written. Import this source into"
                    " another user_data directory, or remove the stored series first"
                )
            self._columns[key] = cols
        elif known != cols:
            raise StoreError(
                f"{key.symbol} {key.kind.value} {key.timeframe}: sources in one import have different columns;"
                " import them separately"
            )

    def _split_months(self, key: SeriesKey, df: pd.DataFrame, table: pa.Table) -> list[tuple[Path, _Part]]:
        d = layout.series_dir(self.root, key)
        ts = df["ts"].to_numpy()
        if (ts[1:] >= ts[:-1]).all():  # the usual case: rows in time order, slice without copying
            months, edges = layout.month_edges(ts)
            if len(months) == 1:
                return [(layout.month_file(d, months[0]), _Part(df, table))]
            return [
                (layout.month_file(d, m), _Part(df.iloc[a:b], table.slice(a, b - a)))
                for m, (a, b) in zip(months, itertools.pairwise(edges), strict=True)
            ]
        ids = layout.month_ids(ts)
        out = []
        for m in np.unique(ids):
            rows = np.flatnonzero(ids == m)
            out.append((layout.month_file(d, int(m)), _Part(df.iloc[rows], table.take(rows))))
        return out

    # ------------------------------------------------------------------ staging
    def _stage(self, final: Path) -> None:
        """Merge the month's new rows with the stored file into a fresh temporary file."""
        with self._lock:
            month = self._months[final]
            n_parts = len(month.parts)
            parts = list(month.parts)
            fresh = month.key in self._fresh
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        if n_parts == 1 and (fresh or not final.exists()) and _write_new(month.key, parts[0].table):
            # a month new to the store from a single frame in time order: written as it is, no pandas
            self._make_dir(final.parent)
            write_table(parts[0].table, tmp, self.compression)
            self._staged(month, tmp, n_parts, len(parts[0].table))
            return
        frames = [p.frame for p in parts]
        part = frames[0] if n_parts == 1 else pd.concat(frames, ignore_index=True)
        old = pd.read_parquet(final) if final.exists() else part.iloc[:0]
        merged = merge_rows(month.key, old, part)  # raises StoreError on a conflict
        if merged is None:
            self._staged(month, None, n_parts, 0)
            return
        self._make_dir(final.parent)
        write_parquet(merged, tmp, self.compression)
        self._staged(month, tmp, n_parts, len(merged) - len(old))

    def _staged(self, month: _Month, tmp: Path | None, n_parts: int, added: int) -> None:
        with self._lock:
            if month.tmp is not None:
                month.tmp.unlink(missing_ok=True)
            month.tmp, month.staged_parts, month.added = tmp, n_parts, added

    def _make_dir(self, d: Path) -> None:
        """Create ``d`` and its missing parents below the store root, top down: one mkdir per new level
        and none for a level this batch has seen (creating directories is slow on some filesystems)."""
        if d in self._made_dirs:
            return
        levels = [p for p in (d, *d.parents) if p != self.root and self.root in p.parents]
        for level in reversed(levels):
            if level not in self._made_dirs:
                with contextlib.suppress(FileExistsError):
                    level.mkdir()
                self._made_dirs.add(level)

    # ------------------------------------------------------------------ finishing
    def commit(self) -> dict[SeriesKey, int]:
        with self._lock:
            self._check_open()
            stale = [f for f, m in self._months.items() if m.staged_parts != len(m.parts)]
        try:
            # months that got rows from several frames are merged again, all frames together
            with ThreadPoolExecutor(max_workers=max(1, min(len(stale), os.cpu_count() or 1))) as pool:
                futures = [pool.submit(self._stage, f) for f in sorted(stale)]
                wait(futures)
            for fut in futures:
                fut.result()
        except BaseException:
            self.abort()
            raise
        added: dict[SeriesKey, int] = {}
        with self._lock:
            for final, month in self._months.items():
                added[month.key] = added.get(month.key, 0) + month.added
                if month.tmp is not None:
                    os.replace(month.tmp, final)
                    month.tmp = None
            self._close()
        return added

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()

    def abort(self) -> None:
        with self._lock:
            for month in self._months.values():
                if month.tmp is not None:
                    month.tmp.unlink(missing_ok=True)
                    month.tmp = None
            self._close()
            dirs = {layout.series_dir(self.root, m.key) for m in self._months.values()}
        for d in dirs:  # series directories this batch created, and their empty parents
            while d != self.root and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
                d = d.parent
        if self._created_lock:
            self._lock_path.unlink(missing_ok=True)
        for d in reversed(self._created):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
