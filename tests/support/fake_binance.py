"""A fake Binance on 127.0.0.1: archive files built on the fly and the fapi REST endpoints, for tests and
offline demos of ``download-data``. It never touches the internet.

Archive files have the real layout (zip of a CSV with Binance's header row, a ``.CHECKSUM`` sibling). The
market is synthetic but deterministic: a bar's values depend only on (pair, kind, timeframe, open time), so
a monthly file, the daily files of the same month and the REST API all agree row for row.

The server can be told to answer 404 (just do not publish the file), to serve a corrupted copy under the
original checksum, to fail a path with HTTP 500 once or always, to cut a transfer short once, or to ignore Range
requests; ``hits`` counts requests per path.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import io
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, MS_PER_HOUR, datetime_to_ms
from autoperp.core.timeframes import timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.download.layout import ArchiveFile, archive_file, daily_files, next_month
from autoperp.data.readers.binance_funding import FUNDING_COLUMNS
from autoperp.data.readers.binance_klines import KLINE_COLUMNS
from autoperp.data.readers.binance_trades import AGG_TRADES_COLUMNS

KLINE_HEADER = KLINE_COLUMNS
FUNDING_HEADER = FUNDING_COLUMNS
AGG_TRADES_HEADER = AGG_TRADES_COLUMNS
_API_KLINE_KINDS = {
    "klines": DataKind.FUTURES,
    "markPriceKlines": DataKind.MARK,
    "indexPriceKlines": DataKind.INDEX,
    "premiumIndexKlines": DataKind.PREMIUM,
}
_BASE_PRICE = {"BTC": 40_000.0, "ETH": 2_300.0, "SOL": 100.0}


# ------------------------------------------------------------------------------------ synthetic market
def _price(symbol: Symbol, ts: np.ndarray) -> np.ndarray:
    base = _BASE_PRICE.get(symbol.base, 10.0 + (sum(map(ord, symbol.base)) % 90))
    t = ts.astype(np.float64)
    return base * (1.0 + 0.02 * np.sin(2 * np.pi * t / (7 * MS_PER_DAY)) + 0.003 * np.sin(t / 5.83e6))


@functools.lru_cache(maxsize=256)
def kline_frame(symbol: Symbol, kind: DataKind, timeframe: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Bars with open time in ``[start_ms, end_ms)`` in Binance's kline columns (numbers, not strings)."""
    step = timeframe_ms(timeframe)
    first = -(-start_ms // step) * step
    ts = np.arange(first, end_ms, step, dtype=np.int64)
    scale = {DataKind.MARK: 0.9999, DataKind.INDEX: 0.9998, DataKind.PREMIUM: None}.get(kind, 1.0)
    if scale is None:  # premium index: a small rate around zero
        o = np.round(0.0001 * np.sin(ts / 3.1e6), 8)
        c = np.round(0.0001 * np.sin((ts + step) / 3.1e6), 8)
        h, lo = np.maximum(o, c) + 1e-6, np.minimum(o, c) - 1e-6
    else:
        o = np.round(_price(symbol, ts) * scale, 2)
        c = np.round(_price(symbol, ts + step) * scale, 2)
        h = np.round(np.maximum(o, c) * 1.0004, 2)
        lo = np.round(np.minimum(o, c) * 0.9996, 2)
    n = len(ts)
    if kind is DataKind.FUTURES:
        vol = np.round(10.0 + 5.0 * np.abs(np.sin(ts / 7.7e5)), 3)
        qv = np.round(vol * c, 4)
        count = (50 + (ts // step) % 40).astype(np.int64)
        tbv = np.round(vol * 0.5, 3)
        tbqv = np.round(qv * 0.5, 4)
    else:
        vol, qv, tbv, tbqv = (np.zeros(n) for _ in range(4))
        count = np.full(n, 60, dtype=np.int64)
    return pd.DataFrame(
        {
            "open_time": ts,
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": vol,
            "close_time": ts + step - 1,
            "quote_volume": qv,
            "count": count,
            "taker_buy_volume": tbv,
            "taker_buy_quote_volume": tbqv,
            "ignore": np.zeros(n, dtype=np.int64),
        }
    )


@functools.lru_cache(maxsize=64)
def funding_frame(symbol: Symbol, start_ms: int, end_ms: int, interval_h: int = 8) -> pd.DataFrame:
    """Settlements every ``interval_h`` hours in ``[start_ms, end_ms)`` in the archive's funding columns."""
    step = interval_h * MS_PER_HOUR
    first = -(-start_ms // step) * step
    ts = np.arange(first, end_ms, step, dtype=np.int64)
    rate = np.round(0.0001 + 0.00008 * np.sin(ts / 9.1e7), 8)
    return pd.DataFrame(
        {"calc_time": ts, "funding_interval_hours": np.full(len(ts), interval_h), "last_funding_rate": rate}
    )


@functools.lru_cache(maxsize=64)
def agg_trades_frame(symbol: Symbol, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Two aggTrades a minute (at :15 and :45 s), ids counting from the epoch so every source agrees."""
    step = 30_000
    first = -(-(start_ms - 15_000) // step) * step + 15_000
    ts = np.arange(first, end_ms, step, dtype=np.int64)
    ids = ts // step
    return pd.DataFrame(
        {
            "agg_trade_id": ids,
            "price": np.round(_price(symbol, ts), 2),
            "quantity": np.round(0.001 + (ids % 7) * 0.01, 3),
            "first_trade_id": ids * 3,
            "last_trade_id": ids * 3 + 2,
            "transact_time": ts,
            "is_buyer_maker": (ids % 2 == 0),
        }
    )


def _csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV with Binance's header row (unquoted) and booleans as true/false; pyarrow writes it fast."""
    buf = io.BytesIO()
    buf.write((",".join(df.columns) + "\n").encode())
    opts = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    pa_csv.write_csv(pa.Table.from_pandas(df, preserve_index=False), buf, opts)
    return buf.getvalue()


def zip_bytes(inner_name: str, payload: bytes) -> bytes:
    """A zip holding one file, byte-for-byte reproducible (fixed timestamp)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo(inner_name, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, payload, compresslevel=1)
    return buf.getvalue()


def checksum_text(data: bytes, name: str) -> bytes:
    """A Binance ``.CHECKSUM`` body: ``<sha256hex>  <filename>``."""
    return f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()


def archive_content(f: ArchiveFile) -> bytes:
    """The zip Binance would publish at ``f.rel_path`` (synthetic values)."""
    if f.kind.is_candles:
        df = kline_frame(f.symbol, f.kind, f.timeframe, f.start_ms, f.end_ms)
    elif f.kind is DataKind.FUNDING:
        df = funding_frame(f.symbol, f.start_ms, f.end_ms)
    elif f.kind is DataKind.TRADES:
        df = agg_trades_frame(f.symbol, f.start_ms, f.end_ms)
    else:
        raise ValueError(f"no archive layout for {f.kind.value}")
    return zip_bytes(f.name[: -len(".zip")] + ".csv", _csv_bytes(df))


# ------------------------------------------------------------------------------------------- server
class FakeBinance:
    """The archive and the fapi endpoints on ``http://127.0.0.1:<port>``; use as a context manager."""

    def __init__(self, *, range_support: bool = True, api_symbols: set[str] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.ranges: list[tuple[str, str]] = []  # (path, Range header) of every ranged request
        self.fail_once: set[str] = set()
        self.fail_always: set[str] = set()
        self.truncate_once: set[str] = set()
        self.range_support = range_support
        #: exchange ids the REST API knows (others get Binance's -1121 "Invalid symbol.")
        self.api_symbols: set[str] = set(api_symbols or {"BTCUSDT", "ETHUSDT", "SOLUSDT"})
        #: bars/trades/funding the REST API serves stop before this (the fake "now"), when set
        self.api_until: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- content -----------------------------------------------------------------------------------
    def put(self, f: ArchiveFile, data: bytes | None = None, *, checksum: bool = True) -> str:
        """Publish ``f`` (its synthetic content unless ``data``) and its CHECKSUM; returns the URL path."""
        body = archive_content(f) if data is None else data
        path = "/" + f.rel_path
        self.files[path] = body
        if checksum:
            self.files[path + ".CHECKSUM"] = checksum_text(body, f.name)
        return path

    def publish_month(self, kind: DataKind, pair: str, timeframe: str, year: int, month: int) -> str:
        start = datetime_to_ms(_dt.date(year, month, 1))
        return self.put(archive_file(kind, Symbol.parse(pair), timeframe, "monthly", start))

    def publish_days(self, kind: DataKind, pair: str, timeframe: str, start: str, end: str) -> list[str]:
        """Daily files of every day in ``[start, end)`` (ISO dates)."""
        s = datetime_to_ms(_dt.date.fromisoformat(start))
        e = datetime_to_ms(_dt.date.fromisoformat(end))
        return [self.put(f) for f in daily_files(kind, Symbol.parse(pair), timeframe, s, e)]

    def publish_range(self, kind: DataKind, pair: str, timeframe: str, start: str, end: str) -> list[str]:
        """Monthly files of the whole months in ``[start, end)`` and daily files of every day in it."""
        s = datetime_to_ms(_dt.date.fromisoformat(start))
        e = datetime_to_ms(_dt.date.fromisoformat(end))
        paths = self.publish_days(kind, pair, timeframe, start, end)
        m = s
        while m < e:
            d = _dt.datetime.fromtimestamp(m / 1000, tz=_dt.UTC)
            if d.day == 1 and next_month(m) <= e:
                paths.append(self.publish_month(kind, pair, timeframe, d.year, d.month))
            m += MS_PER_DAY
        return paths

    def corrupt(self, path: str) -> None:
        """Serve different bytes at ``path`` while the CHECKSUM still describes the original."""
        body = bytearray(self.files[path])
        body[len(body) // 2] ^= 0xFF
        self.files[path] = bytes(body)

    def remove(self, path: str) -> None:
        self.files.pop(path, None)
        self.files.pop(path + ".CHECKSUM", None)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeBinance:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-binance",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- REST --------------------------------------------------------------------------------------
    def api(self, endpoint: str, q: dict[str, str]) -> tuple[int, Any]:
        sym_id = q.get("symbol") or q.get("pair") or ""
        if sym_id not in self.api_symbols:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        sym = Symbol.from_exchange_id(sym_id)
        start = int(q.get("startTime", 0))
        until = self.api_until if self.api_until is not None else 2**62
        end = min(int(q["endTime"]) + 1 if "endTime" in q else until, until)
        if endpoint in _API_KLINE_KINDS:
            kind = _API_KLINE_KINDS[endpoint]
            limit = min(int(q.get("limit", 500)), 1500)
            step = timeframe_ms(q["interval"])
            first = -(-start // step) * step
            df = kline_frame(sym, kind, q["interval"], first, min(end, first + limit * step))
            df = df[df["open_time"] < until]  # like Binance: the forming bar is included up to now
            ints = ("open_time", "close_time", "count")
            cols = [df[c].tolist() for c in KLINE_HEADER[:-1]]
            rows = [
                [int(v) if name in ints else str(v) for name, v in zip(KLINE_HEADER, vals, strict=False)]
                + ["0"]
                for vals in zip(*cols, strict=True)
            ]
            return 200, rows
        if endpoint == "fundingRate":
            limit = min(int(q.get("limit", 100)), 1000)
            df = funding_frame(sym, start, end).head(limit)
            return 200, [
                {
                    "symbol": sym_id,
                    "fundingTime": int(t),
                    "fundingRate": f"{r:.8f}",
                    "markPrice": "40000.00000000",
                }
                for t, r in zip(df["calc_time"], df["last_funding_rate"], strict=True)
            ]
        if endpoint == "aggTrades":
            limit = min(int(q.get("limit", 500)), 1000)
            if "fromId" in q:
                first_ts = int(q["fromId"]) * 30_000 + 15_000
                df = agg_trades_frame(sym, first_ts, min(until, first_ts + limit * 30_000))
            else:
                df = agg_trades_frame(sym, start, end)
            df = df.head(limit)
            return 200, [
                {
                    "a": int(r.agg_trade_id),
                    "p": str(r.price),
                    "q": str(r.quantity),
                    "f": int(r.first_trade_id),
                    "l": int(r.last_trade_id),
                    "T": int(r.transact_time),
                    "m": bool(r.is_buyer_maker),
                }
                for r in df.itertuples(index=False)
            ]
        return 404, {"code": -5000, "msg": f"unknown endpoint {endpoint}"}


def _make_handler(fake: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(
            self, status: int, body: bytes, ctype: str = "application/octet-stream", extra=None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            with fake._lock:
                fake.hits[path] += 1
                fail = path in fake.fail_once or path in fake.fail_always
                fake.fail_once.discard(path)
            if fail:
                self._send(500, b"internal error", "text/plain")
                return
            if path.startswith("/fapi/v1/"):
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, payload = fake.api(path[len("/fapi/v1/") :], q)
                self._send(status, json.dumps(payload).encode(), "application/json")
                return
            body = fake.files.get(path)
            if body is None:
                self._send(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
                return
            rng = self.headers.get("Range")
            if rng:
                with fake._lock:
                    fake.ranges.append((path, rng))
            if rng and fake.range_support and rng.startswith("bytes="):
                first_s, _, last_s = rng[6:].partition("-")
                first = int(first_s)
                last = int(last_s) if last_s else len(body) - 1
                if first >= len(body):
                    self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(body)}"})
                    return
                chunk = body[first : last + 1]
                extra = {"Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{len(body)}"}
                self._send(206, chunk, extra=extra)
                return
            with fake._lock:
                cut = path in fake.truncate_once
                fake.truncate_once.discard(path)
            if cut:  # promise the whole file, deliver half, hang up
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(200, body)

    return Handler


@contextmanager
def fake_binance(**kwargs: Any) -> Iterator[FakeBinance]:
    """``with fake_binance() as fb: ...`` — a started :class:`FakeBinance`."""
    fb = FakeBinance(**kwargs)
    with fb:
        yield fb
