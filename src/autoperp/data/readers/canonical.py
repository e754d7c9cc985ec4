"""Tables already in autoperp's canonical columns (``ts`` + the columns of one kind, see ``schema.py``).

Lets data exported by autoperp (or prepared by hand) come back in. The kind comes from the hint, the
file name, or the columns present; columns are cast to the schema dtypes, extra columns are ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.table_columns import bool_column, float_column, int_column, string_column
from autoperp.data.readers.timestamps import arrow_to_ms
from autoperp.data.schema import DTYPES, EVENTS, MARKET_WIDE, MarketFrame, optional_columns, required_columns


def guess_canonical_kind(columns: set[str]) -> DataKind | None:
    """The kind whose required columns are present (candles: futures unless told otherwise)."""
    for kind in (DataKind.BOOK, DataKind.NEWS, DataKind.QUOTES, DataKind.TRADES, DataKind.FUNDING):
        if set(required_columns(kind)) <= columns:
            return kind
    if set(required_columns(DataKind.FUTURES)) <= columns:
        return DataKind.FUTURES
    if set(required_columns(DataKind.MARK)) <= columns:
        return DataKind.MARK
    return None


def read_canonical_table(table: pa.Table, ctx: ReadContext) -> list[MarketFrame]:
    """A canonical-column table -> one MarketFrame of its kind."""
    src = ctx.source
    names = set(table.column_names)
    guessed = guess_canonical_kind(names)
    kind = ctx.options.kind or ctx.name.kind or guessed
    if kind is None:
        raise FormatError(f"table columns {sorted(names)} match no data kind: pass kind=", path=src)
    required = required_columns(kind)
    missing = [c for c in required if c not in names]
    if missing:
        raise FormatError(
            f"{kind.value} data needs column(s) {', '.join(missing)}; found {', '.join(table.column_names)}",
            path=src,
            field=missing[0],
        )
    columns: dict[str, np.ndarray | pd.api.extensions.ExtensionArray] = {}
    for name in (*required, *optional_columns(kind)):
        if name not in names:
            continue
        dtype = DTYPES[name]
        if name == "ts":
            columns[name] = arrow_to_ms(table.column(name), source=src, field=name)
        elif dtype == "float64":
            columns[name] = float_column(table, name, src)
        elif dtype == "bool":
            columns[name] = bool_column(table, name, src)
        elif dtype == "string":
            columns[name] = string_column(table, name)
        else:
            columns[name] = int_column(table, name, src).astype(dtype)
    if kind is DataKind.NEWS:
        symbol = ctx.options.symbol or MARKET_WIDE
        exchange = ctx.options.exchange or "news"
    else:
        symbol = ctx.symbol()
        exchange = ctx.exchange()
    timeframe = ctx.timeframe() if kind.is_candles else EVENTS
    return [ctx.frame(kind, columns, symbol=symbol, timeframe=timeframe, exchange=exchange)]
