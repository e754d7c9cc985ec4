"""The store interface. The default backend is :class:`~autoperp.data.store.parquet.ParquetStore`;
a PostgreSQL/TimescaleDB backend implements the same methods.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.types import DataKind


@dataclass(frozen=True, order=True)
class SeriesKey:
    """Identifies one stored series: the partition path exchange/market/symbol/kind/timeframe."""

    exchange: str
    symbol: Symbol
    kind: DataKind
    timeframe: str  # '1m'... for candles, 'events' otherwise

    @property
    def market(self) -> str:
        """'futures' for derivatives, 'spot' otherwise ('news' for market-wide news)."""
        if self.kind is DataKind.NEWS:
            return "news"
        return "futures" if self.symbol.is_perp else "spot"


@dataclass(frozen=True)
class SeriesInfo:
    """What ``list-data`` shows for one series."""

    key: SeriesKey
    rows: int
    start_ms: int | None
    end_ms: int | None  # last row's ts (inclusive)
    gaps: int  # missing stretches in a bar series (0 for event series)
    columns: tuple[str, ...]
    bytes: int


class WriteBatch(ABC):
    """An all-or-nothing write: frames added (from any thread) become visible together on :meth:`commit`.

    A backend may start its work in :meth:`add` (the Parquet store encodes temporary files there, while
    the import is still reading other files); nothing is visible to readers before ``commit``.
    """

    @abstractmethod
    def add(self, key: SeriesKey, df: pd.DataFrame) -> None:
        """Add rows of one series. Raises :class:`~autoperp.core.errors.StoreError` on a conflict."""

    @abstractmethod
    def commit(self) -> dict[SeriesKey, int]:
        """Make every added frame visible; returns the number of new rows per series."""

    @abstractmethod
    def abort(self) -> None:
        """Drop everything added; the store is left as it was."""


class MarketStore(ABC):
    """Validated market data, one series per :class:`SeriesKey`.

    Writes are all-or-nothing per call: :meth:`write` either stores every frame or nothing.
    Reads return rows sorted by ``ts`` within the requested half-open :class:`TimeRange`.
    """

    @abstractmethod
    def begin_write(self) -> WriteBatch:
        """Start an all-or-nothing write (see :class:`WriteBatch`)."""

    def write(self, items: Sequence[tuple[SeriesKey, pd.DataFrame]]) -> dict[SeriesKey, int]:
        """Merge each frame into its series and return the number of new rows per series.

        Rows already stored with identical values are no-ops; a stored row with the same key (ts, and
        side/level for books) but different values raises :class:`~autoperp.core.errors.StoreError` and
        nothing is written. Frames of one series in one call are merged together first.
        """
        batch = self.begin_write()
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool:
                # largest first, so no big encode is left running alone at the end
                for fut in [
                    pool.submit(batch.add, k, df) for k, df in sorted(items, key=lambda kv: -len(kv[1]))
                ]:
                    fut.result()
        except BaseException:
            batch.abort()
            raise
        return batch.commit()

    @abstractmethod
    def read(self, key: SeriesKey, timerange: TimeRange | None = None) -> pd.DataFrame:
        """Rows of one series as a pandas frame (canonical columns)."""

    def read_arrays(self, key: SeriesKey, timerange: TimeRange | None = None) -> dict[str, np.ndarray]:
        """Rows of one series as contiguous numpy arrays, one per column."""
        df = self.read(key, timerange)
        return {c: np.ascontiguousarray(df[c].to_numpy()) for c in df.columns}

    @abstractmethod
    def read_candles(
        self,
        exchange: str,
        symbol: Symbol,
        timeframe: str,
        timerange: TimeRange | None = None,
        kind: DataKind = DataKind.FUTURES,
    ) -> pd.DataFrame:
        """Candles at ``timeframe``: stored ones, or resampled (in DuckDB) from the finest stored
        timeframe that divides it. Only complete buckets are returned."""

    @abstractmethod
    def list_series(self) -> list[SeriesInfo]:
        """Every stored series with its row count and time span."""

    @abstractmethod
    def append_repair_log(self, key: SeriesKey, line: str) -> str:
        """Keep one JSON line of a repair log with the series; returns where it was written."""

    @abstractmethod
    def record_gaps(self, key: SeriesKey, gaps: Sequence[tuple[int, int]]) -> None:
        """Remember gaps (last ts before, first ts after) that a repair marked in a series."""
