"""How report figures are written as text: percentages, USDT amounts, ratios, durations, times.

A missing figure (NaN) is "—"; an unbounded one (a ratio over zero) is "∞".
"""

from __future__ import annotations

import math

from autoperp.core.time import format_ms

__all__ = ["DASH", "duration", "integer", "money", "pct", "ratio", "timestamp"]

DASH = "—"


def _special(x: float) -> str | None:
    if x is None or math.isnan(x):
        return DASH
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return None


def _unsigned_zero(text: str) -> str:
    # -0.0, or a tiny negative rounded away, is zero: a minus sign there reads as a loss
    return text[1:] if text.startswith("-") and not text.strip("-0.,%") else text


def pct(x: float, digits: int = 2) -> str:
    """A fraction as a percentage: 0.1234 → '12.34%'."""
    return _special(x) or _unsigned_zero(f"{x * 100:,.{digits}f}%")


def money(x: float, digits: int = 2) -> str:
    """A USDT amount with thousands separators: '1,234.56'."""
    return _special(x) or _unsigned_zero(f"{x:,.{digits}f}")


def ratio(x: float, digits: int = 2) -> str:
    """A dimensionless ratio (Sharpe, profit factor...)."""
    return _special(x) or _unsigned_zero(f"{x:,.{digits}f}")


def integer(x: int) -> str:
    """A count with thousands separators."""
    return f"{x:,}"


def duration(days: float) -> str:
    """A duration given in days as 'Nd HH:MM' (minutes rounded)."""
    special = _special(days)
    if special:
        return special
    minutes = round(days * 1440)
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    return f"{d}d {h:02d}:{m:02d}" if d else f"{h:02d}:{m:02d}"


def timestamp(ms: int) -> str:
    """ms UTC as 'YYYY-MM-DD HH:MM:SS'."""
    return format_ms(int(ms))
