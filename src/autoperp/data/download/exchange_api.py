"""The second source: Binance USD-M REST endpoints through ccxt, for what the archive has not published yet.

Only ccxt's raw implicit endpoints are used (``fapiPublicGetKlines`` ...), so no ``load_markets`` round trip
is needed and answers are the archive's rows in JSON. ``api_url`` replaces ``https://fapi.binance.com`` in
every fapi base URL (tests point it at a loopback server).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from autoperp.core.errors import DownloadError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_HOUR
from autoperp.core.timeframes import timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.readers.binance_klines import KLINE_COLUMNS, KLINE_TO_CANONICAL
from autoperp.data.schema import DTYPES, EVENTS, MarketFrame

FAPI_HOST = "https://fapi.binance.com"
KLINE_LIMIT = 1500
FUNDING_LIMIT = 1000
TRADES_LIMIT = 1000

#: (ccxt implicit method, REST path, name of the symbol parameter) per candle kind.
_KLINE_ENDPOINTS: dict[DataKind, tuple[str, str, str]] = {
    DataKind.FUTURES: ("fapiPublicGetKlines", "klines", "symbol"),
    DataKind.MARK: ("fapiPublicGetMarkPriceKlines", "markPriceKlines", "symbol"),
    DataKind.INDEX: ("fapiPublicGetIndexPriceKlines", "indexPriceKlines", "pair"),
    DataKind.PREMIUM: ("fapiPublicGetPremiumIndexKlines", "premiumIndexKlines", "symbol"),
}
# the REST kline arrays have the archive's column order; name them as the store does
_KLINE_FIELDS = tuple(KLINE_TO_CANONICAL.get(c, c) for c in KLINE_COLUMNS)
_FUTURES_COLUMNS = (
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_volume",
    "taker_buy_quote_volume",
)
_PRICE_COLUMNS = ("ts", "open", "high", "low", "close")


def make_exchange(
    *, timeout_s: float = 30.0, api_url: str | None = None, enable_rate_limit: bool = True
) -> Any:
    """A ccxt ``binanceusdm`` instance, its fapi URLs moved to ``api_url`` when given."""
    import ccxt  # imported here: ccxt takes most of a second to import

    ex = ccxt.binanceusdm({"enableRateLimit": enable_rate_limit, "timeout": int(timeout_s * 1000)})
    if api_url:
        base = api_url.rstrip("/")
        for name, url in list(ex.urls["api"].items()):
            if isinstance(url, str) and url.startswith(FAPI_HOST):
                ex.urls["api"][name] = base + url[len(FAPI_HOST) :]
    return ex


class BinanceUsdmApi:
    """Fetches klines, funding and aggTrades for ``[start_ms, end_ms)`` as :class:`MarketFrame` objects."""

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        api_url: str | None = None,
        exchange: Any = None,
        enable_rate_limit: bool = True,
        exchange_name: str = "binanceusdm",
    ) -> None:
        self._exchange = exchange
        self._factory = lambda: make_exchange(
            timeout_s=timeout_s, api_url=api_url, enable_rate_limit=enable_rate_limit
        )
        self.retries = retries
        self.backoff_s = backoff_s
        self.exchange_name = exchange_name
        self.requests = 0

    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            self._exchange = self._factory()
        return self._exchange

    def base_url(self) -> str:
        return str(self.exchange.urls["api"]["fapiPublic"])

    def _call(self, method: str, params: dict[str, Any], symbol: Symbol) -> Any:
        import ccxt

        fn: Callable[[dict[str, Any]], Any] = getattr(self.exchange, method)
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                return fn(params)
            except ccxt.BadSymbol as e:
                raise UsageError(f"{symbol.ccxt} is not a Binance USD-M perpetual ({e})") from None
            except ccxt.NetworkError as e:
                if attempt == self.retries:
                    raise DownloadError(
                        f"{self.base_url()} {method} {params}: {type(e).__name__}: {e} "
                        f"(gave up after {self.retries + 1} attempts)"
                    ) from None
            except ccxt.BaseError as e:
                raise DownloadError(f"{self.base_url()} {method} {params}: {type(e).__name__}: {e}") from None
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    # -- endpoints ---------------------------------------------------------------------------------
    def fetch(
        self, kind: DataKind, symbol: Symbol, timeframe: str, start_ms: int, end_ms: int, now_ms: int
    ) -> MarketFrame | None:
        """Rows of one series in ``[start_ms, end_ms)``; ``None`` when the exchange has none.
        Candles that have not closed by ``now_ms`` are left out (they would change later)."""
        if kind.is_candles:
            return self.klines(kind, symbol, timeframe, start_ms, end_ms, now_ms)
        if kind is DataKind.FUNDING:
            return self.funding(symbol, start_ms, end_ms)
        if kind is DataKind.TRADES:
            return self.agg_trades(symbol, start_ms, end_ms)
        raise UsageError(f"the Binance USD-M API does not serve '{kind.value}' data")

    def klines(
        self, kind: DataKind, symbol: Symbol, timeframe: str, start_ms: int, end_ms: int, now_ms: int
    ) -> MarketFrame | None:
        method, path, sym_param = _KLINE_ENDPOINTS[kind]
        step = timeframe_ms(timeframe)
        rows: list[list[Any]] = []
        cursor = start_ms
        while cursor < end_ms:
            params = {
                sym_param: symbol.exchange_id,
                "interval": timeframe,
                "startTime": cursor,
                "endTime": end_ms - 1,
                "limit": KLINE_LIMIT,
            }
            batch = self._call(method, params, symbol)
            if not batch:
                break
            rows.extend(batch)
            nxt = int(batch[-1][0]) + step
            if nxt <= cursor or len(batch) < KLINE_LIMIT:
                break
            cursor = nxt
        if not rows:
            return None
        df = pd.DataFrame([r[: len(_KLINE_FIELDS)] for r in rows], columns=list(_KLINE_FIELDS))
        cols = _FUTURES_COLUMNS if kind in (DataKind.FUTURES, DataKind.SPOT) else _PRICE_COLUMNS
        df = _typed(df[list(cols)])
        ts = df["ts"].to_numpy()
        df = df[(ts >= start_ms) & (ts < end_ms) & (ts + step <= now_ms)]
        df = df.drop_duplicates("ts").sort_values("ts", kind="stable").reset_index(drop=True)
        return self._frame(kind, symbol, timeframe, df, path, start_ms, end_ms)

    def funding(self, symbol: Symbol, start_ms: int, end_ms: int) -> MarketFrame | None:
        rows: list[dict[str, Any]] = []
        cursor = start_ms
        while cursor < end_ms:
            params = {
                "symbol": symbol.exchange_id,
                "startTime": cursor,
                "endTime": end_ms - 1,
                "limit": FUNDING_LIMIT,
            }
            batch = self._call("fapiPublicGetFundingRate", params, symbol)
            if not batch:
                break
            rows.extend(batch)
            nxt = int(batch[-1]["fundingTime"]) + 1
            if nxt <= cursor or len(batch) < FUNDING_LIMIT:
                break
            cursor = nxt
        if not rows:
            return None
        # fundingTime carries a few ms of jitter in some periods; settlements are on whole seconds
        ts = (np.array([int(r["fundingTime"]) for r in rows], dtype=np.int64) + 500) // 1000 * 1000
        df = pd.DataFrame({"ts": ts, "rate": [float(r["fundingRate"]) for r in rows]})
        df = df[(ts >= start_ms) & (ts < end_ms)].drop_duplicates("ts").sort_values("ts", kind="stable")
        df = df.reset_index(drop=True)
        df["interval_h"] = infer_interval_h(df["ts"].to_numpy())
        df = _typed(df)
        return self._frame(
            DataKind.FUNDING, symbol, EVENTS, df.reset_index(drop=True), "fundingRate", start_ms, end_ms
        )

    def agg_trades(self, symbol: Symbol, start_ms: int, end_ms: int) -> MarketFrame | None:
        """aggTrades in windows of under an hour (the endpoint's limit), paging by id inside a window."""
        rows: list[dict[str, Any]] = []
        w = start_ms
        while w < end_ms:
            w_end = min(w + MS_PER_HOUR, end_ms)
            params: dict[str, Any] = {
                "symbol": symbol.exchange_id,
                "startTime": w,
                "endTime": w_end - 1,
                "limit": TRADES_LIMIT,
            }
            batch = self._call("fapiPublicGetAggTrades", params, symbol)
            while batch:
                rows.extend(t for t in batch if int(t["T"]) < w_end)
                if len(batch) < TRADES_LIMIT or int(batch[-1]["T"]) >= w_end:
                    break
                params = {
                    "symbol": symbol.exchange_id,
                    "fromId": int(batch[-1]["a"]) + 1,
                    "limit": TRADES_LIMIT,
                }
                batch = self._call("fapiPublicGetAggTrades", params, symbol)
            w = w_end
        if not rows:
            return None
        df = pd.DataFrame(
            {
                "ts": [int(t["T"]) for t in rows],
                "price": [float(t["p"]) for t in rows],
                "qty": [float(t["q"]) for t in rows],
                "is_buyer_maker": [bool(t["m"]) for t in rows],
                "id": [int(t["a"]) for t in rows],
                "first_id": [int(t["f"]) for t in rows],
                "last_id": [int(t["l"]) for t in rows],
            }
        )
        df = _typed(df).drop_duplicates("id").sort_values("id", kind="stable").reset_index(drop=True)
        return self._frame(DataKind.TRADES, symbol, EVENTS, df, "aggTrades", start_ms, end_ms)

    def _frame(
        self,
        kind: DataKind,
        symbol: Symbol,
        timeframe: str,
        df: pd.DataFrame,
        path: str,
        start: int,
        end: int,
    ) -> MarketFrame | None:
        if df.empty:
            return None
        source = f"{self.base_url()}/{path}?symbol={symbol.exchange_id}&startTime={start}&endTime={end - 1}"
        return MarketFrame(kind, symbol, timeframe, df, source, exchange=self.exchange_name)


def infer_interval_h(ts: np.ndarray, default: float = 8.0) -> np.ndarray:
    """Funding interval of each settlement in hours: the time since the previous one (the first row takes
    the next spacing; a lone row gets ``default``), as the archive's ``funding_interval_hours`` reads."""
    if len(ts) < 2:
        return np.full(len(ts), default)
    step = np.diff(np.asarray(ts, dtype=np.int64)) / MS_PER_HOUR
    return np.clip(np.round(np.concatenate([step[:1], step])), 1.0, 24.0)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Cast columns to the canonical dtypes of :data:`autoperp.data.schema.DTYPES` (JSON numbers are strings)."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        dtype = DTYPES.get(c, "float64")
        col = df[c]
        if dtype in ("int64", "int8", "int16"):
            out[c] = pd.to_numeric(col).astype(dtype)
        elif dtype == "bool":
            out[c] = col.astype(bool)
        else:
            out[c] = pd.to_numeric(col).astype(dtype)
    return out
