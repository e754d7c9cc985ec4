"""freqtrade data files: candles (feather, parquet, json, json.gz) and trades (feather, parquet, json).

Candles: columns ``date`` (UTC datetime; epoch ms in json), ``open, high, low, close, volume``; the
file name ``PAIR-TF-CANDLETYPE`` says the kind (futures, spot, mark, index, premiumIndex, funding_rate).

- funding_rate: the rate (fraction per interval) is in ``open``; high/low/close/volume are 0. Output is the
  funding kind (ts, rate), timeframe ``events``. Timestamps carry a few ms of jitter; they are kept as stored.
- mark / index / premiumIndex: volume is NaN or 0 and is not kept.

Trades: columns ``timestamp`` (ms), ``id``, ``type``, ``side`` (taker side, buy/sell), ``price``, ``amount``
(base units), ``cost``; json is a list of ``[timestamp, id, type, side, price, amount, cost]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.json_lines import JSON_ERRORS, loads
from autoperp.data.readers.table_columns import float_column, int_column, require_columns
from autoperp.data.readers.timestamps import arrow_to_ms, epoch_to_ms
from autoperp.data.schema import EVENTS, MarketFrame

CANDLE_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
TRADE_COLUMNS: tuple[str, ...] = ("timestamp", "id", "type", "side", "price", "amount", "cost")
_PRICE_ONLY = (DataKind.MARK, DataKind.INDEX, DataKind.PREMIUM)
_CANDLE_KINDS = (DataKind.FUTURES, DataKind.SPOT, *_PRICE_ONLY, DataKind.FUNDING)


def read_freqtrade_candle_table(table: pa.Table, ctx: ReadContext) -> list[MarketFrame]:
    """A freqtrade candle table (from feather or parquet) -> one candle or funding MarketFrame."""
    require_columns(table, CANDLE_COLUMNS, ctx.source, "freqtrade candles")
    src = ctx.source
    ts = arrow_to_ms(table.column("date"), source=src, field="date")
    values = {name: float_column(table, name, src) for name in CANDLE_COLUMNS[1:]}
    return _candles(ts, values, ctx)


def read_freqtrade_json(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """freqtrade json (a list of [ms, open, high, low, close, volume]) -> one candle or funding MarketFrame.

    A list of 7-field rows with a text 4th field is the trades layout and goes to :func:`_json_trades`.
    """
    src = ctx.source
    try:
        rows = loads(data)
    except JSON_ERRORS as exc:
        raise FormatError(f"not valid JSON ({exc}); the file may be truncated", path=src) from None
    if not isinstance(rows, list):
        raise FormatError(
            "freqtrade json must be a list of rows [ms, open, high, low, close, volume]", path=src
        )
    if not rows:
        raise FormatError("no data rows (empty list)", path=src)
    first = rows[0]
    if isinstance(first, list) and len(first) == len(TRADE_COLUMNS) and isinstance(first[3], str):
        return _json_trades(rows, ctx)
    try:
        arr = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[1] != len(CANDLE_COLUMNS):
        _locate_bad_row(rows, len(CANDLE_COLUMNS), src)
        raise FormatError("rows must be [ms, open, high, low, close, volume]", path=src)
    ts = epoch_to_ms(arr[:, 0], source=src, field="date")
    values = {name: np.ascontiguousarray(arr[:, i + 1]) for i, name in enumerate(CANDLE_COLUMNS[1:])}
    return _candles(ts, values, ctx)


def read_freqtrade_trades_table(table: pa.Table, ctx: ReadContext) -> list[MarketFrame]:
    """freqtrade trades (feather/parquet) -> one trades MarketFrame (is_buyer_maker = taker side is sell)."""
    src = ctx.source
    require_columns(table, ("timestamp", "side", "price", "amount"), src, "freqtrade trades")
    ctx.kind([DataKind.TRADES], default=DataKind.TRADES)
    symbol, exchange = ctx.symbol(), ctx.exchange()
    side = table.column("side").to_numpy(zero_copy_only=False).astype(str)
    is_sell = _taker_sells(side, src)
    columns: dict[str, np.ndarray] = {
        "ts": arrow_to_ms(table.column("timestamp"), source=src, field="timestamp"),
        "price": float_column(table, "price", src),
        "qty": float_column(table, "amount", src),
        "is_buyer_maker": is_sell,
    }
    notes = ["is_buyer_maker derived from freqtrade 'side' (taker side): sell -> True"]
    if "id" in table.column_names:
        try:
            columns["id"] = int_column(table, "id", src)
        except FormatError:
            notes.append("trade ids are not whole numbers and were not kept")
    return [ctx.frame(DataKind.TRADES, columns, symbol=symbol, exchange=exchange, notes=notes)]


def _json_trades(rows: list[Any], ctx: ReadContext) -> list[MarketFrame]:
    src = ctx.source
    _locate_bad_row(rows, len(TRADE_COLUMNS), src)
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "timestamp": pa.array(columns[0]),
            "id": pa.array([str(v) for v in columns[1]]),
            "side": pa.array(columns[3]),
            "price": pa.array(columns[4], type=pa.float64(), from_pandas=True),
            "amount": pa.array(columns[5], type=pa.float64(), from_pandas=True),
        }
    )
    return read_freqtrade_trades_table(table, ctx)


def _taker_sells(side: np.ndarray, source: str) -> np.ndarray:
    lowered = np.char.lower(np.char.strip(side))
    bad = ~np.isin(lowered, ["buy", "sell"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise FormatError(
            f"side must be buy or sell, found {side[row - 1]!r}", path=source, row=row, field="side"
        )
    return np.asarray(lowered == "sell", dtype=bool)


def _candles(ts: np.ndarray, values: dict[str, np.ndarray], ctx: ReadContext) -> list[MarketFrame]:
    symbol = ctx.symbol()
    default = DataKind.FUTURES if symbol.is_perp else DataKind.SPOT
    kind = ctx.kind(_CANDLE_KINDS, default=default)
    exchange = ctx.exchange()
    if kind is DataKind.FUNDING:
        notes = [
            "funding rate read from the 'open' column (freqtrade funding_rate file); high/low/close/volume "
            "ignored; timestamps kept as stored (a few ms of jitter around the settlement time)",
        ]
        if ctx.name.timeframe:
            notes.append(
                f"file timeframe '{ctx.name.timeframe}' is freqtrade's label, not the settlement interval"
            )
        return [
            ctx.frame(
                DataKind.FUNDING,
                {"ts": ts, "rate": values["open"]},
                symbol=symbol,
                timeframe=EVENTS,
                exchange=exchange,
                notes=notes,
            )
        ]
    timeframe = ctx.timeframe()
    columns = {"ts": ts, **{k: values[k] for k in ("open", "high", "low", "close")}}
    notes = []
    if kind in _PRICE_ONLY:
        vol = values["volume"]
        if np.isnan(vol).all() or np.nan_to_num(vol).max() == 0:
            state = "NaN" if np.isnan(vol).all() else "0"
            notes.append(
                f"{kind.value} candles: volume ({state} in the file) carries no meaning and was dropped"
            )
        else:
            notes.append(
                f"{kind.value} candles: volume was dropped, but the file has non-zero volume: check that it "
                f"really holds {kind.value} prices and not trade-price candles"
            )
    else:
        columns["volume"] = values["volume"]
    return [ctx.frame(kind, columns, symbol=symbol, timeframe=timeframe, exchange=exchange, notes=notes)]


def _locate_bad_row(rows: list[Any], width: int, source: str) -> None:
    """Error path: raise at the first row that is not a list of ``width`` numbers (or trade fields)."""
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != width:
            found = len(row) if isinstance(row, list) else type(row).__name__
            raise FormatError(f"row must have {width} fields, found {found}", path=source, row=i)
        if width == len(CANDLE_COLUMNS):
            for name, value in zip(CANDLE_COLUMNS, row, strict=True):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise FormatError(f"not a number: {value!r}", path=source, row=i, field=name)
