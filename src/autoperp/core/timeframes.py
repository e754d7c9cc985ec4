"""Bar timeframes ('1m' ... '1d') and their length in ms."""

from __future__ import annotations

import re

from autoperp.core.errors import UsageError
from autoperp.core.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE

#: The timeframes the store, the resampler and the CLI offer. Binance also publishes 3m/30m/2h/6h/8h/12h;
#: they are read and stored, but these six are the ones every later layer is tested on.
STANDARD_TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")
_UNITS = {"m": MS_PER_MINUTE, "h": MS_PER_HOUR, "d": MS_PER_DAY, "w": 7 * MS_PER_DAY}
_KNOWN = {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"}


def timeframe_ms(timeframe: str) -> int:
    """Length of one bar in ms; raises :class:`UsageError` for an unknown timeframe."""
    m = re.fullmatch(r"(\d+)([mhdw])", timeframe.strip())
    if m is None or timeframe not in _KNOWN:
        raise UsageError(
            f"unknown timeframe '{timeframe}': use one of {', '.join(sorted(_KNOWN, key=_sort_key))}"
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def is_timeframe(text: str) -> bool:
    """True when ``text`` names a supported timeframe."""
    return text in _KNOWN


def _sort_key(tf: str) -> int:
    m = re.fullmatch(r"(\d+)([mhdw])", tf)
    assert m is not None
    return int(m.group(1)) * _UNITS[m.group(2)]


def can_resample(source: str, target: str) -> bool:
    """True when bars of ``target`` are whole multiples of ``source`` bars (so aggregation is exact)."""
    s, t = timeframe_ms(source), timeframe_ms(target)
    return t > s and t % s == 0
