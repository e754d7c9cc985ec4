"""Checks of what :meth:`TrialLedger.record` is given. Each failure is a
:class:`~autoperp.core.errors.ValidationError` whose ``field`` names the argument at fault."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from autoperp.core.errors import ValidationError

_MAX_LABEL = 200


def check_label(value: object, field: str, *, allow_empty: bool = False) -> str:
    """A one-line label (name, family, model id): a string without control characters, stripped."""
    if not isinstance(value, str):
        raise ValidationError(f"must be a string, got {type(value).__name__}", field=field)
    text = value.strip()
    if not text and not allow_empty:
        raise ValidationError("must not be empty", field=field)
    if len(text) > _MAX_LABEL:
        raise ValidationError(f"is {len(text)} characters long, the limit is {_MAX_LABEL}", field=field)
    if any(not c.isprintable() for c in text):
        raise ValidationError("must be one line of printable characters", field=field)
    return text


def check_series(ts: object, returns: object) -> tuple[np.ndarray, np.ndarray]:
    """``(ts, returns)`` as contiguous int64 ms UTC and float64 arrays.

    ``ts`` must be an integer array, 1-D, non-empty and strictly increasing; ``returns`` numeric, of the
    same length, finite and >= -1 (a simple return below -1 loses more than everything).
    """
    t = np.asarray(ts)
    if t.dtype.kind not in "iu":
        raise ValidationError(f"must be integer ms UTC (int64), got dtype {t.dtype}", field="ts")
    if t.ndim != 1:
        raise ValidationError(f"must be 1-D, got shape {t.shape}", field="ts")
    if t.shape[0] == 0:
        raise ValidationError("is empty: a trial needs at least one bar", field="ts")
    if t.dtype.kind == "u" and t.max() > np.iinfo(np.int64).max:
        raise ValidationError("has values beyond int64", field="ts")
    t = np.ascontiguousarray(t, dtype=np.int64)
    steps = np.flatnonzero(t[1:] <= t[:-1])
    if steps.size:
        i = int(steps[0]) + 1
        raise ValidationError(
            f"must be strictly increasing: index {i} ({t[i]}) follows {t[i - 1]}", field="ts"
        )
    r = np.asarray(returns)
    if r.dtype.kind not in "iuf":
        raise ValidationError(f"must be numeric (float64), got dtype {r.dtype}", field="returns")
    r = np.ascontiguousarray(r, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] != t.shape[0]:
        raise ValidationError(
            f"must be 1-D of the length of ts ({t.shape[0]}), got shape {r.shape}", field="returns"
        )
    finite = np.isfinite(r)
    if not finite.all():
        i = int(np.argmin(finite))
        raise ValidationError(f"has a non-finite value ({r[i]}) at index {i}", field="returns")
    ruin = np.flatnonzero(r < -1.0)
    if ruin.size:
        i = int(ruin[0])
        raise ValidationError(
            f"has a simple return below -1 ({r[i]}) at index {i}: per-bar returns are fractions",
            field="returns",
        )
    return t, r


def check_metrics(metrics: Mapping[str, object] | None) -> dict[str, float]:
    """``metrics`` as ``{name: float}``; NaN/inf are allowed (stored as null). Booleans are refused."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ValidationError(
            f"must be a mapping of name to number, got {type(metrics).__name__}", field="metrics"
        )
    out: dict[str, float] = {}
    for k, v in metrics.items():
        key = check_label(k, "metrics")
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
            raise ValidationError(f"value of {key!r} must be a number, got {v!r}", field=f"metrics.{key}")
        out[key] = float(v)
    return out


def finite_or_nan(x: float) -> float:
    """``x`` when finite, else NaN (inf is as undefined as NaN for a Sharpe ratio)."""
    return x if math.isfinite(x) else math.nan
