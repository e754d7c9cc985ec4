"""Generic OHLCV CSV with a header: a time column plus ``open, high, low, close, volume``.

The time column may be named ``timestamp``, ``date``, ``datetime``, ``time``, ``ts`` or ``open_time`` and
hold epoch s/ms/µs/ns or ISO-8601 text (naive = UTC). Extra columns are ignored. Units are whatever the
file uses: the reader cannot know whether ``volume`` is base or quote units and says so in the notes.
Candle kind, symbol and timeframe come from hints or the file name.
"""

from __future__ import annotations

import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.csv_table import first_line, numpy_column, read_typed_csv, split_fields
from autoperp.data.readers.timestamps import arrow_to_ms
from autoperp.data.schema import MarketFrame

TIME_COLUMNS: tuple[str, ...] = ("timestamp", "date", "datetime", "time", "ts", "open_time")
OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def ohlcv_time_column(fields: list[str]) -> str | None:
    """The time column of an OHLCV header, or None when the header is not OHLCV."""
    lowered = [f.lower() for f in fields]
    if not all(c in lowered for c in OHLCV):
        return None
    return next((fields[lowered.index(t)] for t in TIME_COLUMNS if t in lowered), None)


def read_ohlcv_csv(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """OHLCV CSV bytes -> one candle MarketFrame (kind from hint or name, futures by default)."""
    src = ctx.source
    names = split_fields(first_line(data))
    time_col = ohlcv_time_column(names)
    if time_col is None:
        raise FormatError(
            f"not an OHLCV header: need a time column ({', '.join(TIME_COLUMNS)}) and {', '.join(OHLCV)}",
            path=src,
        )
    symbol, timeframe, exchange = ctx.symbol(), ctx.timeframe(), ctx.exchange()
    kind = ctx.kind(
        (DataKind.FUTURES, DataKind.SPOT, DataKind.MARK, DataKind.INDEX, DataKind.PREMIUM),
        default=DataKind.FUTURES if symbol.is_perp else DataKind.SPOT,
    )
    lowered = {n.lower(): n for n in names}
    value_cols = [lowered[c] for c in OHLCV]
    types: dict[str, pa.DataType] = {n: pa.string() for n in names}
    types.update({c: pa.float64() for c in value_cols})
    table = read_typed_csv(
        data, source=src, names=names, types=types, header=True, include=[time_col, *value_cols]
    )
    columns = {"ts": arrow_to_ms(table.column(time_col), source=src, field=time_col)}
    for canonical, col in zip(OHLCV, value_cols, strict=True):
        columns[canonical] = numpy_column(table, col, "float64")
    notes = ["generic OHLCV CSV: the file does not say whether volume is in base or quote units"]
    if kind in (DataKind.MARK, DataKind.INDEX, DataKind.PREMIUM):
        del columns["volume"]
        notes = [f"{kind.value} candles: volume carries no meaning and was dropped"]
    elif exchange == "ftx":
        notes.append(
            "likely FTX (BTC-PERP spelling, $1 price steps): FTX candle volume is USD (quote) volume, "
            "not base units; kept as the file has it in 'volume'"
        )
    return [ctx.frame(kind, columns, symbol=symbol, timeframe=timeframe, exchange=exchange, notes=notes)]
