"""Multi-timescale token windows: the last fast, slow and daily bars known at a decision time.

For a decision time ``t`` (ms UTC; normally a 1m bar's close time) a bar of length ``L`` that opens at
``o`` is *complete* when ``o + L <= t``. The windows hold the last ``n_fast`` complete fast bars, the last
``n_slow`` complete slow bars and the last ``n_day`` complete daily bars, oldest first; an in-progress
bar of any timeframe is never included, so no value formed after ``t`` can leak in. When history is
shorter than a window, the window is padded at the start with zeros and its mask is False there.
Gaps in the data are not filled: the "last n bars" are the last n that exist (check their timestamps
if staleness matters).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autoperp.core.errors import DataError
from autoperp.core.timeframes import timeframe_ms


class TokenSpec(BaseModel):
    """How many bars of each timeframe a decision sees, and which timeframes those are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_fast: int = Field(60, ge=1, description="fast bars (the last hour of 1m bars by default)")
    n_slow: int = Field(24, ge=1, description="slow bars (the last day of 1h bars by default)")
    n_day: int = Field(30, ge=1, description="daily bars")
    fast_timeframe: str = "1m"
    slow_timeframe: str = "1h"
    day_timeframe: str = "1d"

    @field_validator("fast_timeframe", "slow_timeframe", "day_timeframe")
    @classmethod
    def _known(cls, v: str) -> str:
        timeframe_ms(v)  # raises UsageError naming the valid ones
        return v


class TokenMasks(NamedTuple):
    """True where a window slot holds a real bar, False where it is start padding."""

    fast: np.ndarray
    slow: np.ndarray
    day: np.ndarray


class TokenWindows(NamedTuple):
    """Windows ``(..., n, F)`` per timeframe, oldest bar first, and their masks ``(..., n)``."""

    fast: np.ndarray
    slow: np.ndarray
    day: np.ndarray
    masks: TokenMasks


def _check(name: str, ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if t.ndim != 1 or v.ndim != 2 or v.shape[0] != t.shape[0]:
        raise DataError(
            f"timestamps {t.shape} and values {v.shape} must be (n,) and (n, F) with the same n",
            field=f"{name}_values",
        )
    steps = np.diff(t)
    if (steps <= 0).any():
        raise DataError(
            "bar open times must be strictly increasing",
            row=int(np.argmax(steps <= 0)) + 2,
            field=f"{name}_ts",
        )
    return t, v


def _windows(
    ts: np.ndarray, values: np.ndarray, bar_ms: int, t_ms: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    # bars complete by t: those whose close (open + length) is <= t; closes are increasing with opens
    k = np.searchsorted(ts + bar_ms, t_ms, side="right")
    idx = k[:, None] - n + np.arange(n)[None, :]
    mask = idx >= 0
    if values.shape[0] == 0:
        return np.zeros((t_ms.shape[0], n, values.shape[1])), mask
    out = values[np.maximum(idx, 0)]
    out[~mask] = 0.0
    return out, mask


def build_token_batch(
    fast_ts: np.ndarray,
    fast_values: np.ndarray,
    slow_ts: np.ndarray,
    slow_values: np.ndarray,
    day_ts: np.ndarray,
    day_values: np.ndarray,
    t_ms: np.ndarray,
    spec: TokenSpec | None = None,
) -> TokenWindows:
    """Token windows for many decision times ``t_ms`` (ms UTC, any order): arrays ``(len(t_ms), n, F)``.

    ``*_ts`` are bar open times (ms UTC, strictly increasing) and ``*_values`` their features
    ``(bars, F)`` (a 1-D array is one feature); F may differ between timeframes.
    """
    spec = spec or TokenSpec()
    t = np.asarray(t_ms, dtype=np.int64).reshape(-1)
    parts = []
    for name, ts, vals, tf, n in (
        ("fast", fast_ts, fast_values, spec.fast_timeframe, spec.n_fast),
        ("slow", slow_ts, slow_values, spec.slow_timeframe, spec.n_slow),
        ("day", day_ts, day_values, spec.day_timeframe, spec.n_day),
    ):
        ts_, v_ = _check(name, ts, vals)
        parts.append(_windows(ts_, v_, timeframe_ms(tf), t, n))
    (f, fm), (s, sm), (d, dm) = parts
    return TokenWindows(f, s, d, TokenMasks(fm, sm, dm))


def build_token_windows(
    fast_ts: np.ndarray,
    fast_values: np.ndarray,
    slow_ts: np.ndarray,
    slow_values: np.ndarray,
    day_ts: np.ndarray,
    day_values: np.ndarray,
    t_ms: int,
    spec: TokenSpec | None = None,
) -> TokenWindows:
    """Token windows for one decision time ``t_ms`` (ms UTC): ``fast (n_fast, F)``, ``slow``, ``day``, masks."""
    b = build_token_batch(
        fast_ts, fast_values, slow_ts, slow_values, day_ts, day_values, np.array([t_ms]), spec
    )
    return TokenWindows(b.fast[0], b.slow[0], b.day[0], TokenMasks(*(m[0] for m in b.masks)))
