"""Binance archive fundingRate CSV: ``calc_time, funding_interval_hours, last_funding_rate``.

One row per settlement. ``calc_time`` in ms (µs handled), ``funding_interval_hours`` in hours,
``last_funding_rate`` a fraction per interval (0.0001 = 0.01 %). Output: funding kind (ts, rate, interval_h).
"""

from __future__ import annotations

import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.time import to_ms_array
from autoperp.core.types import DataKind
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.csv_table import (
    first_line,
    looks_like_header,
    numpy_column,
    read_typed_csv,
    split_fields,
)
from autoperp.data.schema import MarketFrame

FUNDING_COLUMNS: tuple[str, ...] = ("calc_time", "funding_interval_hours", "last_funding_rate")
_TYPES = {"calc_time": pa.int64(), "funding_interval_hours": pa.float64(), "last_funding_rate": pa.float64()}


def read_binance_funding(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """fundingRate CSV bytes -> one funding MarketFrame (ts ms, rate fraction, interval_h hours)."""
    line = first_line(data)
    header = looks_like_header(line)
    if header and [f.lower() for f in split_fields(line)] != list(FUNDING_COLUMNS):
        raise FormatError(
            f"unexpected fundingRate header {split_fields(line)}; expected {list(FUNDING_COLUMNS)}",
            path=ctx.source,
        )
    ctx.kind([DataKind.FUNDING], default=DataKind.FUNDING)
    symbol, exchange = ctx.symbol(), ctx.exchange()
    table = read_typed_csv(
        data,
        source=ctx.source,
        names=FUNDING_COLUMNS,
        types=_TYPES,
        header=header,
        non_null=["calc_time"],
    )
    columns = {
        "ts": to_ms_array(numpy_column(table, "calc_time", "int64")),
        "rate": numpy_column(table, "last_funding_rate", "float64"),
        "interval_h": numpy_column(table, "funding_interval_hours", "float64"),
    }
    return [ctx.frame(DataKind.FUNDING, columns, symbol=symbol, exchange=exchange)]
