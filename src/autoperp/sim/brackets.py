"""Maintenance-margin bracket tables (Binance-style tiers) and their packed form for the kernel.

A table is a tuple of :class:`~autoperp.core.types.MarginBracket`. Packed, it is a float64 array of shape
(k, 5): notional floor, notional cap (USDT), max leverage, maintenance-margin rate (fraction) and the
maintenance amount ``cum`` (USDT), so that maintenance margin = notional · rate − cum on every tier and is
continuous across tier edges. Tables ship in ``brackets_data/binance_usdm.json`` (Binance's own
``/fapi/v1/leverageBracket`` format, sources noted inside); a user file in the same format overrides them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from autoperp.core.errors import ConfigError
from autoperp.core.symbols import Symbol
from autoperp.core.types import MarginBracket

__all__ = [
    "BRACKET_COLUMNS",
    "BracketTable",
    "bracket_table",
    "load_bracket_file",
    "max_notional",
    "pack_brackets",
]

BRACKET_COLUMNS = ("notional_floor", "notional_cap", "max_leverage", "maint_margin_rate", "maint_amount")
_BUNDLED = "binance_usdm.json"
_CONTINUITY_TOL = 1e-6  # USDT per USDT of notional: how far a table's cum may stray from continuity


class BracketTable(tuple[MarginBracket, ...]):
    """Brackets of one symbol, sorted by notional floor, with where they came from."""

    source: str
    is_default: bool  # the generic tiers stood in for a symbol without its own table

    def __new__(
        cls, brackets: tuple[MarginBracket, ...], source: str = "", is_default: bool = False
    ) -> BracketTable:
        obj = super().__new__(cls, brackets)
        obj.source = source
        obj.is_default = is_default
        return obj


def _parse_table(symbol: str, rows: list[dict[str, Any]], origin: str) -> tuple[MarginBracket, ...]:
    out: list[MarginBracket] = []
    for i, row in enumerate(rows):
        try:
            out.append(
                MarginBracket(
                    notional_floor=float(row["notionalFloor"]),
                    notional_cap=float(row["notionalCap"]),
                    max_leverage=float(row["initialLeverage"]),
                    maint_margin_rate=float(row["maintMarginRatio"]),
                    maint_amount=float(row["cum"]),
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{origin}: {symbol} bracket {i + 1}: missing or bad field {e}") from None
    out.sort(key=lambda b: b.notional_floor)
    _check_table(symbol, tuple(out), origin)
    return tuple(out)


def _check_table(symbol: str, table: tuple[MarginBracket, ...], origin: str) -> None:
    if not table:
        raise ConfigError(f"{origin}: {symbol} has no brackets")
    if table[0].notional_floor != 0.0:
        raise ConfigError(f"{origin}: {symbol} bracket 1 must start at notional 0")
    for i, b in enumerate(table):
        where = f"{origin}: {symbol} bracket {i + 1}"
        if not (b.notional_cap > b.notional_floor and 0 < b.maint_margin_rate < 1 and b.max_leverage >= 1):
            raise ConfigError(f"{where}: needs cap > floor, 0 < maintMarginRatio < 1, initialLeverage >= 1")
        if i and b.notional_floor != table[i - 1].notional_cap:
            raise ConfigError(
                f"{where}: floor {b.notional_floor} != previous cap {table[i - 1].notional_cap}"
            )
        # Binance chooses cum so maintenance margin is continuous at every tier edge; a table that breaks
        # this would make the liquidation price jump, so it is refused rather than silently used.
        if i:
            prev = table[i - 1]
            left = b.notional_floor * prev.maint_margin_rate - prev.maint_amount
            right = b.notional_floor * b.maint_margin_rate - b.maint_amount
            if abs(left - right) > _CONTINUITY_TOL * max(b.notional_floor, 1.0):
                raise ConfigError(
                    f"{where}: cum {b.maint_amount} breaks continuity (expected {b.maint_amount + right - left:.6f})"
                )


def _parse_document(doc: Any, origin: str) -> dict[str, BracketTable]:
    entries = doc["tables"] if isinstance(doc, dict) and "tables" in doc else doc
    if not isinstance(entries, list):
        raise ConfigError(
            f"{origin}: expected a list of {{symbol, brackets}} (Binance leverageBracket format)"
        )
    sources = doc.get("_sources", {}) if isinstance(doc, dict) else {}
    tables: dict[str, BracketTable] = {}
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or "symbol" not in entry or "brackets" not in entry:
            raise ConfigError(f"{origin}: entry {n + 1} needs 'symbol' and 'brackets'")
        sym = str(entry["symbol"]).upper()
        tables[sym] = BracketTable(_parse_table(sym, entry["brackets"], origin), sources.get(sym, origin))
    return tables


@cache
def _bundled() -> dict[str, BracketTable]:
    text = resources.files("autoperp.sim").joinpath("brackets_data", _BUNDLED).read_text()
    return _parse_document(json.loads(text), f"bundled {_BUNDLED}")


def load_bracket_file(path: Path) -> dict[str, BracketTable]:
    """Tables from a Binance ``leverageBracket`` JSON file, keyed by exchange symbol (``BTCUSDT``)."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: bracket file not found") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON (line {e.lineno}: {e.msg})") from None
    return _parse_document(doc, str(path))


def bracket_table(symbol: Symbol | str, overrides: dict[str, BracketTable] | None = None) -> BracketTable:
    """The bracket table for ``symbol``: a user override, else the bundled table, else the default tiers."""
    key = (
        symbol.exchange_id
        if isinstance(symbol, Symbol)
        else str(symbol).replace("/", "").split(":")[0].upper()
    )
    if overrides and key in overrides:
        return overrides[key]
    tables = _bundled()
    if key in tables and key != "DEFAULT":
        return tables[key]
    default = tables["DEFAULT"]
    whom = f"no table shipped for {key}" if key and key != "DEFAULT" else "no symbol given"
    return BracketTable(tuple(default), f"default tiers ({whom}): {default.source}", is_default=True)


def pack_brackets(table: tuple[MarginBracket, ...]) -> np.ndarray:
    """(k, 5) float64 array in :data:`BRACKET_COLUMNS` order; the last cap is widened to infinity."""
    arr = np.array(
        [
            [b.notional_floor, b.notional_cap, b.max_leverage, b.maint_margin_rate, b.maint_amount]
            for b in table
        ],
        dtype=np.float64,
    )
    # Notional beyond the last published cap cannot be opened (max_notional stops it), but a position can
    # grow past it through price moves; the last tier keeps applying rather than maintenance margin vanishing.
    arr[-1, 1] = np.inf
    return arr


def max_notional(table: tuple[MarginBracket, ...], leverage: float) -> float:
    """Largest position notional (USDT) the table allows at ``leverage``; ConfigError when none does."""
    allowed = [b.notional_cap for b in table if b.max_leverage >= leverage]
    if not allowed:
        raise ConfigError(f"leverage {leverage:g}x exceeds the table's maximum of {table[0].max_leverage:g}x")
    return float(max(allowed))
