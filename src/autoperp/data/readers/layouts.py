"""Which layout a (decompressed) file has, sniffed from its first bytes, with the file name as tie-breaker."""

from __future__ import annotations

import re
from enum import StrEnum

from autoperp.core.errors import FormatError
from autoperp.data.readers.arrow_files import FEATHER_MAGICS, PARQUET_MAGIC
from autoperp.data.readers.binance_book_ticker import BOOK_TICKER_COLUMNS
from autoperp.data.readers.binance_funding import FUNDING_COLUMNS
from autoperp.data.readers.binance_klines import KLINE_COLUMNS
from autoperp.data.readers.binance_trades import AGG_TRADES_COLUMNS, TRADES_COLUMNS
from autoperp.data.readers.containers import Member
from autoperp.data.readers.csv_table import UTF8_BOM, first_line, looks_like_header, split_fields
from autoperp.data.readers.depth_rows import is_depth_row_layout
from autoperp.data.readers.naming import NameInfo
from autoperp.data.readers.news import is_news_header
from autoperp.data.readers.ohlcv_csv import ohlcv_time_column
from autoperp.data.readers.tardis import is_tardis_header

_WS_LINE_RE = re.compile(rb"^\d{10,20} \{")
_BOOL_WORDS = ("true", "false", "True", "False", "TRUE", "FALSE")


class Layout(StrEnum):
    """Every file layout the readers understand."""

    BINANCE_KLINES = "binance_klines"
    BINANCE_FUNDING = "binance_funding_rate"
    BINANCE_AGG_TRADES = "binance_agg_trades"
    BINANCE_TRADES = "binance_trades"
    BINANCE_BOOK_TICKER = "binance_book_ticker"
    BINANCE_DEPTH_ROWS = "binance_depth_rows"
    BINANCE_WS_CAPTURE = "binance_ws_capture"
    TARDIS_BOOK_SNAPSHOT = "tardis_book_snapshot"
    BYBIT_ORDERBOOK = "bybit_orderbook"
    FREQTRADE_JSON = "freqtrade_json"
    FEATHER = "feather"
    PARQUET = "parquet"
    OHLCV_CSV = "ohlcv_csv"
    NEWS_CSV = "news_csv"


SUPPORTED_LAYOUTS_TEXT = (
    "Binance archive CSV (klines, mark/index/premium klines, fundingRate, aggTrades, trades, bookTicker, "
    "depth rows), Binance websocket capture (.jsonl), Tardis book_snapshot CSV, Bybit orderbook .data, "
    "freqtrade feather/parquet/json, trade/quote tick parquet, OHLCV CSV, NewsAPI CSV"
)

_DATASET_LAYOUT = {
    "klines": Layout.BINANCE_KLINES,
    "fundingRate": Layout.BINANCE_FUNDING,
    "aggTrades": Layout.BINANCE_AGG_TRADES,
    "trades": Layout.BINANCE_TRADES,
    "bookTicker": Layout.BINANCE_BOOK_TICKER,
}


def detect_layout(member: Member, name: NameInfo) -> Layout:
    """The layout of ``member``; raise :class:`FormatError` (listing what is supported) when unknown."""
    data = member.data
    if data.startswith(FEATHER_MAGICS):
        return Layout.FEATHER
    if data.startswith(PARQUET_MAGIC):
        return Layout.PARQUET
    head = data[:4096].removeprefix(UTF8_BOM).lstrip()
    if not head:
        raise FormatError("file is empty", path=member.source)
    if head.startswith(b"["):
        return Layout.FREQTRADE_JSON
    if head.startswith(b"{"):
        line = head.split(b"\n", 1)[0]
        if b'"topic"' in line and b"orderbook" in line:
            return Layout.BYBIT_ORDERBOOK
        raise FormatError(
            "unknown JSON-lines layout (expected Bybit orderbook messages with 'topic'); supported: "
            + SUPPORTED_LAYOUTS_TEXT,
            path=member.source,
        )
    if _WS_LINE_RE.match(head):
        return Layout.BINANCE_WS_CAPTURE
    return _detect_csv(member, name)


def _detect_csv(member: Member, name: NameInfo) -> Layout:
    line = first_line(member.data.removeprefix(UTF8_BOM))
    fields = split_fields(line)
    lowered = [f.lower() for f in fields]
    if looks_like_header(line):
        by_header = {
            tuple(KLINE_COLUMNS): Layout.BINANCE_KLINES,
            tuple(FUNDING_COLUMNS): Layout.BINANCE_FUNDING,
            tuple(AGG_TRADES_COLUMNS): Layout.BINANCE_AGG_TRADES,
            (*AGG_TRADES_COLUMNS, "is_best_match"): Layout.BINANCE_AGG_TRADES,
            tuple(TRADES_COLUMNS): Layout.BINANCE_TRADES,
            (*TRADES_COLUMNS, "is_best_match"): Layout.BINANCE_TRADES,
            tuple(BOOK_TICKER_COLUMNS): Layout.BINANCE_BOOK_TICKER,
        }
        layout = by_header.get(tuple(lowered))
        if layout is not None:
            return layout
        if is_depth_row_layout(fields):
            return Layout.BINANCE_DEPTH_ROWS
        if is_tardis_header(fields):
            return Layout.TARDIS_BOOK_SNAPSHOT
        if is_news_header(fields):
            return Layout.NEWS_CSV
        if lowered[0] == "open_time" and len(lowered) == len(KLINE_COLUMNS):
            return Layout.BINANCE_KLINES  # the kline reader reports what differs in the header
        if ohlcv_time_column(fields) is not None:
            return Layout.OHLCV_CSV
        raise FormatError(
            f"unknown CSV layout with header {fields[:8]}{'...' if len(fields) > 8 else ''}; supported: "
            + SUPPORTED_LAYOUTS_TEXT,
            path=member.source,
        )
    if name.dataset in _DATASET_LAYOUT:
        return _DATASET_LAYOUT[name.dataset]
    n = len(fields)
    if n == len(KLINE_COLUMNS):
        return Layout.BINANCE_KLINES
    if n == len(FUNDING_COLUMNS):
        return Layout.BINANCE_FUNDING
    if n in (6, 7) and fields[5] in _BOOL_WORDS:
        return Layout.BINANCE_TRADES
    if n in (7, 8) and fields[6] in _BOOL_WORDS:
        return Layout.BINANCE_AGG_TRADES
    raise FormatError(
        f"unknown headerless CSV layout ({n} fields in the first row) and the file name says nothing "
        "(Binance archive names look like BTCUSDT-1m-2024-01.zip); supported: " + SUPPORTED_LAYOUTS_TEXT,
        path=member.source,
    )
