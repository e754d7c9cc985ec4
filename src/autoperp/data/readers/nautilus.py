"""NautilusTrader test-data tables (parquet): Binance trade ticks and quote ticks.

- trades: ``timestamp`` (UTC datetime), ``trade_id``, ``price``, ``quantity`` (base units),
  ``buyer_maker`` (bool, or the strings 'True'/'False') -> trades kind.
- quotes: ``timestamp``, optional ``symbol`` (ccxt spelling such as 'BTC/USDT'), ``bid``, ``bid_size``,
  ``ask``, ``ask_size`` -> quotes kind.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from autoperp.core.errors import FormatError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.table_columns import bool_column, float_column, int_column, require_columns
from autoperp.data.readers.timestamps import arrow_to_ms
from autoperp.data.schema import MarketFrame

TRADE_TICK_COLUMNS: tuple[str, ...] = ("timestamp", "trade_id", "price", "quantity", "buyer_maker")
QUOTE_TICK_COLUMNS: tuple[str, ...] = ("timestamp", "bid", "bid_size", "ask", "ask_size")


def read_trade_ticks(table: pa.Table, ctx: ReadContext) -> list[MarketFrame]:
    """Trade-tick table -> one trades MarketFrame (id = trade_id)."""
    src = ctx.source
    require_columns(table, TRADE_TICK_COLUMNS, src, "trade ticks")
    ctx.kind([DataKind.TRADES], default=DataKind.TRADES)
    symbol, exchange = ctx.symbol(), ctx.exchange()
    columns: dict[str, np.ndarray] = {
        "ts": arrow_to_ms(table.column("timestamp"), source=src, field="timestamp"),
        "price": float_column(table, "price", src),
        "qty": float_column(table, "quantity", src),
        "is_buyer_maker": bool_column(table, "buyer_maker", src),
        "id": int_column(table, "trade_id", src),
    }
    notes = []
    if not pa.types.is_boolean(table.column("buyer_maker").type):
        notes.append(f"buyer_maker stored as {table.column('buyer_maker').type} and read as true/false")
    return [ctx.frame(DataKind.TRADES, columns, symbol=symbol, exchange=exchange, notes=notes)]


def read_quote_ticks(table: pa.Table, ctx: ReadContext) -> list[MarketFrame]:
    """Quote-tick table -> one quotes MarketFrame; a single-valued ``symbol`` column names the market."""
    src = ctx.source
    require_columns(table, QUOTE_TICK_COLUMNS, src, "quote ticks")
    ctx.kind([DataKind.QUOTES], default=DataKind.QUOTES)
    content_symbol = _symbol_column(table, src) if "symbol" in table.column_names else None
    symbol, exchange = ctx.symbol(content_symbol), ctx.exchange()
    columns = {
        "ts": arrow_to_ms(table.column("timestamp"), source=src, field="timestamp"),
        "bid": float_column(table, "bid", src),
        "bid_qty": float_column(table, "bid_size", src),
        "ask": float_column(table, "ask", src),
        "ask_qty": float_column(table, "ask_size", src),
    }
    return [ctx.frame(DataKind.QUOTES, columns, symbol=symbol, exchange=exchange)]


def _symbol_column(table: pa.Table, source: str) -> Symbol | None:
    values = table.column("symbol").unique().to_pylist()
    values = [v for v in values if v]
    if len(values) > 1:
        raise FormatError(
            f"the file mixes several symbols ({', '.join(map(str, values[:5]))}); split it per symbol",
            path=source,
            field="symbol",
        )
    if not values:
        return None
    text = str(values[0])
    try:
        return Symbol.parse(text) if "/" in text else Symbol.from_exchange_id(text, perp=False)
    except UsageError:
        return None
