"""Time is int64 milliseconds since the Unix epoch, UTC, everywhere inside autoperp."""

from __future__ import annotations

import datetime as _dt
import re
import time as _time
from dataclasses import dataclass

import numpy as np

from autoperp.core.errors import UsageError

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

# Any timestamp below this (2001-09-09 in ms) is treated as seconds; above 1e14 as µs; above 1e17 as ns.
_MS_LOWER = 1_000_000_000_000
_US_LOWER = 100_000_000_000_000
_NS_LOWER = 100_000_000_000_000_000


def now_ms() -> int:
    """Current wall-clock time in ms UTC."""
    return _time.time_ns() // 1_000_000


def to_ms_array(values: np.ndarray) -> np.ndarray:
    """Normalise an integer epoch array in s, ms, µs or ns to int64 ms, choosing the unit per element.

    Binance archives switched from ms to µs timestamps in 2025; one file may mix them at the boundary.
    """
    v = np.asarray(values).astype(np.int64, copy=False)
    if v.size == 0 or (v.min() >= _MS_LOWER and v.max() < _US_LOWER):
        return v  # the common case, all ms already: no copy
    out = v.copy()
    ns = v >= _NS_LOWER
    us = (v >= _US_LOWER) & ~ns
    s = (v > 0) & (v < _MS_LOWER)
    out[ns] //= 1_000_000
    out[us] //= 1_000
    out[s] *= 1_000
    return out


def ms_to_datetime(ms: int) -> _dt.datetime:
    """Timezone-aware UTC datetime from ms."""
    return _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.UTC)


def datetime_to_ms(value: _dt.datetime | _dt.date) -> int:
    """ms UTC from a datetime (naive values are taken as UTC) or a date (midnight UTC)."""
    if not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return round(value.timestamp() * 1000)


def format_ms(ms: int) -> str:
    """ISO-8601 UTC string, e.g. '2024-01-01 00:00:00'."""
    return ms_to_datetime(ms).strftime("%Y-%m-%d %H:%M:%S")


def parse_date(text: str) -> int:
    """ms UTC of 'YYYYMMDD', 'YYYY-MM-DD', 'YYYY-MM-DDTHH:MM[:SS]' or a plain epoch (s or ms)."""
    t = text.strip()
    if re.fullmatch(r"\d{8}", t):
        return datetime_to_ms(_dt.datetime.strptime(t, "%Y%m%d"))
    if re.fullmatch(r"\d{9,10}|\d{12,13}", t):
        return int(to_ms_array(np.array([int(t)]))[0])
    try:
        return datetime_to_ms(_dt.datetime.fromisoformat(t.replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(
            f"cannot read date '{text}': use YYYYMMDD, YYYY-MM-DD[THH:MM[:SS]] or epoch seconds/ms"
        ) from None


@dataclass(frozen=True)
class TimeRange:
    """Half-open interval [start_ms, end_ms) in ms UTC; ``None`` means unbounded on that side."""

    start_ms: int | None = None
    end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise UsageError(
                f"empty timerange: end {format_ms(self.end_ms)} is not after start {format_ms(self.start_ms)}"
            )

    @classmethod
    def parse(cls, text: str | None) -> TimeRange:
        """freqtrade-style 'START-END', 'START-' or '-END' with dates as :func:`parse_date` reads them."""
        if text is None or text.strip() in ("", "-"):
            return cls()
        if "-" not in text or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text.strip()):
            raise UsageError(f"timerange '{text}' must look like 20240101-20240301, 20240101- or -20240301")
        start_s, _, end_s = text.strip().partition("-")
        start = parse_date(start_s) if start_s else None
        end = parse_date(end_s) if end_s else None
        return cls(start, end)

    def contains(self, ms: np.ndarray) -> np.ndarray:
        """Boolean mask of which timestamps fall inside the range."""
        mask = np.ones(len(ms), dtype=bool)
        if self.start_ms is not None:
            mask &= ms >= self.start_ms
        if self.end_ms is not None:
            mask &= ms < self.end_ms
        return mask

    def __str__(self) -> str:
        a = format_ms(self.start_ms) if self.start_ms is not None else "-inf"
        b = format_ms(self.end_ms) if self.end_ms is not None else "+inf"
        return f"[{a}, {b})"
