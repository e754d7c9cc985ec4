"""What a file's name and folders say about its content: symbol, timeframe, kind, exchange, dataset.

Recognised spellings (case as the sources write them):

- Binance public archive: ``FILUSDT-1m-2023-04.csv.gz`` (klines; the folder ``markPriceKlines`` /
  ``indexPriceKlines`` / ``premiumIndexKlines`` / ``spot`` changes the kind), ``BTCUSDT-fundingRate-2024-01``,
  ``BTCUSDT-aggTrades-2024-01``, ``BTCUSDT-trades-2024-01``, ``BTCUSDT-bookTicker-2024-01-01``;
  COIN-M ``BTCUSD_PERP-1m-2024-01``.
- freqtrade (pairs upper-case, as freqtrade writes them): ``BTC_USDT_USDT-8h-funding_rate.feather``, ``BTC_USDT-5m.json``, ``BTC_USDT_USDT-trades.feather``.
- Others seen in the wild: ``usdm_btcusdt_20240808.jsonl.gz`` (hftbacktest capture),
  ``binance_spot_btcusdt-trades.parquet``, ``bybit_linear_xrpusdt-ob500.data.zip``,
  ``btc-perp-20211231-20220201_1m.csv.gz`` (FTX-style perp name).

Nothing here reads the file; content-based facts (a symbol column, a stream name) take precedence
over the name in the readers, and caller hints over both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.timeframes import is_timeframe
from autoperp.core.types import DataKind

_STRIP_SUFFIXES = (".gz", ".zip", ".csv", ".feather", ".parquet", ".json", ".jsonl", ".data", ".txt")
_BINANCE_TF = r"\d+[mhdw]|1mo|1M"
_DATE = r"\d{4}-\d{2}(?:-\d{2})?"
_BINANCE_KLINE_RE = re.compile(
    rf"^(?P<sym>[A-Z0-9]+(?:_PERP|_\d{{6}})?)-(?P<tf>{_BINANCE_TF})-(?P<date>{_DATE})$"
)
_BINANCE_DATASET_RE = re.compile(
    rf"^(?P<sym>[A-Z0-9]+(?:_PERP|_\d{{6}})?)-(?P<ds>fundingRate|aggTrades|trades|bookTicker|bookDepth)"
    rf"-(?P<date>{_DATE})$"
)
_FREQTRADE_RE = re.compile(
    r"^(?P<pair>[A-Z0-9]+_[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<tf>\d+[mhdwM])"
    r"(?:-(?P<ct>futures|spot|mark|index|premiumIndex|funding_rate))?$"
)
_FREQTRADE_TRADES_RE = re.compile(r"^(?P<pair>[A-Z0-9]+_[A-Z0-9]+(?:_[A-Z0-9]+)?)-trades$")
_PERP_NAME_RE = re.compile(r"(?:^|[_\-.])(?P<base>[A-Za-z0-9]{2,10})-perp(?:$|[_\-.])", re.IGNORECASE)
_TOKEN_SPLIT_RE = re.compile(r"[_\-.\s]+")
_EXCHANGE_ID_RE = re.compile(r"^[A-Za-z0-9]{2,20}(USDT|USDC|BUSD|FDUSD|USD)$", re.IGNORECASE)

_KIND_BY_FOLDER = {
    "markpriceklines": DataKind.MARK,
    "indexpriceklines": DataKind.INDEX,
    "premiumindexklines": DataKind.PREMIUM,
}
_KIND_BY_CANDLE_TYPE = {
    "futures": DataKind.FUTURES,
    "spot": DataKind.SPOT,
    "mark": DataKind.MARK,
    "index": DataKind.INDEX,
    "premiumIndex": DataKind.PREMIUM,
    "funding_rate": DataKind.FUNDING,
}
_DATASET_KIND = {
    "fundingRate": DataKind.FUNDING,
    "aggTrades": DataKind.TRADES,
    "trades": DataKind.TRADES,
    "bookTicker": DataKind.QUOTES,
    "bookDepth": DataKind.BOOK,
}


@dataclass(frozen=True)
class NameInfo:
    """Facts read off a path. ``dataset`` names the source family ('klines', 'aggTrades', 'freqtrade'...)."""

    symbol: Symbol | None = None
    timeframe: str | None = None
    kind: DataKind | None = None
    exchange: str | None = None
    dataset: str | None = None
    spot: bool | None = None  # True/False when the name or folders say so
    notes: tuple[str, ...] = field(default_factory=tuple)


def strip_suffixes(name: str) -> str:
    """'FILUSDT-1m-2023-04.csv.gz' -> 'FILUSDT-1m-2023-04'."""
    stem = name
    changed = True
    while changed:
        changed = False
        for suffix in _STRIP_SUFFIXES:
            if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                changed = True
    return stem


def folder_tokens(path: PurePath) -> list[str]:
    """Lower-cased folder names of ``path`` (not the file name)."""
    return [p.lower() for p in path.parts[:-1]]


def infer_from_name(path: PurePath, member_name: str | None = None) -> NameInfo:
    """Everything the path says; ``member_name`` (inside a zip) is tried when the outer name says nothing."""
    info = _infer_stem(path, strip_suffixes(path.name))
    if member_name is not None and info.dataset is None:
        inner = _infer_stem(path, strip_suffixes(member_name))
        if inner.dataset is not None:
            info = inner
    return info


def _market_from_folders(folders: list[str]) -> tuple[bool | None, str | None]:
    """(spot?, exchange) from data.binance.vision folder names."""
    if "spot" in folders:
        return True, "binance"
    if "cm" in folders:
        return False, "binancecoinm"
    if "um" in folders or "futures" in folders:
        return False, "binanceusdm"
    return None, None


def symbol_from_exchange_id(exchange_id: str, *, spot: bool) -> Symbol:
    """'BTCUSDT' -> BTC/USDT:USDT (or BTC/USDT spot); COIN-M 'BTCUSD_PERP' -> BTC/USD:BTC."""
    text = exchange_id.strip().upper()
    if "_" in text:  # COIN-M perpetual or delivery contract: settled in the base coin
        head = text.split("_", 1)[0]
        if head.endswith("USD") and len(head) > 3:
            return Symbol(head[:-3], "USD", head[:-3])
    return Symbol.from_exchange_id(text, perp=not spot)


def _infer_stem(path: PurePath, stem: str) -> NameInfo:
    folders = folder_tokens(path)
    spot, exchange = _market_from_folders(folders)
    folder_kind = next((_KIND_BY_FOLDER[f] for f in folders if f in _KIND_BY_FOLDER), None)

    m = _BINANCE_KLINE_RE.match(stem)
    if m:
        is_spot = bool(spot)
        kind = folder_kind or (DataKind.SPOT if is_spot else DataKind.FUTURES)
        return NameInfo(
            symbol=_safe(lambda: symbol_from_exchange_id(m["sym"], spot=is_spot)),
            timeframe=_timeframe(m["tf"]),
            kind=kind,
            exchange=exchange or ("binance" if is_spot else _binance_exchange(m["sym"])),
            dataset="klines",
            spot=is_spot,
        )
    m = _BINANCE_DATASET_RE.match(stem)
    if m:
        is_spot = bool(spot)
        return NameInfo(
            symbol=_safe(lambda: symbol_from_exchange_id(m["sym"], spot=is_spot)),
            kind=_DATASET_KIND[m["ds"]],
            exchange=exchange or ("binance" if is_spot else _binance_exchange(m["sym"])),
            dataset=m["ds"],
            spot=is_spot,
        )
    m = _FREQTRADE_RE.match(stem)
    if m:
        sym = _safe(lambda: Symbol.from_file_stem(m["pair"]))
        candle_type = m["ct"] or ("futures" if sym is not None and sym.is_perp else "spot")
        kind = _KIND_BY_CANDLE_TYPE[candle_type]
        is_spot = sym is not None and not sym.is_perp
        return NameInfo(
            symbol=sym,
            timeframe=_timeframe(m["tf"]),
            kind=kind,
            exchange=exchange or _exchange_from_tokens(folders) or ("binance" if is_spot else "binanceusdm"),
            dataset="freqtrade",
            spot=is_spot,
        )
    m = _FREQTRADE_TRADES_RE.match(stem)
    if m:
        sym = _safe(lambda: Symbol.from_file_stem(m["pair"]))
        is_spot = sym is not None and not sym.is_perp
        return NameInfo(
            symbol=sym,
            kind=DataKind.TRADES,
            exchange=exchange or _exchange_from_tokens(folders) or ("binance" if is_spot else "binanceusdm"),
            dataset="freqtrade_trades",
            spot=is_spot,
        )
    return _infer_loose(stem, folders, spot, exchange, folder_kind)


def _infer_loose(
    stem: str,
    folders: list[str],
    spot: bool | None,
    exchange: str | None,
    folder_kind: DataKind | None,
) -> NameInfo:
    """Token-based guesses for names that follow no archive convention."""
    notes: list[str] = []
    tokens = [t for t in _TOKEN_SPLIT_RE.split(stem) if t]
    lower = [t.lower() for t in tokens]
    if spot is None:
        if "spot" in lower:
            spot = True
        elif any(t in ("um", "usdm", "futures", "perp", "linear", "swap") for t in lower):
            spot = False
    exchange = exchange or _exchange_from_tokens(lower + folders)
    symbol: Symbol | None = None
    m = _PERP_NAME_RE.search(stem)
    if m:
        symbol = Symbol(m["base"].upper(), "USD", "USD")
        spot = False
        if exchange is None:
            exchange = "ftx"
            notes.append(
                f"exchange guessed as FTX from the '{m['base'].upper()}-PERP' spelling in the file name; "
                "the source is not certain"
            )
    if symbol is None:
        for tok in tokens:
            if _EXCHANGE_ID_RE.match(tok) and not tok.isdigit():
                symbol = _safe(lambda tok=tok: symbol_from_exchange_id(tok, spot=bool(spot)))
                if symbol is not None:
                    break
    timeframe = next((t for t in tokens if is_timeframe(t)), None)
    if spot and exchange == "binanceusdm":
        exchange = "binance"
    if exchange is None and (spot is not None or symbol is not None):
        exchange = "binance" if spot else "binanceusdm"
    return NameInfo(
        symbol=symbol,
        timeframe=timeframe,
        kind=folder_kind,
        exchange=exchange,
        dataset=None,
        spot=spot,
        notes=tuple(notes),
    )


def _exchange_from_tokens(tokens: list[str]) -> str | None:
    for tok in tokens:
        if tok in ("bybit", "okx", "ftx", "bitmex", "deribit", "kraken", "coinbase"):
            return tok
        if tok in ("binanceusdm", "binancecoinm"):
            return tok
    return None


def _binance_exchange(exchange_id: str) -> str:
    return "binancecoinm" if "_" in exchange_id else "binanceusdm"


def _timeframe(text: str) -> str | None:
    return text if is_timeframe(text) else None


def _safe(make: object) -> Symbol | None:
    """Run a symbol constructor, returning None when the name part is not a symbol."""
    try:
        return make()  # type: ignore[operator,no-any-return]
    except UsageError:
        return None
