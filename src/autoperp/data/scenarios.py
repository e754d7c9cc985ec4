"""Stress scenarios for any candle series (and funding series): pure functions, a registry, one entry point.

Every scenario takes a canonical frame, never mutates it, and returns ``(new_frame, ScenarioRecord)``.
Candle scenarios need ``ts, open, high, low, close, volume``; the optional columns (``quote_volume``,
``trades``, ``taker_buy_volume``, ``taker_buy_quote_volume``) are kept consistent when present, other
columns are carried along. Outputs keep ``high >= max(open, close)``, ``low <= min(open, close)``, prices
> 0 and ``taker_buy_volume <= volume``.

Prices are changed through one transform of each bar relative to the previous close: the bar's log moves
(open gap, high, low, close) are multiplied by ``scale`` and a drift ``shift`` is added to the close, then
every later bar is carried by the accumulated change of the close. Scenarios differ only in their
``scale``/``shift`` profiles, and in what they do to volume and order flow.

``start`` is a row position (0-based). Left out, it is drawn from ``rng`` among the positions where the
whole window fits. Bad names or parameters raise :class:`~autoperp.core.errors.UsageError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoperp.core.errors import UsageError
from autoperp.core.types import DataKind

__all__ = [
    "SCENARIOS",
    "SCENARIO_KINDS",
    "ScenarioRecord",
    "apply_scenario",
    "exchange_outage",
    "flash_crash",
    "funding_spike",
    "liquidity_drought",
    "pump_and_dump",
    "trend_reversal",
    "volatility_jump",
]

_CANDLE_REQUIRED = ("ts", "open", "high", "low", "close", "volume")
_FUNDING_REQUIRED = ("ts", "rate")
_MAX_FUNDING = 0.03


@dataclass(frozen=True)
class ScenarioRecord:
    """What a scenario did. ``start``/``end`` are row positions in the input, ``end`` exclusive."""

    name: str
    start: int
    end: int
    start_ts: int
    end_ts: int  # ts of the last affected input row
    params: dict[str, Any] = field(default_factory=dict)
    hints: dict[str, float] = field(default_factory=dict)  # e.g. spread_bps, gap_ms, bottom index


ScenarioFn = Callable[..., tuple[pd.DataFrame, ScenarioRecord]]


# --------------------------------------------------------------------------------------------- checks


def _check_frame(frame: pd.DataFrame, required: tuple[str, ...], min_rows: int) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise UsageError(f"scenarios work on pandas DataFrames, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UsageError(f"frame lacks columns {missing}; a scenario needs {list(required)}")
    if len(frame) < min_rows:
        raise UsageError(f"frame has {len(frame)} rows; this scenario needs at least {min_rows}")


def _check_candles(frame: pd.DataFrame, min_rows: int = 3) -> None:
    _check_frame(frame, _CANDLE_REQUIRED, min_rows)
    px = frame[["open", "high", "low", "close"]].to_numpy(float)
    if not np.isfinite(px).all() or (px <= 0).any():
        raise UsageError("candle prices must be finite and > 0 before a scenario is applied")


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise UsageError(message)


def _int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise UsageError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _num(
    name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False
) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")
    inside = np.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not inside:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise UsageError(f"{name} must be in {left}{lo}, {hi}{right}, got {value!r}")
    return v


def _window(
    rng: np.random.Generator, n: int, length: int, start: int | None, first: int, tail: int = 0
) -> int:
    """Start of a ``length``-row window inside ``[first, n - tail)``; drawn from ``rng`` when None."""
    last = n - tail - length  # last valid start
    if last < first:
        raise UsageError(
            f"a window of {length} rows (plus {first} before and {tail} after) does not fit in {n} rows"
        )
    if start is None:
        return int(rng.integers(first, last + 1))
    s = _int("start", start, 0)
    if s < first or s > last:
        raise UsageError(
            f"window [{s}, {s + length}) is beyond the series: start must be in [{first}, {last}] for {n} rows"
        )
    return s


def _record(
    name: str, frame: pd.DataFrame, start: int, end: int, params: dict[str, Any], **hints: float
) -> ScenarioRecord:
    ts = frame["ts"].to_numpy()
    return ScenarioRecord(
        name=name,
        start=start,
        end=end,
        start_ts=int(ts[start]),
        end_ts=int(ts[end - 1]),
        params=params,
        hints={k: float(v) for k, v in hints.items()},
    )


# --------------------------------------------------------------------------------------------- transforms


def _reprice(frame: pd.DataFrame, scale: np.ndarray, shift: np.ndarray) -> pd.DataFrame:
    """New frame whose bar log moves are ``scale * move`` plus ``shift`` on the close (see module doc)."""
    out = frame.copy()
    o, h, lo, c = (frame[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    touched = (scale != 1.0) | (shift != 0.0)
    if not touched.any():
        return out
    first = int(np.argmax(touched))
    c_prev = np.concatenate(([o[0]], c[:-1]))
    rel_c = np.log(c / c_prev)
    d = np.cumsum((scale - 1.0) * rel_c + shift)  # log(new close / old close)
    d_prev = np.concatenate(([0.0], d[:-1]))
    grow_prev = np.exp(d_prev)
    cp_new = c_prev * grow_prev
    new_c = c * np.exp(d)
    rel_o, rel_h, rel_l = np.log(o / c_prev), np.log(h / c_prev), np.log(lo / c_prev)
    new_o = np.where(touched, cp_new * np.exp(scale * rel_o), o * grow_prev)
    new_h = np.where(touched, cp_new * np.exp(scale * rel_h + np.maximum(shift, 0.0)), h * grow_prev)
    new_l = np.where(touched, cp_new * np.exp(scale * rel_l + np.minimum(shift, 0.0)), lo * grow_prev)
    new_h = np.maximum(new_h, np.maximum(new_o, new_c))
    new_l = np.minimum(new_l, np.minimum(new_o, new_c))
    sl = slice(first, None)
    for col, arr in (("open", new_o), ("high", new_h), ("low", new_l), ("close", new_c)):
        vals = frame[col].to_numpy(float).copy()
        vals[sl] = arr[sl]
        out[col] = vals
    price_ratio = np.exp(0.5 * (d_prev + d))
    for col in ("quote_volume", "taker_buy_quote_volume"):
        if col in out:
            vals = frame[col].to_numpy(float).copy()
            vals[sl] = vals[sl] * price_ratio[sl]
            out[col] = vals
    return out


def _scale_volume(out: pd.DataFrame, factor: np.ndarray) -> None:
    """Multiply volume and its companions by ``factor`` per row (trades rounded, kept >= 1 where > 0)."""
    for col in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"):
        if col in out:
            out[col] = out[col].to_numpy(float) * factor
    if "trades" in out:
        tr = out["trades"].to_numpy()
        new = np.rint(tr.astype(float) * factor)
        new = np.where(tr > 0, np.maximum(new, 1.0), 0.0)
        out["trades"] = new.astype(tr.dtype if np.issubdtype(tr.dtype, np.integer) else np.int64)


def _tilt_taker(out: pd.DataFrame, rows: np.ndarray, factor: float) -> None:
    """Multiply the taker-buy share on ``rows`` by ``factor`` (capped at 1)."""
    if "taker_buy_volume" not in out or not rows.any():
        return
    v = out["volume"].to_numpy(float)
    tb = out["taker_buy_volume"].to_numpy(float).copy()
    new_tb = np.minimum(tb * factor, v)
    ratio = np.divide(new_tb, tb, out=np.ones_like(tb), where=tb > 0)
    tb[rows] = new_tb[rows]
    out["taker_buy_volume"] = tb
    if "taker_buy_quote_volume" in out:
        tq = out["taker_buy_quote_volume"].to_numpy(float).copy()
        tq[rows] = tq[rows] * ratio[rows]
        if "quote_volume" in out:
            tq = np.minimum(tq, out["quote_volume"].to_numpy(float))
        out["taker_buy_quote_volume"] = tq


def _profile(n: int, pieces: list[tuple[int, int, float]]) -> np.ndarray:
    """Array of zeros with ``value`` on ``[start, end)`` for each piece."""
    a = np.zeros(n)
    for s, e, v in pieces:
        a[s:e] = v
    return a


# --------------------------------------------------------------------------------------------- scenarios


def flash_crash(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    depth: float = 0.1,
    duration: int = 5,
    rebound: float = 0.5,
    rebound_bars: int | None = None,
    volume_mult: float = 5.0,
    taker_share_factor: float = 0.4,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Fall by ``depth`` (fraction) over ``duration`` bars, then win back ``rebound`` of the fall.

    The bottom close is ``(1 - depth)`` times the pre-crash close (times the original bars' own moves over
    the window); crash bars trade ``volume_mult`` times their volume with the taker-buy share scaled by
    ``taker_share_factor``; rebound bars trade half that extra volume. Later bars keep the new level.
    """
    _check_candles(frame)
    depth = _num("depth", depth, 0.0, 1.0, lo_open=True, hi_open=True)
    duration = _int("duration", duration, 1)
    rebound = _num("rebound", rebound, 0.0, 1.0)
    rebound_bars = duration * 3 if rebound_bars is None else _int("rebound_bars", rebound_bars, 1)
    volume_mult = _num("volume_mult", volume_mult, 0.0, 1e3, lo_open=True)
    taker_share_factor = _num("taker_share_factor", taker_share_factor, 0.0, 1.0)
    n = len(frame)
    s = _window(rng, n, duration + rebound_bars, start, first=1)
    bottom = s + duration
    end = bottom + rebound_bars
    fall = np.log1p(-depth)
    shift = _profile(n, [(s, bottom, fall / duration), (bottom, end, -rebound * fall / rebound_bars)])
    out = _reprice(frame, np.ones(n), shift)
    vol = _profile(n, [(s, bottom, volume_mult - 1.0), (bottom, end, (volume_mult - 1.0) / 2)]) + 1.0
    _scale_volume(out, vol)
    rows = np.zeros(n, bool)
    rows[s:bottom] = True
    _tilt_taker(out, rows, taker_share_factor)
    params = {
        "start": s,
        "depth": depth,
        "duration": duration,
        "rebound": rebound,
        "rebound_bars": rebound_bars,
        "volume_mult": volume_mult,
        "taker_share_factor": taker_share_factor,
    }
    pre = float(frame["close"].iloc[s - 1])
    return out, _record("flash_crash", frame, s, end, params, bottom_index=bottom - 1, pre_crash_close=pre)


