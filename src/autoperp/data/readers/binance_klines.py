"""Binance public-archive kline CSV (data.binance.vision), USD-M, COIN-M and spot.

Layout (12 fields): ``open_time, open, high, low, close, volume, close_time, quote_volume, count,
taker_buy_volume, taker_buy_quote_volume, ignore``. Files before 2022 have no header; later ones do.
``open_time`` is ms, or µs in spot files from 2025 (handled per element). Prices in quote currency,
``volume``/``taker_buy_volume`` in base units, ``quote_volume``/``taker_buy_quote_volume`` in quote units,
``count`` = number of trades. markPriceKlines/indexPriceKlines/premiumIndexKlines share the layout;
their volume columns carry no meaning and are not read.

This is the hot reader: one pyarrow pass with explicit types, no Python loop over rows.
"""

from __future__ import annotations

import numpy as np
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
    strip_bom,
)
from autoperp.data.readers.kline_parser import parse_klines
from autoperp.data.schema import MarketFrame

KLINE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
#: archive column -> canonical column where the names differ
KLINE_TO_CANONICAL: dict[str, str] = {"open_time": "ts", "count": "trades"}
_TYPES: dict[str, pa.DataType] = {name: pa.float64() for name in KLINE_COLUMNS}
_TYPES.update(open_time=pa.int64(), close_time=pa.int64(), count=pa.int64())
_PRICE_COLUMNS = ("open", "high", "low", "close")
#: kline column -> canonical column, for trade-price klines.
_VOLUME_COLUMNS = {
    "volume": "volume",
    "quote_volume": "quote_volume",
    "count": "trades",
    "taker_buy_volume": "taker_buy_volume",
    "taker_buy_quote_volume": "taker_buy_quote_volume",
}
CANDLE_KINDS = (DataKind.FUTURES, DataKind.SPOT, DataKind.MARK, DataKind.INDEX, DataKind.PREMIUM)


def check_kline_header(line: str, source: str) -> None:
    """Raise when a header line is not the kline header (a differently named column means another layout)."""
    fields = [f.lower() for f in split_fields(line)]
    if fields != list(KLINE_COLUMNS):
        raise FormatError(
            f"unexpected kline header {fields[:12]}; expected {list(KLINE_COLUMNS)}",
            path=source,
        )


def read_binance_klines(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """Kline CSV bytes -> one candle MarketFrame (kind from hint or folder: futures/spot/mark/index/premium)."""
    source = ctx.source
    line = first_line(data)
    header = looks_like_header(line)
    if header:
        check_kline_header(line, source)
    kind = ctx.kind(CANDLE_KINDS, default=DataKind.FUTURES)
    symbol, timeframe, exchange = ctx.symbol(), ctx.timeframe(), ctx.exchange()
    with_volume = kind in (DataKind.FUTURES, DataKind.SPOT)
    fast = parse_klines(strip_bom(data), header=header)
    if fast is not None:  # the plain archive form: numba parser, same doubles as pyarrow
        columns = {c: fast[c] for c in ("ts", *_PRICE_COLUMNS)}
        if with_volume:
            columns.update({dst: fast[dst] for dst in _VOLUME_COLUMNS.values()})
    else:  # anything unusual: pyarrow, whose failures are diagnosed row by row
        columns = _arrow_columns(data, source, header, with_volume)
    columns["ts"] = to_ms_array(columns["ts"])
    notes = []
    if not with_volume:
        notes.append(f"{kind.value} klines: volume columns carry no meaning in this layout and were not read")
    return [
        ctx.frame(
            kind,
            columns,
            symbol=symbol,
            timeframe=timeframe,
            exchange=exchange,
            notes=notes,
        )
    ]


def _arrow_columns(data: bytes, source: str, header: bool, with_volume: bool) -> dict[str, np.ndarray]:
    include = ["open_time", *_PRICE_COLUMNS, *(_VOLUME_COLUMNS if with_volume else ())]
    non_null = ["open_time", "count"] if with_volume else ["open_time"]
    table = read_typed_csv(
        data,
        source=source,
        names=KLINE_COLUMNS,
        types=_TYPES,
        header=header,
        include=include,
        non_null=non_null,
    )
    columns = {"ts": numpy_column(table, "open_time", "int64")}
    for name in _PRICE_COLUMNS:
        columns[name] = numpy_column(table, name, "float64")
    if with_volume:
        for src, dst in _VOLUME_COLUMNS.items():
            columns[dst] = numpy_column(table, src, "int64" if dst == "trades" else "float64")
    return columns
