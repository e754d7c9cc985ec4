"""Binance archive trade CSVs -> trades kind (ts, price, qty, is_buyer_maker, id[, first_id, last_id]).

- aggTrades: ``agg_trade_id, price, quantity, first_trade_id, last_trade_id, transact_time, is_buyer_maker``
  (spot adds ``is_best_match``); header since 2022 in USD-M, never in spot.
- trades: ``id, price, qty, quote_qty, time, is_buyer_maker`` (spot adds ``is_best_match``).

Times in ms (µs in spot files from 2025; handled per element), price in quote currency, quantity in
base units. ``is_buyer_maker`` true means the aggressor sold.
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

AGG_TRADES_COLUMNS: tuple[str, ...] = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
)
TRADES_COLUMNS: tuple[str, ...] = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
_TYPES: dict[str, pa.DataType] = {
    "agg_trade_id": pa.int64(),
    "id": pa.int64(),
    "first_trade_id": pa.int64(),
    "last_trade_id": pa.int64(),
    "transact_time": pa.int64(),
    "time": pa.int64(),
    "price": pa.float64(),
    "quantity": pa.float64(),
    "qty": pa.float64(),
    "quote_qty": pa.float64(),
    "is_buyer_maker": pa.bool_(),
    "is_best_match": pa.bool_(),
}


def read_binance_agg_trades(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """aggTrades CSV bytes -> one trades MarketFrame with id = aggTrade id and first_id/last_id."""
    names, header = _layout(data, AGG_TRADES_COLUMNS, ctx.source, "aggTrades")
    ctx.kind([DataKind.TRADES], default=DataKind.TRADES)
    symbol, exchange = ctx.symbol(), ctx.exchange()
    include = list(AGG_TRADES_COLUMNS)
    table = read_typed_csv(
        data,
        source=ctx.source,
        names=names,
        types=_TYPES,
        header=header,
        include=include,
        non_null=["agg_trade_id", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker"],
    )
    columns = {
        "ts": to_ms_array(numpy_column(table, "transact_time", "int64")),
        "price": numpy_column(table, "price", "float64"),
        "qty": numpy_column(table, "quantity", "float64"),
        "is_buyer_maker": numpy_column(table, "is_buyer_maker", "bool"),
        "id": numpy_column(table, "agg_trade_id", "int64"),
        "first_id": numpy_column(table, "first_trade_id", "int64"),
        "last_id": numpy_column(table, "last_trade_id", "int64"),
    }
    return [ctx.frame(DataKind.TRADES, columns, symbol=symbol, exchange=exchange)]


def read_binance_trades(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """trades CSV bytes -> one trades MarketFrame with id = trade id (quote_qty is not kept)."""
    names, header = _layout(data, TRADES_COLUMNS, ctx.source, "trades")
    ctx.kind([DataKind.TRADES], default=DataKind.TRADES)
    symbol, exchange = ctx.symbol(), ctx.exchange()
    table = read_typed_csv(
        data,
        source=ctx.source,
        names=names,
        types=_TYPES,
        header=header,
        include=["id", "price", "qty", "time", "is_buyer_maker"],
        non_null=["id", "time", "is_buyer_maker"],
    )
    columns = {
        "ts": to_ms_array(numpy_column(table, "time", "int64")),
        "price": numpy_column(table, "price", "float64"),
        "qty": numpy_column(table, "qty", "float64"),
        "is_buyer_maker": numpy_column(table, "is_buyer_maker", "bool"),
        "id": numpy_column(table, "id", "int64"),
    }
    return [ctx.frame(DataKind.TRADES, columns, symbol=symbol, exchange=exchange)]


def _layout(data: bytes, base: tuple[str, ...], source: str, label: str) -> tuple[tuple[str, ...], bool]:
    """(column names, has header) for the futures layout or the spot one with ``is_best_match``."""
    line = first_line(data)
    fields = split_fields(line)
    header = looks_like_header(line)
    spot_names = (*base, "is_best_match")
    if header:
        lowered = tuple(f.lower() for f in fields)
        if lowered in (base, spot_names):
            return lowered, True
        raise FormatError(f"unexpected {label} header {fields}; expected {list(base)}", path=source)
    if len(fields) == len(base):
        return base, False
    if len(fields) == len(spot_names):
        return spot_names, False
    raise FormatError(
        f"{label} rows have {len(base)} fields ({', '.join(base)}), the first row has {len(fields)}",
        path=source,
        row=1,
    )
