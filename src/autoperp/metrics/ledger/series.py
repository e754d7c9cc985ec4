"""A trial's per-bar return series on disk (one Parquet file: ``ts`` int64 ms UTC, ``ret`` float64 simple
returns) and the ledger's summary of it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from autoperp.core.errors import StoreError
from autoperp.metrics.inputs import MetricsInputError
from autoperp.metrics.ledger.record import ReturnStats
from autoperp.metrics.sharpe_inference import sharpe_moments

_SCHEMA = pa.schema(
    [pa.field("ts", pa.int64(), nullable=False), pa.field("ret", pa.float64(), nullable=False)]
)


def return_stats(ts: np.ndarray, ret: np.ndarray) -> ReturnStats:
    """:class:`ReturnStats` of a checked series (int64 ``ts``, float64 ``ret`` of the same length >= 1)."""
    try:
        mom = sharpe_moments(ret)
        sharpe, skew, kurt = mom.sharpe, mom.skewness, mom.kurtosis
    except MetricsInputError:
        # too short or constant: the trial still counts, its Sharpe is simply undefined
        sharpe = skew = kurt = math.nan
    bar_ms = int(np.median(np.diff(ts))) if ts.shape[0] > 1 else 0
    with np.errstate(divide="ignore"):
        total = float(np.expm1(np.sum(np.log1p(ret))))
    return ReturnStats(
        n_bars=int(ts.shape[0]),
        first_ts_ms=int(ts[0]),
        last_ts_ms=int(ts[-1]),
        bar_ms=bar_ms,
        sharpe=float(sharpe),
        skewness=float(skew),
        kurtosis=float(kurt),
        total_return=total,
    )


def write_series(path: Path, ts: np.ndarray, ret: np.ndarray, trial_id: str) -> None:
    """Encode the series to ``path`` (zstd; timestamps delta-encoded, they step by a constant)."""
    table = pa.Table.from_arrays([pa.array(ts), pa.array(ret)], schema=_SCHEMA).replace_schema_metadata(
        {"autoperp.trial_id": trial_id}
    )
    pq.write_table(
        table,
        str(path),
        compression="zstd",
        use_dictionary=False,
        column_encoding={"ts": "DELTA_BINARY_PACKED"},
    )


def read_series(path: Path, n_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ts, ret)`` stored at ``path``; :class:`StoreError` when missing, unreadable or not ``n_bars`` long."""
    try:
        table = pq.read_table(str(path), columns=["ts", "ret"])
    except (OSError, pa.ArrowException) as e:
        raise StoreError(f"{path}: cannot read the trial's returns ({e})") from None
    ts = table.column("ts").to_numpy().astype(np.int64, copy=False)
    ret = table.column("ret").to_numpy().astype(np.float64, copy=False)
    if ts.shape[0] != n_bars:
        raise StoreError(f"{path}: holds {ts.shape[0]} bars, the ledger recorded {n_bars}")
    return ts, ret
