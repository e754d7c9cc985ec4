"""The store's own Parquet writer writes exactly the bytes pyarrow writes with the store's settings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from autoperp.data.store import parquet_plain
from autoperp.data.store.write_batch import write_table

I64 = np.iinfo(np.int64)


def pyarrow_bytes(table: pa.Table, tmp_path: Path) -> bytes:
    """What write_batch.write_table writes through pyarrow (an lz4 store never takes the plain writer)."""
    path = tmp_path / "pyarrow.parquet"
    with pa.output_stream(str(path)) as out:
        pq.write_table(
            table,
            out,
            compression="none",
            use_dictionary=False,
            write_statistics=["ts"],
            row_group_size=parquet_plain.ROW_GROUP_SIZE,
            max_rows_per_page=parquet_plain.ROWS_PER_PAGE,
            data_page_size=8 << 20,
            write_batch_size=64 << 10,
            column_encoding={"ts": "DELTA_BINARY_PACKED"},
        )
    return path.read_bytes()


def plain_bytes(table: pa.Table, tmp_path: Path) -> bytes:
    assert parquet_plain.supports(table)
    path = tmp_path / "plain.parquet"
    parquet_plain.write_table(table, path)
    return path.read_bytes()


def random_ts(rng: np.random.Generator, kind: int, n: int) -> np.ndarray:
    if kind == 0:  # bars with a few odd steps
        ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
        ts[rng.integers(0, n, 3)] += rng.integers(-(10**6), 10**6, 3)
        return ts
    if kind == 1:  # anything: deltas wrap around int64
        return rng.integers(I64.min, I64.max, n, dtype=np.int64)
    if kind == 2:
        return np.cumsum(rng.integers(-10, 10 ** int(rng.integers(1, 17)), n)).astype(np.int64)
    return np.full(n, -5, dtype=np.int64)


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 256, 257, 258, 19_999, 20_000, 20_001, 43_200, 256_001])
def test_bar_series_bytes_equal_pyarrow(n: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(n)
    table = pa.table(
        {
            "ts": 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000,
            "open": rng.random(n),
            "trades": rng.integers(0, 1000, n),
        }
    )
    assert plain_bytes(table, tmp_path) == pyarrow_bytes(table, tmp_path)


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_bytes_equal_pyarrow(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 5, 129, 511, 1025, 20_001, 40_000]))
    columns: dict[str, np.ndarray] = {"ts": random_ts(rng, seed % 4, n)}
    for k in range(int(rng.integers(0, 4))):
        columns[f"c{k}"] = (
            rng.normal(0, 1e6, n) if k % 2 else rng.integers(I64.min // 2, I64.max // 2, n, dtype=np.int64)
        )
    columns["special"] = np.resize(np.array([np.nan, np.inf, -0.0, 0.0, -np.inf, 1e-310]), n)
    table = pa.table(columns)
    if n > 10 and seed % 3 == 0:
        table = table.slice(3, n - 5)  # a month cut out of a longer frame
    assert plain_bytes(table, tmp_path) == pyarrow_bytes(table, tmp_path)


def test_readable_by_duckdb_with_ts_statistics(tmp_path: Path) -> None:
    n = 50_000
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    table = pa.table({"ts": ts, "close": np.linspace(1, 2, n), "trades": np.arange(n, dtype=np.int64)})
    path = tmp_path / "x.parquet"
    write_table(table, path, "none")
    assert pq.read_table(path).equals(table)
    got = duckdb.sql(f"SELECT count(*), min(ts), max(ts), sum(trades) FROM '{path}'").fetchall()
    assert got == [(n, int(ts[0]), int(ts[-1]), n * (n - 1) // 2)]
    stats = pq.read_metadata(path).row_group(0).column(0).statistics
    assert stats.has_min_max and (stats.min, stats.max) == (ts[0], ts[-1])


@pytest.mark.parametrize(
    "table",
    [
        pa.table({"ts": pa.array([1, 2], pa.int64()), "side": pa.array([1, -1], pa.int8())}),
        pa.table({"ts": pa.array([1, 2], pa.int64()), "title": pa.array(["a", "b"])}),
        pa.table({"ts": pa.array([1, 2], pa.int64()), "rate": pa.array([1.0, None], pa.float64())}),
        pa.table({"ts": pa.array([1.0, 2.0], pa.float64())}),
        pa.table({"ts": pa.array([], pa.int64())}),
        pa.table({"ts": pa.chunked_array([[1], [2]], pa.int64())}),
    ],
)
def test_other_tables_go_to_pyarrow(table: pa.Table) -> None:
    assert not parquet_plain.supports(table)
