"""`download-data`: fetch series from the Binance archive (then the exchange API), and import them.

Two phases. First every series is fetched: archive files into the download cache (monthly files, daily
files where a monthly one is not published, checksums verified), then what the archive lacks from the
exchange API. Only when every download has succeeded does the second phase read the files with the
project's readers, clip them to the timerange and import each series through the importer (validated,
all-or-nothing per series). A checksum mismatch or a network failure therefore imports nothing; a series
that no source has, or that validation refuses, is reported and the others are still imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from autoperp.core.config import AppConfig
from autoperp.core.errors import AutoperpError, ConfigError, DataError, DownloadError, StoreError, UsageError
from autoperp.core.sizes import human_bytes
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, TimeRange, format_ms, now_ms
from autoperp.core.timeframes import timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.download.archive import ArchiveFetcher, FileResult
from autoperp.data.download.exchange_api import BinanceUsdmApi, infer_interval_h
from autoperp.data.download.http import HttpClient, UrllibClient
from autoperp.data.download.layout import (
    DAILY_KINDS,
    Range,
    daily_files,
    day_start,
    merge_ranges,
    plan_series,
)
from autoperp.data.schema import EVENTS, MarketFrame
from autoperp.data.store.base import MarketStore, SeriesKey

#: Exchanges ``download-data`` can fetch from.
SUPPORTED_EXCHANGES: tuple[str, ...] = ("binanceusdm",)
#: Source names of ``download.sources``.
SOURCES: tuple[str, ...] = ("archive", "ccxt")
#: Candle types downloaded when none are named: trade-price klines, mark-price klines, funding.
DEFAULT_KINDS: tuple[DataKind, ...] = (DataKind.FUTURES, DataKind.MARK, DataKind.FUNDING)
DEFAULT_DAYS = 30
_READ_WORKERS = 4
_KIND_ALIASES = {
    "futures": DataKind.FUTURES,
    "mark": DataKind.MARK,
    "index": DataKind.INDEX,
    "premium": DataKind.PREMIUM,
    "premiumindex": DataKind.PREMIUM,
    "funding_rate": DataKind.FUNDING,
    "funding": DataKind.FUNDING,
}


# ------------------------------------------------------------------------------------------- request
@dataclass(frozen=True, order=True)
class SeriesSpec:
    """One series to download: a pair, a kind and a timeframe (EVENTS for funding and trades)."""

    symbol: Symbol
    kind: DataKind
    timeframe: str

    def key(self, exchange: str) -> SeriesKey:
        return SeriesKey(exchange, self.symbol, self.kind, self.timeframe)

    def __str__(self) -> str:
        return f"{self.symbol.ccxt} {self.kind.value} {self.timeframe}"


@dataclass(frozen=True)
class DownloadRequest:
    """What to download: pairs x (candle kinds x timeframes, funding, trades) over ``[start_ms, end_ms)``."""

    exchange: str
    pairs: tuple[Symbol, ...]
    timeframes: tuple[str, ...]
    start_ms: int
    end_ms: int
    kinds: tuple[DataKind, ...] = DEFAULT_KINDS
    trades: bool = False

    def series(self) -> list[SeriesSpec]:
        out: list[SeriesSpec] = []
        for sym in self.pairs:
            for kind in self.kinds:
                if kind.is_candles:
                    out += [SeriesSpec(sym, kind, tf) for tf in self.timeframes]
                else:
                    out.append(SeriesSpec(sym, kind, EVENTS))
            if self.trades:
                out.append(SeriesSpec(sym, DataKind.TRADES, EVENTS))
        return out

    @property
    def timerange(self) -> TimeRange:
        return TimeRange(self.start_ms, self.end_ms)


def _split(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out += [x for x in v.replace(",", " ").split() if x]
    return out


def parse_kinds(values: Sequence[str] | None) -> tuple[DataKind, ...]:
    """Candle-type names (freqtrade spelling accepted: futures, mark, index, premiumIndex, funding_rate)."""
    names = _split(values)
    if not names:
        return DEFAULT_KINDS
    kinds: list[DataKind] = []
    for n in names:
        kind = _KIND_ALIASES.get(n.lower())
        if kind is None:
            hint = " (binanceusdm has no spot market)" if n.lower() == "spot" else ""
            raise UsageError(
                f"unknown candle type '{n}'{hint}: use futures, mark, index, premium or funding_rate"
                " (trades: --dl-trades)"
            )
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def parse_pairs(values: Sequence[str] | None, exchange: str) -> tuple[Symbol, ...]:
    names = _split(values)
    if not names:
        raise UsageError("no pairs given: pass --pairs BTC/USDT:USDT [ETH/USDT:USDT ...]")
    out: list[Symbol] = []
    for n in names:
        sym = Symbol.parse(n)
        if not sym.is_perp or sym.settle != sym.quote or sym.quote not in ("USDT", "USDC"):
            raise UsageError(
                f"pair '{n}': {exchange} lists linear USDT/USDC-margined perpetuals only; "
                f"write it as {sym.base}/{sym.quote}:{sym.quote}"
                if sym.quote in ("USDT", "USDC")
                else f"pair '{n}': {exchange} lists linear USDT/USDC-margined perpetuals only, e.g. BTC/USDT:USDT"
            )
        if sym not in out:
            out.append(sym)
    return tuple(out)


def parse_timeframes(values: Sequence[str] | None) -> tuple[str, ...]:
    names = _split(values) or ["1m"]
    out: list[str] = []
    for tf in names:
        timeframe_ms(tf)  # raises UsageError naming the valid ones
        if tf not in out:
            out.append(tf)
    return tuple(out)


def build_request(
    *,
    pairs: Sequence[str] | None,
    exchange: str = "binanceusdm",
    timeframes: Sequence[str] | None = None,
    timerange: str | None = None,
    days: int | None = None,
    candle_types: Sequence[str] | None = None,
    dl_trades: bool = False,
    now: int | None = None,
) -> DownloadRequest:
    """Check command-line style arguments and turn them into a :class:`DownloadRequest`.

    Without a timerange start the last ``days`` (default 30) whole days are taken; the end defaults to,
    and is capped at, now. Raises :class:`UsageError` for anything that cannot work.
    """
    ex = exchange.strip().lower()
    if ex not in SUPPORTED_EXCHANGES:
        raise UsageError(
            f"exchange '{exchange}' is not supported for download: use {', '.join(SUPPORTED_EXCHANGES)}"
        )
    syms = parse_pairs(pairs, ex)
    tfs = parse_timeframes(timeframes)
    kinds = parse_kinds(candle_types)
    t_now = now_ms() if now is None else now
    tr = TimeRange.parse(timerange)
    if days is not None and days <= 0:
        raise UsageError(f"--days must be a positive number of days, got {days}")
    if days is not None and tr.start_ms is not None:
        raise UsageError("give either --timerange with a start date or --days, not both")
    end = t_now if tr.end_ms is None else min(tr.end_ms, t_now)
    if tr.start_ms is not None:
        start = tr.start_ms
    else:
        start = day_start(end) - (days or DEFAULT_DAYS) * MS_PER_DAY
    if end <= start:
        raise UsageError(
            f"empty timerange: {format_ms(start)} to {format_ms(end)} holds no data yet"
            + (" (the range starts in the future)" if start >= t_now else "")
        )
    return DownloadRequest(ex, syms, tfs, start, end, kinds, dl_trades)


# -------------------------------------------------------------------------------------------- report
@dataclass
class SeriesResult:
    """What happened to one series."""

    spec: SeriesSpec
    files: list[FileResult] = field(default_factory=list)
    api_frames: list[MarketFrame] = field(default_factory=list)
    api_ranges: list[Range] = field(default_factory=list)  # asked of the exchange API
    uncovered: list[Range] = field(default_factory=list)  # no source had these
    rows: int | None = None  # rows inside the timerange, read from files and the API
    added: int | None = None  # rows new to the store
    status: str = "pending"
    error: AutoperpError | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def api_rows(self) -> int:
        return sum(len(f) for f in self.api_frames)

    @property
    def bytes_received(self) -> int:
        return sum(f.bytes_received for f in self.files)


@dataclass
class DownloadReport:
    request: DownloadRequest
    cache_dir: Path
    results: list[SeriesResult] = field(default_factory=list)
    imported: bool = True

    @property
    def errors(self) -> list[AutoperpError]:
        return [r.error for r in self.results if r.error is not None]

    @property
    def bytes_received(self) -> int:
        return sum(r.bytes_received for r in self.results)


# ------------------------------------------------------------------------------------------- helpers
def clip_frame(mf: MarketFrame, start_ms: int, end_ms: int) -> MarketFrame | None:
    """Rows of ``mf`` from its first to its last row inside ``[start_ms, end_ms)`` (a contiguous slice,
    so ``row_offset`` still names source rows); ``None`` when no row falls inside."""
    if len(mf) == 0:
        return None
    ts = mf.column("ts")
    inside = np.flatnonzero((ts >= start_ms) & (ts < end_ms))
    if len(inside) == 0:
        return None
    lo, hi = int(inside[0]), int(inside[-1]) + 1
    if lo == 0 and hi == len(mf):
        return mf
    frame = mf.frame.iloc[lo:hi].reset_index(drop=True)
    return MarketFrame(
        mf.kind, mf.symbol, mf.timeframe, frame, mf.source, mf.exchange, mf.row_offset + lo, list(mf.notes)
    )


def conform_columns(mf: MarketFrame, columns: Sequence[str]) -> MarketFrame:
    """``mf`` with exactly ``columns`` in that order (what the store holds for the series), so API rows
    merge with archive rows. A missing funding interval is inferred; other missing columns are NaN."""
    if tuple(mf.frame.columns) == tuple(columns):
        return mf
    df = pd.DataFrame(index=mf.frame.index)
    for c in columns:
        if c in mf.frame.columns:
            df[c] = mf.frame[c]
        elif c == "interval_h":
            df[c] = infer_interval_h(mf.column("ts"))
        else:
            df[c] = np.nan
    notes = [*mf.notes, f"columns matched to the stored series ({', '.join(columns)})"]
    return MarketFrame(mf.kind, mf.symbol, mf.timeframe, df, mf.source, mf.exchange, mf.row_offset, notes)


def _default_reader() -> Callable[..., list[MarketFrame]]:
    from autoperp.data.readers import read_file

    return read_file


def _default_importer() -> Callable[..., Any]:
    from autoperp.data.importer import import_frames

    return import_frames


def _default_store(cfg: AppConfig) -> MarketStore:
    from autoperp.data.store.parquet import ParquetStore

    return ParquetStore(cfg.data.data_dir)


def _fmt_range(r: Range) -> str:
    return f"{format_ms(r[0])} to {format_ms(r[1])}"


# ----------------------------------------------------------------------------------------- downloader
class Downloader:
    """Runs a :class:`DownloadRequest` against the configured sources, then imports what it fetched.

    Every collaborator can be replaced: ``client`` (the archive's HTTP client), ``api`` (the exchange
    API), ``store``, ``reader`` (``read_file``), ``importer`` (``import_frames``) and the clock ``now``.
    ``api_url`` moves the exchange API to another host (tests use a loopback server).
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        client: HttpClient | None = None,
        api: BinanceUsdmApi | None = None,
        store: MarketStore | None = None,
        reader: Callable[..., list[MarketFrame]] | None = None,
        importer: Callable[..., Any] | None = None,
        now: int | None = None,
        api_url: str | None = None,
        console: Console | None = None,
        show_progress: bool | None = None,
        backoff_s: float = 0.5,
    ) -> None:
        self.cfg = config
        dl = config.download
        unknown = [s for s in dl.sources if s not in SOURCES]
        if unknown or not dl.sources:
            raise ConfigError(
                f"download.sources = {dl.sources!r}: use one or both of {', '.join(SOURCES)}, in order of preference"
            )
        self.sources = list(dict.fromkeys(dl.sources))
        self.client: HttpClient = client or UrllibClient(
            timeout_s=dl.timeout_s, retries=dl.retries, backoff_s=backoff_s
        )
        self._api = api
        self._api_url = api_url or dl.api_url
        self._backoff_s = backoff_s
        self._store = store
        self._reader = reader
        self._importer = importer
        self.now = now_ms() if now is None else now
        self.console = console or Console(stderr=True)
        self.show_progress = self.console.is_terminal if show_progress is None else show_progress
        self.cache_dir = config.data.user_data_dir / "downloads" / "binance"
        self.fetcher = ArchiveFetcher(
            dl.archive_url, self.cache_dir, self.client, verify_checksums=dl.verify_checksums
        )

    @property
    def api(self) -> BinanceUsdmApi:
        if self._api is None:
            dl = self.cfg.download
            self._api = BinanceUsdmApi(
                timeout_s=dl.timeout_s, retries=dl.retries, backoff_s=self._backoff_s, api_url=self._api_url
            )
        return self._api

    @property
    def store(self) -> MarketStore:
        if self._store is None:
            self._store = _default_store(self.cfg)
        return self._store

    # -- phase 1 ------------------------------------------------------------------------------------
    def _fetch_archive(
        self, spec: SeriesSpec, start: int, end: int, res: SeriesResult, progress: _Bars
    ) -> list[Range]:
        """Archive files of the series; returns the ranges the archive could not serve."""
        plan = plan_series(spec.kind, spec.symbol, spec.timeframe, start, end, self.now)
        leftover = list(plan.api_ranges)
        today = day_start(self.now)
        for f in plan.files:
            r = progress.fetch(self.fetcher, f)
            res.files.append(r)
            if r.status != "missing":
                continue
            lo, hi = max(f.start_ms, start), min(f.end_ms, end)
            if f.period == "monthly" and f.kind in DAILY_KINDS:
                for d in daily_files(f.kind, f.symbol, f.timeframe, lo, min(hi, today)):
                    rd = progress.fetch(self.fetcher, d)
                    res.files.append(rd)
                    if rd.status == "missing":
                        leftover.append((max(d.start_ms, lo), min(d.end_ms, hi)))
                if hi > today:
                    leftover.append((max(today, lo), hi))
            else:
                leftover.append((lo, hi))
        return merge_ranges(leftover)

    def _fetch_api(self, spec: SeriesSpec, ranges: list[Range], res: SeriesResult, progress: _Bars) -> None:
        for lo, hi in ranges:
            res.api_ranges.append((lo, hi))
            with progress.note(f"API {spec} {_fmt_range((lo, hi))}"):
                mf = self.api.fetch(spec.kind, spec.symbol, spec.timeframe, lo, hi, self.now)
            if mf is None:
                res.uncovered.append((lo, hi))
            else:
                res.api_frames.append(mf)

    def _download_series(
        self, spec: SeriesSpec, req: DownloadRequest, res: SeriesResult, progress: _Bars, *, api_ok: bool
    ) -> None:
        start, end = req.start_ms, min(req.end_ms, self.now)
        whole = [(start, end)]
        use_archive = "archive" in self.sources
        use_api = "ccxt" in self.sources and api_ok
        if use_archive and (not use_api or self.sources.index("archive") < self.sources.index("ccxt")):
            leftover = self._fetch_archive(spec, start, end, res, progress)
            if leftover and use_api:
                self._fetch_api(spec, leftover, res, progress)
            else:
                res.uncovered += leftover
                if leftover and "ccxt" in self.sources:
                    res.notes.append("exchange API not asked (--no-import: its rows could not be kept)")
        elif use_api:
            try:
                self._fetch_api(spec, whole, res, progress)
            except DownloadError as e:
                if not use_archive:
                    raise
                res.notes.append(f"exchange API failed ({e.one_line()}); used the archive")
                res.api_ranges.clear()
                res.api_frames.clear()
                res.uncovered.clear()
                res.uncovered += self._fetch_archive(spec, start, end, res, progress)
        else:
            res.uncovered += whole
        found = any(f.status != "missing" for f in res.files) or bool(res.api_frames)
        if not found:
            missing = [f.url for f in res.files if f.status == "missing"]
            asked = []
            if missing:
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                asked.append(f"{missing[0]} not found (HTTP 404){more}")
            if res.api_ranges:
                asked.append(f"the exchange API returned no rows ({self.api.base_url()})")
            if asked:
                res.status = "not found"
                res.error = DownloadError(
                    f"no {spec} data for {_fmt_range((start, end))}: {'; '.join(asked)}. Check the pair's"
                    " listing date and the timerange"
                )
            else:
                res.status = "nothing to fetch"
        else:
            res.status = "downloaded"

    # -- phase 2 ------------------------------------------------------------------------------------
    def _stored_columns(self, key: SeriesKey) -> tuple[str, ...] | None:
        for info in self.store.list_series():
            if info.key == key:
                return tuple(info.columns)
        return None

    def _import_series(
        self, req: DownloadRequest, res: SeriesResult, *, repair: bool, progress: _Bars
    ) -> None:
        spec = res.spec
        reader = self._reader or _default_reader()
        importer = self._importer or _default_importer()
        start, end = req.start_ms, min(req.end_ms, self.now)
        frames: list[MarketFrame] = []
        with progress.note(f"importing {spec}"):
            try:
                paths = [f.path for f in res.files if f.status != "missing"]
                hints = {
                    "kind": spec.kind,
                    "symbol": spec.symbol,
                    "timeframe": spec.timeframe if spec.kind.is_candles else None,
                    "exchange": req.exchange,
                }
                # decompression and CSV parsing release the GIL: read the files of a series in parallel
                with ThreadPoolExecutor(max_workers=max(1, min(_READ_WORKERS, len(paths)))) as pool:
                    for file_frames in pool.map(lambda p: reader(p, **hints), paths):
                        for mf in file_frames:
                            clipped = clip_frame(mf, start, end)
                            if clipped is not None:
                                frames.append(clipped)
                if res.api_frames:
                    cols = (
                        tuple(frames[0].frame.columns)
                        if frames
                        else self._stored_columns(spec.key(req.exchange))
                    )
                    for mf in res.api_frames:
                        clipped = clip_frame(conform_columns(mf, cols) if cols else mf, start, end)
                        if clipped is not None:
                            frames.append(clipped)
                res.rows = sum(len(f) for f in frames)
                if not frames:
                    res.status = "no rows in range"
                    return
                report = importer(frames, self.store, self.cfg.validation, repair=repair)
            except (DataError, StoreError) as e:
                res.status = "refused"
                res.error = e
                return
        res.added = int(getattr(report, "added", 0))
        res.status = "imported"
        for item in getattr(report, "items", []):
            repair_log = getattr(item, "repair", None)
            if repair_log is not None and getattr(repair_log, "changed", False):
                res.notes.append(f"repaired: {repair_log.summary()}")

    # -- entry point --------------------------------------------------------------------------------
    def run(self, req: DownloadRequest, *, import_data: bool = True, repair: bool = False) -> DownloadReport:
        """Download every series of ``req``; then, unless ``import_data`` is False, import them."""
        report = DownloadReport(req, self.cache_dir, imported=import_data)
        with _Bars(self.console, enabled=self.show_progress) as bars:
            for spec in req.series():
                res = SeriesResult(spec)
                report.results.append(res)
                self._download_series(spec, req, res, bars, api_ok=import_data)
            if import_data:
                for res in report.results:
                    if res.status == "downloaded":
                        self._import_series(req, res, repair=repair, progress=bars)
        return report


def download_data(
    request: DownloadRequest,
    config: AppConfig,
    *,
    import_data: bool = True,
    repair: bool = False,
    **kwargs: Any,
) -> DownloadReport:
    """Shortcut for ``Downloader(config, **kwargs).run(request, ...)``."""
    return Downloader(config, **kwargs).run(request, import_data=import_data, repair=repair)


# ------------------------------------------------------------------------------------------ progress
class _Bars:
    """rich progress bars: one for the files, one for the bytes of the current file. Silent when disabled."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[size]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._files = 0

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def fetch(self, fetcher: ArchiveFetcher, f: Any) -> FileResult:
        self._files += 1
        task = self.progress.add_task(f"[{self._files}] {f.name}", total=None, size="")

        def cb(done: int, total: int | None) -> None:
            size = f"{human_bytes(done)} / {human_bytes(total)}" if total else human_bytes(done)
            self.progress.update(task, completed=done, total=total, size=size)

        try:
            return fetcher.fetch(f, cb)
        finally:
            self.progress.remove_task(task)

    @contextmanager
    def note(self, text: str) -> Iterator[None]:
        task = self.progress.add_task(text, total=None, size="")
        try:
            yield
        finally:
            self.progress.remove_task(task)
