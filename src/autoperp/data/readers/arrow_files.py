"""Feather and parquet files: open the table, then pick the reader by its columns.

freqtrade candles (date, open, high, low, close, volume), freqtrade trades (timestamp, side, price,
amount, ...), NautilusTrader trade ticks / quote ticks, or autoperp's canonical columns.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from autoperp.core.errors import FormatError
from autoperp.data.readers.canonical import read_canonical_table
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.freqtrade import (
    CANDLE_COLUMNS,
    read_freqtrade_candle_table,
    read_freqtrade_trades_table,
)
from autoperp.data.readers.nautilus import (
    QUOTE_TICK_COLUMNS,
    TRADE_TICK_COLUMNS,
    read_quote_ticks,
    read_trade_ticks,
)
from autoperp.data.schema import MarketFrame

FEATHER_MAGICS = (b"ARROW1", b"FEA1")
PARQUET_MAGIC = b"PAR1"


def open_table(data: bytes, fmt: str, source: str) -> pa.Table:
    """Read feather ('feather') or parquet ('parquet') bytes; damage raises :class:`FormatError`."""
    try:
        if fmt == "parquet":
            return pq.read_table(pa.BufferReader(data))
        return feather.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FormatError(
            f"not a readable {fmt} file ({' '.join(str(exc).split())[:160]}); it may be truncated",
            path=source,
        ) from None


def read_arrow_file(data: bytes, fmt: str, ctx: ReadContext) -> list[MarketFrame]:
    """Feather/parquet bytes -> MarketFrames, dispatching on the column names."""
    table = open_table(data, fmt, ctx.source)
    if table.num_rows == 0:
        raise FormatError(f"{fmt} file has columns but no rows", path=ctx.source)
    cols = set(table.column_names)
    if set(CANDLE_COLUMNS) <= cols:
        return read_freqtrade_candle_table(table, ctx)
    if {"timestamp", "side", "price", "amount"} <= cols:
        return read_freqtrade_trades_table(table, ctx)
    if set(TRADE_TICK_COLUMNS) <= cols:
        return read_trade_ticks(table, ctx)
    if set(QUOTE_TICK_COLUMNS) <= cols:
        return read_quote_ticks(table, ctx)
    if "ts" in cols:
        return read_canonical_table(table, ctx)
    raise FormatError(
        f"unknown {fmt} layout with columns {', '.join(table.column_names)}: expected freqtrade candles "
        "(date, open, high, low, close, volume), freqtrade trades, trade/quote ticks, or canonical columns",
        path=ctx.source,
    )
