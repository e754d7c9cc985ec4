"""Binance archive bookTicker CSV (USD-M): ``update_id, best_bid_price, best_bid_qty, best_ask_price,
best_ask_qty, transaction_time, event_time`` -> quotes kind (ts = transaction_time in ms; prices in
quote currency, quantities in base units)."""

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

BOOK_TICKER_COLUMNS: tuple[str, ...] = (
    "update_id",
    "best_bid_price",
    "best_bid_qty",
    "best_ask_price",
    "best_ask_qty",
    "transaction_time",
    "event_time",
)
_TYPES: dict[str, pa.DataType] = {n: pa.float64() for n in BOOK_TICKER_COLUMNS}
_TYPES.update(update_id=pa.int64(), transaction_time=pa.int64(), event_time=pa.int64())


def read_binance_book_ticker(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """bookTicker CSV bytes -> one quotes MarketFrame (ts, bid, bid_qty, ask, ask_qty)."""
    line = first_line(data)
    header = looks_like_header(line)
    if header and [f.lower() for f in split_fields(line)] != list(BOOK_TICKER_COLUMNS):
        raise FormatError(
            f"unexpected bookTicker header {split_fields(line)}; expected {list(BOOK_TICKER_COLUMNS)}",
            path=ctx.source,
        )
    ctx.kind([DataKind.QUOTES], default=DataKind.QUOTES)
    symbol, exchange = ctx.symbol(), ctx.exchange()
    table = read_typed_csv(
        data,
        source=ctx.source,
        names=BOOK_TICKER_COLUMNS,
        types=_TYPES,
        header=header,
        include=["best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty", "transaction_time"],
        non_null=["transaction_time"],
    )
    columns = {
        "ts": to_ms_array(numpy_column(table, "transaction_time", "int64")),
        "bid": numpy_column(table, "best_bid_price", "float64"),
        "bid_qty": numpy_column(table, "best_bid_qty", "float64"),
        "ask": numpy_column(table, "best_ask_price", "float64"),
        "ask_qty": numpy_column(table, "best_ask_qty", "float64"),
    }
    return [ctx.frame(DataKind.QUOTES, columns, symbol=symbol, exchange=exchange)]