def pump_and_dump(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    pump: float = 0.3,
    pump_bars: int = 30,
    dump_bars: int = 10,
    retrace: float = 1.0,
    volume_mult: float = 4.0,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Rise by ``pump`` (fraction, +0.3 = +30%) over ``pump_bars``, then give back ``retrace`` of the log
    gain over ``dump_bars`` (1.0 = back to where it would have been). Heavy volume; buyers lead the pump
    (taker share x1.5), sellers the dump (x0.5)."""
    _check_candles(frame)
    pump = _num("pump", pump, 0.0, 100.0, lo_open=True)
    pump_bars = _int("pump_bars", pump_bars, 1)
    dump_bars = _int("dump_bars", dump_bars, 1)
    retrace = _num("retrace", retrace, 0.0, 2.0)
    volume_mult = _num("volume_mult", volume_mult, 0.0, 1e3, lo_open=True)
    n = len(frame)
    s = _window(rng, n, pump_bars + dump_bars, start, first=1)
    top = s + pump_bars
    end = top + dump_bars
    gain = np.log1p(pump)
    shift = _profile(n, [(s, top, gain / pump_bars), (top, end, -retrace * gain / dump_bars)])
    out = _reprice(frame, np.ones(n), shift)
    _scale_volume(out, _profile(n, [(s, end, volume_mult - 1.0)]) + 1.0)
    up = np.zeros(n, bool)
    up[s:top] = True
    down = np.zeros(n, bool)
    down[top:end] = True
    _tilt_taker(out, up, 1.5)
    _tilt_taker(out, down, 0.5)
    params = {
        "start": s,
        "pump": pump,
        "pump_bars": pump_bars,
        "dump_bars": dump_bars,
        "retrace": retrace,
        "volume_mult": volume_mult,
    }
    return out, _record("pump_and_dump", frame, s, end, params, top_index=top - 1)


def liquidity_drought(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    length: int = 240,
    volume_factor: float = 0.1,
    spread_bps: float = 25.0,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Volume (and trades, taker volumes) times ``volume_factor`` over ``length`` bars; the quoted spread
    widens to ``spread_bps``, shown as highs/lows pushed out by half the spread (record hint
    ``spread_bps`` for cost models). Closes are unchanged."""
    _check_candles(frame)
    length = _int("length", length, 1)
    volume_factor = _num("volume_factor", volume_factor, 0.0, 1.0, lo_open=True)
    spread_bps = _num("spread_bps", spread_bps, 0.0, 5000.0)
    n = len(frame)
    s = _window(rng, n, length, start, first=0)
    end = s + length
    out = frame.copy()
    _scale_volume(out, _profile(n, [(s, end, volume_factor - 1.0)]) + 1.0)
    half = spread_bps / 2e4
    for col, f in (("high", 1.0 + half), ("low", 1.0 - half)):
        vals = frame[col].to_numpy(float).copy()
        vals[s:end] *= f
        out[col] = vals
    params = {"start": s, "length": length, "volume_factor": volume_factor, "spread_bps": spread_bps}
    return out, _record("liquidity_drought", frame, s, end, params, spread_bps=spread_bps)


def volatility_jump(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    factor: float = 3.0,
    length: int | None = None,
    volume_elasticity: float = 1.0,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """From ``start`` on (for ``length`` bars, default to the end) every bar's log moves — return, wicks,
    open gap — are multiplied by ``factor``; volume and trades by ``factor ** volume_elasticity``."""
    _check_candles(frame)
    factor = _num("factor", factor, 0.0, 100.0, lo_open=True)
    volume_elasticity = _num("volume_elasticity", volume_elasticity, 0.0, 5.0)
    n = len(frame)
    if length is None:
        s = _window(rng, n, 1, start, first=1)
        length = n - s
    else:
        length = _int("length", length, 1)
        s = _window(rng, n, length, start, first=1)
    end = s + length
    scale = np.ones(n)
    scale[s:end] = factor
    out = _reprice(frame, scale, np.zeros(n))
    _scale_volume(out, _profile(n, [(s, end, factor**volume_elasticity - 1.0)]) + 1.0)
    params = {"start": s, "factor": factor, "length": length, "volume_elasticity": volume_elasticity}
    return out, _record("volatility_jump", frame, s, end, params)


def trend_reversal(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    length: int | None = None,
    drift: float | None = None,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Flip the drift from ``start`` on (for ``length`` bars, default to the end).

    The window's mean log return ``mu`` becomes ``-mu`` (so its net move is mirrored while the noise is
    kept), or ``drift`` (log return per bar) when given.
    """
    _check_candles(frame)
    n = len(frame)
    if length is None:
        s = _window(rng, n, 2, start, first=1)
        length = n - s
    else:
        length = _int("length", length, 2)
        s = _window(rng, n, length, start, first=1)
    end = s + length
    c = frame["close"].to_numpy(float)
    mu = float(np.log(c[end - 1] / c[s - 1]) / length)
    target = -mu if drift is None else _num("drift", drift, -0.5, 0.5)
    shift = _profile(n, [(s, end, target - mu)])
    out = _reprice(frame, np.ones(n), shift)
    params = {"start": s, "length": length, "drift": drift}
    return out, _record("trend_reversal", frame, s, end, params, old_drift=mu, new_drift=target)


def exchange_outage(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    length: int = 30,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Remove ``length`` rows (no data while the venue was down), leaving a gap in ``ts``.

    The index is reset; prices after the gap continue from where the market went meanwhile.
    """
    _check_candles(frame)
    length = _int("length", length, 1)
    n = len(frame)
    s = _window(rng, n, length, start, first=1, tail=1)
    end = s + length
    keep = np.ones(n, bool)
    keep[s:end] = False
    out = frame.loc[keep].reset_index(drop=True)
    ts = frame["ts"].to_numpy()
    gap_ms = int(ts[end] - ts[s - 1])
    params = {"start": s, "length": length}
    return out, _record("exchange_outage", frame, s, end, params, gap_ms=gap_ms, rows_removed=length)


def funding_spike(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start: int | None = None,
    count: int = 3,
    level: float = 0.005,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Set the funding rate of ``count`` consecutive settlements to ``level`` (|level| <= 3%; positive =
    longs pay). Works on a funding frame (``ts, rate``)."""
    _check_frame(frame, _FUNDING_REQUIRED, 1)
    count = _int("count", count, 1)
    level = _num("level", level, -_MAX_FUNDING, _MAX_FUNDING)
    n = len(frame)
    s = _window(rng, n, count, start, first=0)
    end = s + count
    out = frame.copy()
    rate = frame["rate"].to_numpy(float).copy()
    rate[s:end] = level
    out["rate"] = rate
    params = {"start": s, "count": count, "level": level}
    return out, _record("funding_spike", frame, s, end, params, level=level)


# --------------------------------------------------------------------------------------------- registry

SCENARIOS: dict[str, ScenarioFn] = {
    "flash_crash": flash_crash,
    "liquidity_drought": liquidity_drought,
    "volatility_jump": volatility_jump,
    "funding_spike": funding_spike,
    "exchange_outage": exchange_outage,
    "trend_reversal": trend_reversal,
    "pump_and_dump": pump_and_dump,
}

#: The kind of frame each scenario takes.
SCENARIO_KINDS: dict[str, DataKind] = {
    name: (DataKind.FUNDING if name == "funding_spike" else DataKind.FUTURES) for name in SCENARIOS
}


def apply_scenario(
    name: str,
    frame: pd.DataFrame,
    rng: np.random.Generator | int | None = None,
    **params: Any,
) -> tuple[pd.DataFrame, ScenarioRecord]:
    """Run scenario ``name`` on ``frame``; ``rng`` is a Generator or a seed (used where ``start`` is left out)."""
    fn = SCENARIOS.get(name)
    if fn is None:
        raise UsageError(f"unknown scenario '{name}': choose one of {', '.join(sorted(SCENARIOS))}")
    allowed = [p for p in inspect.signature(fn).parameters if p not in ("frame", "rng")]
    bad = sorted(set(params) - set(allowed))
    if bad:
        raise UsageError(f"scenario '{name}' has no parameter(s) {bad}; it takes {allowed}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return fn(frame, rng=gen, **params)
