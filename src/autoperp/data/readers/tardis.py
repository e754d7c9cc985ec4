"""Tardis.dev ``book_snapshot_N`` CSV: one wide row per snapshot -> BOOK long format.

Columns: ``exchange, symbol, timestamp, local_timestamp`` (µs since the epoch), then per level i
``asks[i].price, asks[i].amount, bids[i].price, bids[i].amount`` (price in quote currency, amount in
base units). ``timestamp`` (the exchange's time) becomes ``ts`` in ms; ``local_timestamp`` is not kept.
Every level of every row is kept, empty cells (a thin book) as NaN, in the order bids 0..N-1 then
asks 0..N-1 per snapshot.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from autoperp.core.errors import FormatError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.readers.book import ASK, BID
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.csv_table import first_line, numpy_column, read_typed_csv, split_fields
from autoperp.data.readers.naming import symbol_from_exchange_id
from autoperp.data.readers.timestamps import epoch_to_ms
from autoperp.data.schema import MarketFrame

_LEVEL_RE = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")
#: Tardis exchange id -> (ccxt exchange id, spot market?)
TARDIS_EXCHANGES: dict[str, tuple[str, bool]] = {
    "binance-futures": ("binanceusdm", False),
    "binance-delivery": ("binancecoinm", False),
    "binance": ("binance", True),
    "bybit": ("bybit", False),
    "bybit-spot": ("bybit", True),
    "okex-swap": ("okx", False),
    "deribit": ("deribit", False),
}


def is_tardis_header(fields: list[str]) -> bool:
    """True for a Tardis book_snapshot header (exchange, symbol, timestamp, local_timestamp, levels)."""
    return fields[:4] == ["exchange", "symbol", "timestamp", "local_timestamp"] and any(
        _LEVEL_RE.match(f) for f in fields[4:]
    )


def read_tardis_book(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """Tardis book_snapshot CSV bytes -> one BOOK MarketFrame (ts ms, side, level, price, qty)."""
    src = ctx.source
    names = split_fields(first_line(data))
    if not is_tardis_header(names):
        raise FormatError(
            "not a Tardis book_snapshot header (exchange,symbol,timestamp,local_timestamp,...)", path=src
        )
    levels = sorted({int(m.group(2)) for f in names if (m := _LEVEL_RE.match(f))})
    n = len(levels)
    if levels != list(range(n)):
        raise FormatError(f"book levels in the header are not 0..{n - 1}", path=src)
    needed = [f"{s}[{i}].{v}" for s in ("bids", "asks") for i in range(n) for v in ("price", "amount")]
    missing = [c for c in needed if c not in names]
    if missing:
        raise FormatError(f"missing column(s) {', '.join(missing[:4])}", path=src, field=missing[0])
    ctx.kind([DataKind.BOOK], default=DataKind.BOOK)
    types: dict[str, pa.DataType] = {c: pa.float64() for c in needed}
    types.update(exchange=pa.string(), symbol=pa.string(), timestamp=pa.int64(), local_timestamp=pa.int64())
    for extra in names:
        types.setdefault(extra, pa.string())
    table = read_typed_csv(
        data,
        source=src,
        names=names,
        types=types,
        header=True,
        include=["exchange", "symbol", "timestamp", *needed],
        non_null=["timestamp"],
    )
    exchange_ids = [e for e in table.column("exchange").unique().to_pylist() if e]
    symbols = [s for s in table.column("symbol").unique().to_pylist() if s]
    if len(symbols) > 1 or len(exchange_ids) > 1:
        raise FormatError("the file mixes several exchanges or symbols; split it", path=src)
    ccxt_exchange, spot = (
        TARDIS_EXCHANGES.get(exchange_ids[0], (exchange_ids[0], False)) if exchange_ids else (None, False)
    )
    content_symbol = None
    if symbols:
        try:
            content_symbol = symbol_from_exchange_id(symbols[0], spot=spot)
        except UsageError:
            content_symbol = None
    symbol: Symbol = ctx.symbol(content_symbol)
    exchange = ctx.exchange(ccxt_exchange)

    ts = epoch_to_ms(numpy_column(table, "timestamp", "int64"), source=src, field="timestamp")
    rows = len(ts)
    price = np.empty((rows, 2 * n), dtype=np.float64)
    qty = np.empty((rows, 2 * n), dtype=np.float64)
    for col, (book_side, i) in enumerate([(s, i) for s in ("bids", "asks") for i in range(n)]):
        price[:, col] = numpy_column(table, f"{book_side}[{i}].price", "float64")
        qty[:, col] = numpy_column(table, f"{book_side}[{i}].amount", "float64")
    side_row = np.concatenate([np.full(n, BID, dtype=np.int8), np.full(n, ASK, dtype=np.int8)])
    level_row = np.concatenate([np.arange(n), np.arange(n)]).astype(np.int16)
    columns = {
        "ts": np.repeat(ts, 2 * n),
        "side": np.tile(side_row, rows),
        "level": np.tile(level_row, rows),
        "price": price.ravel(),
        "qty": qty.ravel(),
    }
    notes = [
        f"Tardis book_snapshot_{n}: each source row became {2 * n} rows (bids then asks); "
        f"frame row i comes from source row i // {2 * n} + 1; local_timestamp not kept",
    ]
    empty = int(np.isnan(columns["price"]).sum())
    if empty:
        notes.append(f"{empty} empty level cells kept as NaN (thin book)")
    return [ctx.frame(DataKind.BOOK, columns, symbol=symbol, exchange=exchange, notes=notes)]
