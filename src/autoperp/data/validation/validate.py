"""Validate one :class:`MarketFrame` against every rule that applies to its kind.

Validation only reads: it never changes the frame. Repair is a separate, logged step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from autoperp.core.config import ValidationConfig
from autoperp.core.errors import FormatError
from autoperp.core.time import format_ms
from autoperp.core.timeframes import is_timeframe, timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.schema import DTYPES, MarketFrame, optional_columns, required_columns
from autoperp.data.validation import kernels
from autoperp.data.validation.findings import Finding, ValidationReport
from autoperp.data.validation.rules import N_RULES, RULE_INDEX, RULES

_RULE_NAMES = list(RULE_INDEX)


class _Collector:
    """Accumulates findings as (rule, frame index, count, detail)."""

    def __init__(self, mf: MarketFrame) -> None:
        self.mf = mf
        self.findings: dict[str, Finding] = {}

    def add(self, rule: str, index: int, count: int, detail: str) -> None:
        if count <= 0:
            return
        row = int(index) + self.mf.row_offset
        old = self.findings.get(rule)
        if old is None or row < old.row:
            total = count + (old.count if old else 0)
            self.findings[rule] = Finding(rule, row, total, detail)
        else:
            self.findings[rule] = Finding(rule, old.row, old.count + count, old.detail)

    def add_kernel(self, counts: np.ndarray, first: np.ndarray, describe: Callable[[str, int], str]) -> None:
        for r in range(N_RULES):
            if counts[r]:
                name = _RULE_NAMES[r]
                self.add(name, int(first[r]), int(counts[r]), describe(name, int(first[r])))


def _check_schema(mf: MarketFrame) -> None:
    df = mf.frame
    for col in required_columns(mf.kind):
        if col not in df.columns:
            raise FormatError(f"missing column for {mf.kind.value} data", path=mf.source, field=col)
    for col, got in zip(df.columns, df.dtypes, strict=True):
        want = DTYPES.get(col)
        if want is None or want == "string":
            continue
        if not _dtype_ok(want, got):
            raise FormatError(f"column has dtype {got}, expected {want}", path=mf.source, field=col)


def _dtype_ok(want: str, got: Any) -> bool:
    if isinstance(got, np.dtype):  # the readers' dtypes: decided by the kind code alone
        if want == "float64":
            return got.kind == "f"
        if want == "bool":
            return got.kind == "b"
        return got.kind in "iu"  # int64, int8, int16
    return bool(
        (want == "int64" and pd.api.types.is_integer_dtype(got))
        or (want == "float64" and pd.api.types.is_float_dtype(got))
        or (want == "bool" and pd.api.types.is_bool_dtype(got))
        or (want in ("int8", "int16") and pd.api.types.is_integer_dtype(got))
    )


def _row_values(df: pd.DataFrame, i: int, cols: tuple[str, ...]) -> str:
    parts = []
    for c in cols:
        if c in df.columns:
            v = df[c].iat[i]
            parts.append(f"{c}={format_ms(int(v)) if c == 'ts' else v}")
    return ", ".join(parts)


def _sorted_order(ts: np.ndarray, monotone: bool) -> np.ndarray | None:
    return None if monotone else np.argsort(ts, kind="stable")


def _check_duplicates(
    col: _Collector, df: pd.DataFrame, key: list[str], ts: np.ndarray, monotone: bool
) -> None:
    """Exact duplicate rows (fixable) and rows sharing ``key`` with different values (not fixable)."""
    if key == ["ts"]:
        order = _sorted_order(ts, monotone)
        ts_s = ts if order is None else ts[order]
        same = np.flatnonzero(ts_s[1:] == ts_s[:-1])
        if same.size == 0:
            return
        later = same + 1 if order is None else order[same + 1]
        earlier = same if order is None else order[same]
        a = df.iloc[earlier].reset_index(drop=True)
        b = df.iloc[later].reset_index(drop=True)
        equal = ((a == b) | (a.isna() & b.isna())).all(axis=1).to_numpy()
        exact, conflict = later[equal], later[~equal]
    else:
        exact_mask = df.duplicated(keep="first").to_numpy()
        key_mask = df.duplicated(subset=key, keep="first").to_numpy()
        exact = np.flatnonzero(exact_mask)
        conflict = np.flatnonzero(key_mask & ~exact_mask)
    if exact.size:
        i = int(exact.min())
        col.add("duplicate_row", i, exact.size, f"repeats an earlier row ({_row_values(df, i, ('ts',))})")
    if conflict.size:
        i = int(conflict.min())
        col.add(
            "duplicate_conflict",
            i,
            conflict.size,
            f"same {'/'.join(key)} as an earlier row but different values ({_row_values(df, i, tuple(key))})",
        )


def _check_gaps(col: _Collector, ts: np.ndarray, monotone: bool, step: int, tolerance: float) -> None:
    order = _sorted_order(ts, monotone)
    ts_s = ts if order is None else ts[order]
    d = np.diff(ts_s)
    gaps = np.flatnonzero(d > tolerance * step)
    if gaps.size == 0:
        return
    g = int(gaps[0])
    idx = g + 1 if order is None else int(order[g + 1])
    missing = int(d[g] // step) - 1
    col.add(
        "gap",
        idx,
        gaps.size,
        f"no bars between {format_ms(int(ts_s[g]))} and {format_ms(int(ts_s[g + 1]))} ({missing} missing)",
    )


def _check_candles(col: _Collector, mf: MarketFrame, cfg: ValidationConfig) -> None:
    df = mf.frame
    o, h, lo, c = (mf.column(x).astype(np.float64, copy=False) for x in ("open", "high", "low", "close"))
    empty = np.empty(0)
    v = mf.column("volume").astype(np.float64, copy=False) if "volume" in df.columns else empty
    tb = mf.column("taker_buy_volume").astype(np.float64, copy=False) if "taker_buy_volume" in df else empty
    qv = mf.column("quote_volume").astype(np.float64, copy=False) if "quote_volume" in df else empty
    tbq = (
        mf.column("taker_buy_quote_volume").astype(np.float64, copy=False)
        if "taker_buy_quote_volume" in df
        else empty
    )
    counts = np.zeros(N_RULES, np.int64)
    first = np.full(N_RULES, -1, np.int64)
    kernels.candle_row_checks(o, h, lo, c, v, tb, qv, tbq, counts, first)
    prices_ok = counts[RULE_INDEX["nan_inf"]] == 0 and counts[RULE_INDEX["non_positive_price"]] == 0
    show = ("ts", "open", "high", "low", "close", "volume", "taker_buy_volume")
    col.add_kernel(counts, first, lambda _r, i: _row_values(df, i, show))

    ts = mf.column("ts")
    step = timeframe_ms(mf.timeframe) if is_timeframe(mf.timeframe) else 0
    counts[:] = 0
    first[:] = -1
    monotone = kernels.order_checks(ts, step, counts, first)
    col.add_kernel(counts, first, lambda r, i: _order_detail(df, ts, r, i))
    _check_duplicates(col, df, ["ts"], ts, monotone)
    if step:
        _check_gaps(col, ts, monotone, step, cfg.gap_tolerance)
    if prices_ok:  # otherwise nan_inf / non_positive_price already block this series
        _check_spikes(col, ts, c, monotone, cfg, step)


def _order_detail(df: pd.DataFrame, ts: np.ndarray, rule: str, i: int) -> str:
    if rule == "out_of_order":
        return f"ts {format_ms(int(ts[i]))} comes after {format_ms(int(ts[i - 1]))}"
    return f"ts {format_ms(int(ts[i]))} ({int(ts[i])} ms)"


def _check_spikes(
    col: _Collector, ts: np.ndarray, c: np.ndarray, monotone: bool, cfg: ValidationConfig, step: int
) -> None:
    if len(c) < 3:
        return
    order = _sorted_order(ts, monotone)
    close = c if order is None else c[order]
    # a 1h bar legitimately moves ~sqrt(60) times as far as a 1m bar
    min_ret = cfg.spike_min_return * np.sqrt(max(step, 60_000) / 60_000)
    cand = kernels.spike_candidates(close, min_ret, cfg.spike_revert)
    if cand.size == 0:
        return
    center, scale = kernels.robust_scale(close)
    r0 = np.log(close[cand] / close[cand - 1])
    r1 = np.log(close[cand + 1] / close[cand])
    z_ok = (np.abs((r0 - center) / scale) >= cfg.spike_z) & (np.abs((r1 - center) / scale) >= cfg.spike_z)
    idx = cand[z_ok]
    if idx.size:
        k = int(idx[0])
        i = k if order is None else int(order[k])
        z = (np.log(close[k] / close[k - 1]) - center) / scale
        col.add(
            "price_spike",
            i,
            idx.size,
            f"close {close[k - 1]:g} -> {close[k]:g} -> {close[k + 1]:g} (robust z {z:+.0f})",
        )


def _check_finite(col: _Collector, df: pd.DataFrame, cols: list[str]) -> None:
    for c in cols:
        if c not in df.columns or not pd.api.types.is_float_dtype(df[c].dtype):
            continue
        bad = np.flatnonzero(~np.isfinite(df[c].to_numpy()))
        if bad.size:
            col.add("nan_inf", int(bad[0]), bad.size, f"{c}={df[c].iat[int(bad[0])]}")


def _check_positive(col: _Collector, df: pd.DataFrame, cols: list[str], rule: str, strict: bool) -> None:
    for c in cols:
        if c not in df.columns:
            continue
        x = df[c].to_numpy()
        bad = np.flatnonzero(x <= 0 if strict else x < 0)
        if bad.size:
            col.add(rule, int(bad[0]), bad.size, f"{c}={x[int(bad[0])]}")


def _check_events(col: _Collector, mf: MarketFrame, cfg: ValidationConfig, key: list[str]) -> None:
    """Order and duplicate checks of event series (funding, trades, quotes, book, news)."""
    ts = mf.column("ts")
    counts = np.zeros(N_RULES, np.int64)
    first = np.full(N_RULES, -1, np.int64)
    monotone = kernels.order_checks(ts, 0, counts, first)
    col.add_kernel(counts, first, lambda r, i: _order_detail(mf.frame, ts, r, i))
    if key:
        _check_duplicates(col, mf.frame, key, ts, monotone)


def _check_funding(col: _Collector, mf: MarketFrame, cfg: ValidationConfig) -> None:
    df = mf.frame
    _check_finite(col, df, ["rate", "interval_h", "mark_price"])
    _check_positive(col, df, ["mark_price"], "non_positive_price", strict=True)
    cap = cfg.funding_rate_caps.get(mf.symbol.ccxt, cfg.funding_rate_cap)
    rate = df["rate"].to_numpy()
    bad = np.flatnonzero(np.abs(rate) > cap)
    if bad.size:
        i = int(bad[0])
        col.add(
            "funding_rate_cap", i, bad.size, f"rate={rate[i]:.6f} beyond ±{cap} (validation.funding_rate_cap)"
        )
    _check_events(col, mf, cfg, ["ts"])


def _check_trades(col: _Collector, mf: MarketFrame, cfg: ValidationConfig) -> None:
    df = mf.frame
    _check_finite(col, df, ["price", "qty"])
    _check_positive(col, df, ["price"], "non_positive_price", strict=True)
    _check_positive(col, df, ["qty"], "negative_volume", strict=False)
    # Without trade ids two identical trades in one ms are legitimate and cannot be told from a
    # repeated row, so duplicates are only checked by id.
    _check_events(col, mf, cfg, ["id"] if "id" in df.columns else [])


def _check_quotes(col: _Collector, mf: MarketFrame, cfg: ValidationConfig) -> None:
    df = mf.frame
    _check_finite(col, df, ["bid", "ask", "bid_qty", "ask_qty"])
    _check_positive(col, df, ["bid", "ask"], "non_positive_price", strict=True)
    _check_positive(col, df, ["bid_qty", "ask_qty"], "negative_volume", strict=False)
    crossed = np.flatnonzero(df["bid"].to_numpy() >= df["ask"].to_numpy())
    if crossed.size:
        i = int(crossed[0])
        col.add("crossed_quote", i, crossed.size, _row_values(df, i, ("ts", "bid", "ask")))
    _check_events(col, mf, cfg, [])


def _check_book(col: _Collector, mf: MarketFrame, cfg: ValidationConfig) -> None:
    df = mf.frame
    _check_finite(col, df, ["price", "qty"])
    _check_positive(col, df, ["price"], "non_positive_price", strict=True)
    _check_positive(col, df, ["qty"], "negative_volume", strict=False)
    top = df[df["level"] == 0]
    bids = top[top["side"] > 0].set_index("ts")["price"]
    asks = top[top["side"] < 0].set_index("ts")["price"]
    both = bids.index.intersection(asks.index)
    if len(both):
        b, a = bids.loc[both].to_numpy(), asks.loc[both].to_numpy()
        crossed = np.flatnonzero(b >= a)
        if crossed.size:
            t = both[int(crossed[0])]
            i = int(np.flatnonzero(df["ts"].to_numpy() == t)[0])
            col.add("crossed_quote", i, crossed.size, f"best bid {b[crossed[0]]} >= best ask {a[crossed[0]]}")
    _check_events(col, mf, cfg, ["ts", "side", "level"])


def _check_news(col: _Collector, mf: MarketFrame, cfg: ValidationConfig) -> None:
    df = mf.frame
    title = df["title"].astype("string")
    bad = np.flatnonzero((title.isna() | (title.str.strip() == "")).to_numpy())
    if bad.size:
        col.add("empty_field", int(bad[0]), bad.size, "title is empty")
    _check_events(col, mf, cfg, [c for c in ("ts", "title", "url") if c in df.columns])


_BY_KIND: dict[DataKind, Callable[[_Collector, MarketFrame, ValidationConfig], None]] = {
    DataKind.FUNDING: _check_funding,
    DataKind.TRADES: _check_trades,
    DataKind.QUOTES: _check_quotes,
    DataKind.BOOK: _check_book,
    DataKind.NEWS: _check_news,
}


def validate_frame(mf: MarketFrame, cfg: ValidationConfig | None = None) -> ValidationReport:
    """Check ``mf`` against every rule of its kind; raises :class:`FormatError` on a schema problem.

    Rules named in ``cfg.disabled_rules`` are not applied and are listed in ``report.skipped_rules``.
    """
    cfg = cfg or ValidationConfig()
    unknown = [r for r in cfg.disabled_rules if r not in RULES]
    if unknown:
        raise FormatError(f"unknown rule(s) in validation.disabled_rules: {', '.join(unknown)}")
    _check_schema(mf)
    unexpected = set(mf.frame.columns) - set(required_columns(mf.kind)) - set(optional_columns(mf.kind))
    if unexpected:
        raise FormatError(
            f"unexpected column(s) for {mf.kind.value} data: {', '.join(sorted(unexpected))}", path=mf.source
        )
    col = _Collector(mf)
    if len(mf.frame):
        (_check_candles if mf.kind.is_candles else _BY_KIND[mf.kind])(col, mf, cfg)
    findings = [f for f in col.findings.values() if f.rule not in cfg.disabled_rules]
    findings.sort(key=lambda f: f.row)
    return ValidationReport(mf.source, len(mf.frame), findings, list(cfg.disabled_rules))
