"""Readers for every market-data file format autoperp imports.

:func:`read_file` is the entry point: it decompresses (plain, .gz, .zip), sniffs the layout from the
content and name, infers symbol/timeframe/kind from the name when not given, and returns MarketFrames in
canonical columns (``autoperp.data.schema``). Readers never sort, deduplicate, drop or repair rows:
validation sees the data as the file has it. Every parse problem raises
:class:`~autoperp.core.errors.FormatError` with the file, the 1-based data row and the column when known.

Supported layouts: see :class:`Layout` and ``SUPPORTED_LAYOUTS_TEXT``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePath

from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.timeframes import is_timeframe
from autoperp.core.types import DataKind
from autoperp.data.readers.arrow_files import read_arrow_file
from autoperp.data.readers.binance_book_ticker import read_binance_book_ticker
from autoperp.data.readers.binance_funding import read_binance_funding
from autoperp.data.readers.binance_klines import read_binance_klines
from autoperp.data.readers.binance_trades import read_binance_agg_trades, read_binance_trades
from autoperp.data.readers.bybit import read_bybit_orderbook
from autoperp.data.readers.containers import Member, open_members
from autoperp.data.readers.context import ReadContext, ReadOptions
from autoperp.data.readers.csv_table import UTF8_BOM
from autoperp.data.readers.depth_rows import read_depth_rows
from autoperp.data.readers.freqtrade import read_freqtrade_json
from autoperp.data.readers.layouts import SUPPORTED_LAYOUTS_TEXT, Layout, detect_layout
from autoperp.data.readers.naming import NameInfo, infer_from_name
from autoperp.data.readers.news import read_news_csv
from autoperp.data.readers.ohlcv_csv import read_ohlcv_csv
from autoperp.data.readers.tardis import read_tardis_book
from autoperp.data.readers.ws_capture import read_ws_capture
from autoperp.data.schema import MarketFrame

__all__ = [
    "SUPPORTED_LAYOUTS_TEXT",
    "SUPPORTED_SUFFIXES",
    "Layout",
    "NameInfo",
    "ReadOptions",
    "infer_from_name",
    "is_supported",
    "read_file",
    "read_files",
    "sniff_layout",
]

#: File endings a directory import should pick up (lower-case comparison).
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".csv",
    ".csv.gz",
    ".zip",
    ".feather",
    ".parquet",
    ".json",
    ".json.gz",
    ".jsonl",
    ".jsonl.gz",
    ".data",
    ".data.gz",
)

_Reader = Callable[[bytes, ReadContext], list[MarketFrame]]
_READERS: dict[Layout, _Reader] = {
    Layout.BINANCE_KLINES: read_binance_klines,
    Layout.BINANCE_FUNDING: read_binance_funding,
    Layout.BINANCE_AGG_TRADES: read_binance_agg_trades,
    Layout.BINANCE_TRADES: read_binance_trades,
    Layout.BINANCE_BOOK_TICKER: read_binance_book_ticker,
    Layout.BINANCE_DEPTH_ROWS: read_depth_rows,
    Layout.BINANCE_WS_CAPTURE: read_ws_capture,
    Layout.TARDIS_BOOK_SNAPSHOT: read_tardis_book,
    Layout.BYBIT_ORDERBOOK: read_bybit_orderbook,
    Layout.FREQTRADE_JSON: read_freqtrade_json,
    Layout.FEATHER: lambda data, ctx: read_arrow_file(data, "feather", ctx),
    Layout.PARQUET: lambda data, ctx: read_arrow_file(data, "parquet", ctx),
    Layout.OHLCV_CSV: read_ohlcv_csv,
    Layout.NEWS_CSV: read_news_csv,
}


def is_supported(path: str | Path) -> bool:
    """True when ``path``'s name ends with one of :data:`SUPPORTED_SUFFIXES` (hidden files excluded)."""
    name = PurePath(path).name
    return not name.startswith(".") and name.lower().endswith(SUPPORTED_SUFFIXES)


def read_file(
    path: str | Path,
    *,
    kind: DataKind | None = None,
    symbol: Symbol | None = None,
    timeframe: str | None = None,
    exchange: str | None = None,
    snapshot_interval_ms: int = 1000,
    depth: int | None = 20,
) -> list[MarketFrame]:
    """Read one data file into MarketFrames (one per series it holds, in file order).

    ``kind``/``symbol``/``timeframe``/``exchange`` override what the name and content say.
    ``snapshot_interval_ms`` (ms) and ``depth`` (levels per side; None = all) shape order-book snapshots
    that are rebuilt from diffs (websocket capture, depth rows, Bybit orderbook). A websocket capture
    yields BOOK, TRADES and QUOTES frames; ``kind=`` selects one of them (and skips the book rebuild
    unless it is BOOK). Raises :class:`FormatError` for anything the file or its name cannot answer.
    """
    options = _options(kind, symbol, timeframe, exchange, snapshot_interval_ms, depth)
    p = Path(path)
    frames: list[MarketFrame] = []
    for member in open_members(p):
        frames.extend(_read_member(p, member, options))
    return frames


def read_files(
    paths: Sequence[str | Path], *, max_workers: int | None = None, **hints: object
) -> list[list[MarketFrame]]:
    """:func:`read_file` over many files in a thread pool (decompression and parsing release the GIL).

    Results are in the order of ``paths``; the first error raised is re-raised.
    """
    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(read_file, p, **hints) for p in paths]  # type: ignore[arg-type]
        return [f.result() for f in futures]


def sniff_layout(path: str | Path) -> list[Layout]:
    """The layout of each data member of ``path`` (one for plain/gz files), without parsing it fully."""
    p = Path(path)
    return [detect_layout(m, infer_from_name(p, m.name)) for m in open_members(p)]


def _read_member(path: Path, member: Member, options: ReadOptions) -> list[MarketFrame]:
    if member.data.startswith(UTF8_BOM):  # spreadsheet exports start with a byte-order mark
        member = Member(member.name, member.data[len(UTF8_BOM) :], member.source)
    name = infer_from_name(path, member.name)
    layout = detect_layout(member, name)
    ctx = ReadContext(source=member.source, options=options, name=name)
    return _READERS[layout](member.data, ctx)


def _options(
    kind: DataKind | None,
    symbol: Symbol | None,
    timeframe: str | None,
    exchange: str | None,
    snapshot_interval_ms: int,
    depth: int | None,
) -> ReadOptions:
    if kind is not None and not isinstance(kind, DataKind):
        try:
            kind = DataKind(kind)
        except ValueError:
            raise UsageError(
                f"unknown kind '{kind}': use one of {', '.join(k.value for k in DataKind)}"
            ) from None
    if symbol is not None and not isinstance(symbol, Symbol):
        symbol = Symbol.parse(str(symbol))
    if timeframe is not None and not is_timeframe(timeframe):
        raise UsageError(f"unknown timeframe '{timeframe}': use e.g. 1m, 5m, 1h, 1d")
    if snapshot_interval_ms <= 0:
        raise UsageError("snapshot_interval_ms must be a positive number of milliseconds")
    if depth is not None and depth <= 0:
        raise UsageError("depth must be a positive number of levels per side (or None for all)")
    return ReadOptions(
        kind=kind,
        symbol=symbol,
        timeframe=timeframe,
        exchange=exchange,
        snapshot_interval_ms=int(snapshot_interval_ms),
        depth=depth,
    )
