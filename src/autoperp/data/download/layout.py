"""Where the Binance public archive (data.binance.vision) keeps USD-M files, and which files cover a timerange.

Layouts (``{SYM}`` is the exchange spelling, e.g. BTCUSDT)::

    data/futures/um/monthly/klines/{SYM}/{tf}/{SYM}-{tf}-{YYYY}-{MM}.zip
    data/futures/um/daily/klines/{SYM}/{tf}/{SYM}-{tf}-{YYYY}-{MM}-{DD}.zip
    (markPriceKlines / indexPriceKlines / premiumIndexKlines likewise)
    data/futures/um/monthly/fundingRate/{SYM}/{SYM}-fundingRate-{YYYY}-{MM}.zip   (monthly only)
    data/futures/um/{monthly|daily}/aggTrades/{SYM}/{SYM}-aggTrades-{YYYY}-{MM}[-{DD}].zip

Every file has a sibling ``<file>.CHECKSUM`` holding ``<sha256hex>  <filename>``.

Planning rule: calendar months that lie wholly inside the timerange (and have ended) are fetched as monthly
files, the partial months at either end and the current month as daily files (up to yesterday), and what
the archive cannot have yet (today) is left to the exchange API. Funding is published monthly only, so
every ended month the range touches is a monthly file and the current month goes to the API.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, datetime_to_ms, ms_to_datetime
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS

ARCHIVE_PREFIX = "data/futures/um"

#: Archive folder of each kind the downloader knows.
ARCHIVE_DIRS: dict[DataKind, str] = {
    DataKind.FUTURES: "klines",
    DataKind.MARK: "markPriceKlines",
    DataKind.INDEX: "indexPriceKlines",
    DataKind.PREMIUM: "premiumIndexKlines",
    DataKind.FUNDING: "fundingRate",
    DataKind.TRADES: "aggTrades",
}
#: Kinds the archive publishes as daily files too (funding is monthly only).
DAILY_KINDS = frozenset({DataKind.FUTURES, DataKind.MARK, DataKind.INDEX, DataKind.PREMIUM, DataKind.TRADES})

Period = Literal["monthly", "daily"]
Range = tuple[int, int]


@dataclass(frozen=True, order=True)
class ArchiveFile:
    """One archive file: a month or a day of one series. ``[start_ms, end_ms)`` is the period it covers."""

    start_ms: int
    end_ms: int
    period: Period
    kind: DataKind
    symbol: Symbol
    timeframe: str  # '1m'... for candles, EVENTS for funding and trades

    @property
    def name(self) -> str:
        """File name, e.g. 'BTCUSDT-1m-2024-01.zip'."""
        d = ms_to_datetime(self.start_ms)
        stamp = f"{d:%Y-%m}" if self.period == "monthly" else f"{d:%Y-%m-%d}"
        sym = self.symbol.exchange_id
        if self.kind.is_candles:
            return f"{sym}-{self.timeframe}-{stamp}.zip"
        return f"{sym}-{ARCHIVE_DIRS[self.kind]}-{stamp}.zip"

    @property
    def rel_path(self) -> str:
        """Path below the archive root, e.g. 'data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip'."""
        folder = f"{ARCHIVE_PREFIX}/{self.period}/{ARCHIVE_DIRS[self.kind]}/{self.symbol.exchange_id}"
        if self.kind.is_candles:
            folder += f"/{self.timeframe}"
        return f"{folder}/{self.name}"

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.rel_path}"


@dataclass(frozen=True)
class SeriesPlan:
    """Archive files to fetch for one series, and the ranges only the exchange API can serve."""

    files: tuple[ArchiveFile, ...]
    api_ranges: tuple[Range, ...]


def month_start(ms: int) -> int:
    d = ms_to_datetime(ms)
    return datetime_to_ms(_dt.date(d.year, d.month, 1))


def next_month(ms: int) -> int:
    d = ms_to_datetime(ms)
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return datetime_to_ms(_dt.date(y, m, 1))


def day_start(ms: int) -> int:
    return ms - ms % MS_PER_DAY


def _months(start: int, end: int) -> Iterator[Range]:
    """Calendar months overlapping [start, end), as their own [first ms, first ms of next month)."""
    if end <= start:
        return
    m = month_start(start)
    while m < end:
        n = next_month(m)
        yield m, n
        m = n


def archive_file(
    kind: DataKind, symbol: Symbol, timeframe: str, period: Period, start_ms: int
) -> ArchiveFile:
    """The file of ``period`` that starts at (the month or day of) ``start_ms``."""
    if kind not in ARCHIVE_DIRS:
        raise ValueError(f"the Binance archive has no '{kind.value}' files")
    if period == "monthly":
        s, e = month_start(start_ms), next_month(start_ms)
    else:
        s = day_start(start_ms)
        e = s + MS_PER_DAY
    tf = timeframe if kind.is_candles else EVENTS
    return ArchiveFile(s, e, period, kind, symbol, tf)


def daily_files(kind: DataKind, symbol: Symbol, timeframe: str, start: int, end: int) -> list[ArchiveFile]:
    """Daily files of every day overlapping [start, end)."""
    out: list[ArchiveFile] = []
    d = day_start(start)
    while d < end and start < end:
        out.append(archive_file(kind, symbol, timeframe, "daily", d))
        d += MS_PER_DAY
    return out


def merge_ranges(ranges: list[Range]) -> list[Range]:
    """Sorted, non-overlapping union of half-open ranges (touching ranges are joined)."""
    out: list[Range] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def plan_series(
    kind: DataKind, symbol: Symbol, timeframe: str, start_ms: int, end_ms: int, now_ms: int
) -> SeriesPlan:
    """Archive files and API ranges that together cover ``[start_ms, min(end_ms, now_ms))``."""
    end = min(end_ms, now_ms)
    if end <= start_ms:
        return SeriesPlan((), ())
    today = day_start(now_ms)
    this_month = month_start(now_ms)
    files: list[ArchiveFile] = []
    api: list[Range] = []
    if kind not in DAILY_KINDS:
        for m, n in _months(start_ms, end):
            if n <= this_month:
                files.append(archive_file(kind, symbol, timeframe, "monthly", m))
            else:
                api.append((max(m, start_ms), min(n, end)))
        return SeriesPlan(tuple(files), tuple(merge_ranges(api)))
    archive_end = max(min(end, today), start_ms)
    for m, n in _months(start_ms, archive_end):
        if start_ms <= m and n <= archive_end:
            files.append(archive_file(kind, symbol, timeframe, "monthly", m))
        else:
            files.extend(daily_files(kind, symbol, timeframe, max(m, start_ms), min(n, archive_end)))
    if end > archive_end:
        api.append((max(archive_end, start_ms), end))
    return SeriesPlan(tuple(files), tuple(merge_ranges(api)))
