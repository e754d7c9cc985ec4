"""A two-phase write into the Parquet store: frames are staged as temporary files while an import is still
reading and validating other files, and become visible only on :meth:`ParquetWriteBatch.commit`.

``abort`` (or any failure) removes every temporary file and directory the batch made, so a refused import
leaves the store byte-for-byte as it was.
"""

from __future__ import annotations

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
from autoperp.data.store import layout
from autoperp.data.store.base import SeriesKey, WriteBatch
from autoperp.data.store.merge import merge_rows


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


def write_parquet(df: pd.DataFrame, path: Path, compression: str) -> None:
    """Encode ``df`` to ``path`` the way the store reads fastest."""
    # A large write buffer: pyarrow's default stream issues many small writes (2x slower here).
    # No dictionaries (prices rarely repeat enough to pay); statistics on ts only: all that list-data and
    # DuckDB's range pruning read.
    with pa.output_stream(str(path), buffer_size=16 << 20) as out:
        pq.write_table(
            _to_arrow(df),
            out,
            compression=compression,
            use_dictionary=False,
            write_statistics=["ts"],
            row_group_size=256_000,
            data_page_size=8 << 20,
            # bar open times advance by a constant step: delta encoding stores them in ~nothing
            column_encoding={"ts": "DELTA_BINARY_PACKED"},
        )


@dataclass
class _Month:
    """New rows for one month file of one series, and what has been staged for them so far."""

    key: SeriesKey
    parts: list[pd.DataFrame] = field(default_factory=list)
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
        self._closed = False

    # ------------------------------------------------------------------ adding
    def add(self, key: SeriesKey, df: pd.DataFrame) -> None:
        if len(df) == 0:
            return
        first_claims = []
        with self._lock:
            self._check_open()
            self._check_key(key, tuple(str(c) for c in df.columns))
            for final, part in self._split_months(key, df):
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

    def _split_months(self, key: SeriesKey, df: pd.DataFrame) -> list[tuple[Path, pd.DataFrame]]:
        d = layout.series_dir(self.root, key)
        months = layout.month_ids(df["ts"].to_numpy())
        if (months[1:] >= months[:-1]).all():  # the usual case: rows in time order, slice without copying
            edges = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(df)]
            return [
                (layout.month_file(d, int(months[a])), df.iloc[a:b]) for a, b in itertools.pairwise(edges)
            ]
        return [(layout.month_file(d, int(m)), df.loc[months == m]) for m in np.unique(months)]

    # ------------------------------------------------------------------ staging
    def _stage(self, final: Path) -> None:
        """Merge the month's new rows with the stored file into a fresh temporary file."""
        with self._lock:
            month = self._months[final]
            n_parts = len(month.parts)
            parts = list(month.parts)
        part = parts[0] if n_parts == 1 else pd.concat(parts, ignore_index=True)
        old = pd.read_parquet(final) if final.exists() else part.iloc[:0]
        merged = merge_rows(month.key, old, part)  # raises StoreError on a conflict
        tmp = None
        if merged is not None:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
            write_parquet(merged, tmp, self.compression)
        with self._lock:
            if month.tmp is not None:
                month.tmp.unlink(missing_ok=True)
            month.tmp, month.staged_parts = tmp, n_parts
            month.added = 0 if merged is None else len(merged) - len(old)

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
