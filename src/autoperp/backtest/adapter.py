"""Anything with a ``decide(window) -> target`` method, seen as a :class:`Strategy`.

User files may hold plain classes (no autoperp base class) and trained models arrive as policy objects;
both are wrapped here so the runner only ever deals with :class:`Strategy`. A wrapped object may also
offer ``targets(data)`` (used when present), ``lookback`` (bars; default 1) and ``name``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategy import Strategy

__all__ = ["DecideAdapter", "as_strategy", "strategy_name", "wrap_decide_class"]


def _public_values(obj: object) -> dict[str, Any]:
    """Plain public data attributes of ``obj`` (class defaults, then instance values): its parameters."""
    out: dict[str, Any] = {}
    for klass in reversed(type(obj).__mro__[:-1]):
        for key, value in vars(klass).items():
            plain = isinstance(value, bool | int | float | str) or value is None
            if plain and not key.startswith("_") and key not in ("name", "description", "lookback"):
                out[key] = getattr(obj, key, value)
    for key, value in vars(obj).items() if hasattr(obj, "__dict__") else ():
        if not key.startswith("_") and isinstance(value, bool | int | float | str):
            out[key] = value
    return out


class DecideAdapter(Strategy):
    """A :class:`Strategy` that asks a wrapped object for its decisions."""

    def __init__(self, inner: Any, name: str = "") -> None:
        super().__init__()
        self.inner = inner
        self._name = name or str(getattr(inner, "name", "") or type(inner).__name__)

    @property
    def label(self) -> str:
        return self._name

    @property
    def lookback(self) -> int:  # type: ignore[override]
        return max(int(getattr(self.inner, "lookback", 1) or 1), 1)

    def params(self) -> dict[str, Any]:
        own = getattr(self.inner, "params", None)
        if callable(own):
            return dict(own())
        return _public_values(self.inner)

    def decide(self, window: Window) -> float:
        value = self.inner.decide(window)
        return math.nan if value is None else float(value)

    def targets(self, data: MarketData) -> np.ndarray:
        own = getattr(self.inner, "targets", None)
        if callable(own):
            return np.asarray(own(data), dtype=np.float64)
        return super().targets(data)


def _instantiate(cls: type, params: dict[str, Any]) -> Any:
    """``cls(**params)`` when the class takes arguments; else ``cls()`` with ``params`` set as attributes,
    each converted to the type of its default (the :class:`Strategy` convention)."""
    if any("__init__" in vars(k) for k in cls.__mro__[:-1]):
        return cls(**params)
    obj = cls()
    for key, value in params.items():
        if key.startswith("_") or not hasattr(obj, key) or callable(getattr(obj, key)):
            raise TypeError(f"{cls.__name__} has no parameter '{key}'")
        default = getattr(obj, key)
        setattr(obj, key, value if default is None else type(default)(value))
    return obj


def wrap_decide_class(cls: type) -> type[Strategy]:
    """A :class:`Strategy` subclass whose instances build ``cls(**params)`` and delegate to it."""
    label = str(getattr(cls, "name", "") or cls.__name__)

    def __init__(self: DecideAdapter, **params: Any) -> None:
        DecideAdapter.__init__(self, _instantiate(cls, params), label)

    return type(
        cls.__name__,
        (DecideAdapter,),
        {"__init__": __init__, "name": label, "description": (cls.__doc__ or "").strip().split("\n")[0],
         "__module__": cls.__module__, "__qualname__": cls.__qualname__, "wrapped": cls},
    )  # fmt: skip


def as_strategy(obj: Any) -> Strategy:
    """``obj`` itself when it is a :class:`Strategy`, else ``obj`` wrapped (it must have ``decide``)."""
    if isinstance(obj, Strategy):
        return obj
    if callable(getattr(obj, "decide", None)):
        return DecideAdapter(obj)
    raise TypeError(f"{type(obj).__name__} is not a strategy: it has no decide(window) method")


def strategy_name(strategy: Strategy) -> str:
    """The name runs and the ledger use: ``name``, else the class name."""
    if isinstance(strategy, DecideAdapter):
        return strategy.label
    return str(getattr(strategy, "name", "") or type(strategy).__name__)
