"""The strategy interface: ``decide(window) -> target``, and a vectorised ``targets(data)`` for speed.

A strategy is a class (freqtrade-style) with a ``name``, a ``lookback`` (bars of history ``decide``
needs), optional typed parameters, and

* ``decide(window) -> float``: the target position at the window's last bar close, as exposure in units
  of equity (1.0 = long 1x equity, -0.5 = short half, 0 = flat, NaN = hold whatever is held). It may
  only look at the window: bars after it do not exist for it.
* ``targets(data) -> ndarray``: one target per bar. The default calls ``decide`` on every window (slow but
  always right); built-ins override it with a vectorised version, which lookahead analysis checks
  against truncated data.

The kernel fills a target decided at bar t's close at bar t+1's open (plus any configured delay), clips
it to leverage × equity, and charges every cost; strategies never see fills they cannot have.
Trained models will arrive through the same interface (an object with ``decide``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from autoperp.backtest.market_data import MarketData, Window

__all__ = ["Strategy"]


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(owner: str, key: str, default: Any, value: Any) -> Any:
    """``value`` as the type of the parameter's default; ValueError for lossy or ambiguous conversions
    (``int`` from 20.7, ``bool`` from "maybe"), which the registry turns into a one-line UsageError."""
    where = f"{owner} parameter '{key}'"
    if default is None or (
        isinstance(value, type(default)) and not (isinstance(value, bool) and not isinstance(default, bool))
    ):
        return value
    if isinstance(default, bool):
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if isinstance(default, int):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected an integer, got {value!r}") from None
        if not number.is_integer():
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return int(number)
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected {type(default).__name__}, got {value!r}") from None


class Strategy(ABC):
    """Base class of every strategy; subclasses set ``name`` and implement ``decide``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    lookback: int = 1  # bars of history decide() needs before it returns anything but NaN

    def __init__(self, **params: Any) -> None:
        for key, value in params.items():
            if key.startswith("_") or key in ("name", "description") or key not in self.params():
                known = ", ".join(sorted(self.params())) or "none"
                raise TypeError(f"{type(self).__name__} has no parameter '{key}' (parameters: {known})")
            setattr(self, key, _coerce(type(self).__name__, key, getattr(self, key), value))

    def params(self) -> dict[str, Any]:
        """Public parameters a subclass declares, with their values (what the ledger hashes). Properties
        (e.g. a ``lookback`` computed from other parameters) are derived values, not parameters."""
        derived = {
            k for klass in type(self).__mro__ for k, v in vars(klass).items() if isinstance(v, property)
        }
        out: dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):
            if klass is Strategy or not issubclass(klass, Strategy):
                continue  # the base's defaults (lookback=1) are not a strategy's parameters
            for key, value in vars(klass).items():
                if (
                    key.startswith("_")
                    or key in ("name", "description")
                    or key in derived
                    or callable(value)
                    or isinstance(value, (property, staticmethod, classmethod))
                ):
                    continue
                out[key] = getattr(self, key)
        return out

    @abstractmethod
    def decide(self, window: Window) -> float:
        """Target exposure (units of equity) at the window's last close; NaN = hold."""

    def targets(self, data: MarketData) -> np.ndarray:
        """One target per bar of ``data``; the default asks ``decide`` bar by bar."""
        out = np.full(len(data), np.nan)
        for t in range(max(self.lookback - 1, 0), len(data)):
            out[t] = float(self.decide(data.window(t)))
        return out
