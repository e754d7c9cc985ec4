"""Canonical column layouts of every data kind. Readers produce them; the store and validation consume them.

All times are int64 ms UTC in column ``ts`` (a bar's open time, a trade's time, a funding settlement time).
Prices are float64 in quote currency (USDT), sizes float64 in base units unless named ``quote_*``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind

#: Candle columns every candle frame has, in this order.
CANDLE_REQUIRED: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume")
#: Optional candle columns (Binance archive klines have them; freqtrade files do not).
CANDLE_OPTIONAL: tuple[str, ...] = (
    "quote_volume",
    "trades",
    "taker_buy_volume",
    "taker_buy_quote_volume",
)
#: Mark/index/premium klines carry no meaningful volume.
PRICE_ONLY_REQUIRED: tuple[str, ...] = ("ts", "open", "high", "low", "close")
FUNDING_REQUIRED: tuple[str, ...] = ("ts", "rate")
FUNDING_OPTIONAL: tuple[str, ...] = ("interval_h", "mark_price")
#: ``is_buyer_maker`` True = the aggressor sold. ``id`` is the aggTrade/trade id when known.
TRADES_REQUIRED: tuple[str, ...] = ("ts", "price", "qty", "is_buyer_maker")
TRADES_OPTIONAL: tuple[str, ...] = ("id", "first_id", "last_id")
QUOTES_REQUIRED: tuple[str, ...] = ("ts", "bid", "bid_qty", "ask", "ask_qty")
#: Long-format L2 snapshots: one row per (snapshot ts, side, level). side: +1 bid, -1 ask; level 0 = best.
BOOK_REQUIRED: tuple[str, ...] = ("ts", "side", "level", "price", "qty")
NEWS_REQUIRED: tuple[str, ...] = ("ts", "source", "title")
NEWS_OPTIONAL: tuple[str, ...] = ("description", "url", "author")

DTYPES: dict[str, str] = {
    "ts": "int64",
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "volume": "float64",
    "quote_volume": "float64",
    "trades": "int64",
    "taker_buy_volume": "float64",
    "taker_buy_quote_volume": "float64",
    "rate": "float64",
    "interval_h": "float64",
    "mark_price": "float64",
    "price": "float64",
    "qty": "float64",
    "is_buyer_maker": "bool",
    "id": "int64",
    "first_id": "int64",
    "last_id": "int64",
    "bid": "float64",
    "bid_qty": "float64",
    "ask": "float64",
    "ask_qty": "float64",
    "side": "int8",
    "level": "int16",
    "source": "string",
    "title": "string",
    "description": "string",
    "url": "string",
    "author": "string",
}


def required_columns(kind: DataKind) -> tuple[str, ...]:
    """Columns a frame of ``kind`` must have."""
    if kind in (DataKind.FUTURES, DataKind.SPOT):
        return CANDLE_REQUIRED
    if kind.is_candles:
        return PRICE_ONLY_REQUIRED
    return {
        DataKind.FUNDING: FUNDING_REQUIRED,
        DataKind.TRADES: TRADES_REQUIRED,
        DataKind.QUOTES: QUOTES_REQUIRED,
        DataKind.BOOK: BOOK_REQUIRED,
        DataKind.NEWS: NEWS_REQUIRED,
    }[kind]


def optional_columns(kind: DataKind) -> tuple[str, ...]:
    """Columns a frame of ``kind`` may also have."""
    if kind in (DataKind.FUTURES, DataKind.SPOT):
        return CANDLE_OPTIONAL
    if kind.is_candles:
        return ("volume",)
    return {
        DataKind.FUNDING: FUNDING_OPTIONAL,
        DataKind.TRADES: TRADES_OPTIONAL,
        DataKind.NEWS: NEWS_OPTIONAL,
    }.get(kind, ())


#: The pseudo-timeframe of series that are not bars (trades, quotes, book, funding events, news).
EVENTS = "events"
#: The pseudo-symbol of market-wide series (news).
MARKET_WIDE = Symbol("ALL", "MARKET")


@dataclass
class MarketFrame:
    """One series as a reader produced it, before validation and storage.

    ``frame`` holds the canonical columns of ``kind`` (see :func:`required_columns`), in file order:
    readers never sort, deduplicate or drop rows, so validation can name the offending source row.
    ``row_offset`` maps frame index i to source row ``i + row_offset`` (1-based data rows).
    """

    kind: DataKind
    symbol: Symbol
    timeframe: str  # '1m'... for candles, EVENTS otherwise
    frame: pd.DataFrame
    source: str  # path or URL it came from
    exchange: str = "binanceusdm"
    row_offset: int = 1
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> np.ndarray:
        """A column as a contiguous numpy array (no copy when already contiguous)."""
        return np.ascontiguousarray(self.frame[name].to_numpy())
