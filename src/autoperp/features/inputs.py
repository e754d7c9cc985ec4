"""Checks on the named input arrays of a feature computation and on one live bar."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from autoperp.core.errors import FormatError, ValidationError

#: Inputs that are prices: they must be positive wherever they are finite.
PRICE_FIELDS = frozenset({"open", "high", "low", "close", "mark", "bid_price", "ask_price"})


#: Inputs no feature reads yet; when given, their lengths must still agree with the rest.
OPTIONAL_FIELDS = ("ts", "open", "high", "low")


def input_arrays(arrays: Mapping[str, object], names: Iterable[str]) -> dict[str, np.ndarray]:
    """The arrays ``names`` as 1-D float64, all as long as the first; errors name the field.

    The :data:`OPTIONAL_FIELDS` present in ``arrays`` are checked too but not returned.

    Raises:
        FormatError: an input is missing or not 1-D.
        ValidationError: an input's length differs from the first's, or a price is <= 0.
    """
    names = list(names)
    extra = [k for k in OPTIONAL_FIELDS if k in arrays and k not in names]
    out: dict[str, np.ndarray] = {}
    first: str | None = None
    for name in names + extra:
        if name not in arrays:
            raise FormatError("input array is missing", field=name)
        a = np.asarray(arrays[name], dtype=np.float64)
        if a.ndim != 1:
            raise FormatError(f"input array must be 1-D, got shape {a.shape}", field=name)
        if first is None:
            first = name
        elif len(a) != len(out[first]):
            raise ValidationError(
                f"length {len(a)} differs from the length {len(out[first])} of '{first}'", field=name
            )
        if name in PRICE_FIELDS:
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(a <= 0.0)
            if bad.size:
                raise ValidationError(
                    f"price must be positive, got {a[bad[0]]}", row=int(bad[0]) + 1, field=name
                )
        out[name] = np.ascontiguousarray(a)
    return {k: out[k] for k in names}


def bar_values(bar: Mapping[str, float | None], names: Iterable[str], index: int) -> dict[str, float]:
    """The fields ``names`` of one live bar as floats; ``index`` (0-based bar count) locates errors."""
    out: dict[str, float] = {}
    for name in names:
        if name not in bar:
            raise FormatError("bar field is missing", row=index + 1, field=name)
        raw = bar[name]
        v = math.nan if raw is None else float(raw)
        if name in PRICE_FIELDS and v <= 0.0:
            raise ValidationError(f"price must be positive, got {v}", row=index + 1, field=name)
        out[name] = v
    return out
