"""Checks of built-in strategy parameters: one-line :class:`UsageError` naming strategy and parameter."""

from __future__ import annotations

import math

from autoperp.core.errors import UsageError

__all__ = ["finite", "require"]


def require(ok: bool, strategy: str, param: str, value: object, rule: str) -> None:
    """Raise ``UsageError("<strategy>: parameter <param>=<value> <rule>")`` unless ``ok``."""
    if not ok:
        raise UsageError(f"{strategy}: parameter {param}={value!r} {rule}")


def finite(x: float) -> bool:
    return math.isfinite(x)
