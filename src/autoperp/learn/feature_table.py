"""Per-bar causal features of S market series, precomputed once for the RL env and the policy's gather.

Row j of every array is what is known at bar j's close. Groups of columns of ``bars``:

* ``price`` (5): log(open, high, low, close / previous close) in units of the causal per-bar volatility
  at bar j (realised vol over ``norm_window`` bars through j, divided by sqrt(window)), and
  log1p(volume / its trailing mean over ``volume_window`` bars). Unlike the pre-training dataset, which
  divides a whole window by the vol at decision time, each row is normalised by its own bar's vol so the
  table can be built once and gathered anywhere.
* ``regime`` (5): log(per-bar realised vol at each of ``vol_windows``, relative to the expanding mean
  per-bar vol of the longest window), 0 for the Hurst exponent (not computed here), funding z-score.
* ``flow`` (6): taker-buy share − 0.5, signed volume / trailing mean volume, log relative volume and
  trade count, and two vol-normalised log returns; zeros (and ``has_flow`` False) without flow inputs.
* ``alt`` (4): last funding rate (bps), mark/trade basis (bps), time to the next settlement (8 h units),
  log relative volume at the slow horizon.
* ``raw`` (2): ``close`` = 100·log(close / its causal EMA over ``fast_window`` bars) (percent) and
  ``close_diff`` = 100·log(close / previous close) (percent), the gym-anytrading style pair.

Every value is NaN-free and clipped to ±10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autoperp.core.errors import ValidationError
from autoperp.core.time import MS_PER_HOUR
from autoperp.core.timeframes import timeframe_ms
from autoperp.features.flow import ratio_to_mean, signed_volume, taker_buy_share
from autoperp.features.funding import funding_ffill, funding_zscore
from autoperp.features.returns import log_returns
from autoperp.features.volatility import realised_vol
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket

__all__ = ["FeatureTable", "TableSpec", "build_feature_table", "concat_tables"]

CLIP = 10.0
FUNDING_PERIOD_MS = 8 * MS_PER_HOUR

PRICE_COLUMNS = ("p_open", "p_high", "p_low", "p_close", "p_volume")
REGIME_COLUMNS = ("rv_short", "rv_mid", "rv_long", "hurst", "funding_z")
FLOW_COLUMNS = ("taker_share", "signed_volume", "volume_rel", "trades_rel", "ret_short", "ret_long")
ALT_COLUMNS = ("funding_bps", "basis_bps", "funding_eta", "volume_rel_slow")
RAW_COLUMNS = ("close", "close_diff")


class TableSpec(BaseModel):
    """Windows of the feature table, in bars of the series' timeframe unless noted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fast_window: int = Field(32, ge=2, description="bars in the fast window the policy gathers")
    slow_window: int = Field(24, ge=2, description="completed 1h bars in the slow window")
    vol_windows: tuple[int, int, int] = (30, 240, 1440)
    norm_window: int = Field(240, ge=2, description="bars of realised vol that normalise price moves")
    volume_window: int = Field(1440, ge=1, description="bars of the trailing mean volume")
    return_horizons: tuple[int, int] = (5, 60)
    funding_z_window: int = Field(4320, ge=2, description="bars of the funding z-score")
    obs_window: int = Field(10, ge=1, description="rows a window observation needs (counted in warm-up)")

    @field_validator("vol_windows", "return_horizons")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(w < 1 for w in v):
            raise ValueError("windows and horizons are at least 1 bar")
        return v


@dataclass
class FeatureTable:
    """Per-bar causal features of S series (float32, NaN-free, clipped to ±10 on valid bars)."""

    columns: tuple[str, ...]
    groups: dict[str, tuple[int, ...]]
    bars: np.ndarray  # (S, n_max, C) float32
    slow: np.ndarray  # (S, n_slow_max, 5) float32, price features of completed 1h bars
    slow_index: np.ndarray  # (S, n_max) int64, row of the last complete 1h bar at bar j's close (-1 none)
    n_bars: np.ndarray  # (S,) int64
    warmup: int  # first bar at which every window the env reads is full
    funding_eta: np.ndarray  # (S, n_max) float32, time to the next settlement at j's close, 8 h units
    has_flow: bool = False  # True only when every series had taker_buy_volume and trades
    spec: TableSpec | None = field(default=None, repr=False)

    @property
    def n_series(self) -> int:
        """S, the number of series."""
        return int(self.bars.shape[0])

    def group(self, name: str) -> tuple[int, ...]:
        """Column indices of group ``name``; raises ValidationError for an unknown group."""
        if name not in self.groups:
            raise ValidationError(
                f"learn/feature_table.py: unknown group '{name}' (known: {', '.join(self.groups)})",
                field="window_group",
            )
        return self.groups[name]


def _log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.log(a / b)
    return out


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean over the last ``window`` values (fewer at the start), t included: causal."""
    c = np.cumsum(np.concatenate(([0.0], x)))
    idx = np.arange(1, x.shape[0] + 1)
    lo = np.maximum(idx - window, 0)
    return np.asarray((c[idx] - c[lo]) / (idx - lo), dtype=np.float64)


def _ema(x: np.ndarray, span: int) -> np.ndarray:
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(x)
    acc = x[0]
    for i in range(x.shape[0]):
        acc = acc + alpha * (x[i] - acc)
        out[i] = acc
    return out


def _clean(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(np.nan_to_num(x, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP))


def _price_features(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
                    sigma: np.ndarray, vol_window: int) -> np.ndarray:  # fmt: skip
    prev = np.concatenate(([o[0]], c[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = [_log_ratio(x, prev) / sigma for x in (o, h, lo, c)]
        vol = np.log1p(v / _trailing_mean(v, vol_window))
    return _clean(np.stack([*moves, vol], axis=1))


def _hourly(ts: np.ndarray, tf_ms: int, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
            v: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Completed ``period`` bars (o, h, l, c, v rows) and, per base bar, the last complete one (-1 none)."""
    g = ts // period
    starts = np.flatnonzero(np.concatenate(([True], g[1:] != g[:-1])))
    ends = np.concatenate((starts[1:], [ts.shape[0]]))
    complete = ts[ends - 1] + tf_ms >= (g[starts] + 1) * period
    agg = np.stack(
        [o[starts], np.maximum.reduceat(h, starts), np.minimum.reduceat(lo, starts), c[ends - 1],
         np.add.reduceat(v, starts)], axis=1,
    )[complete]  # fmt: skip
    # row of each group among the complete ones; only the last group can be incomplete
    row_of_group = np.cumsum(complete) - 1
    grp = np.cumsum(np.concatenate(([False], g[1:] != g[:-1])))
    own_complete = ts + tf_ms >= (g + 1) * period
    # a bar that ends its group sees that group; earlier bars see the last complete group before it
    # (a group cut short by a data gap never completes and is left out)
    idx = np.where(
        own_complete, row_of_group[grp], np.where(grp > 0, row_of_group[np.maximum(grp - 1, 0)], -1)
    )
    return agg, idx.astype(np.int64)


def _slow_features(agg: np.ndarray, window: int) -> np.ndarray:
    if agg.shape[0] == 0:
        return np.zeros((0, 5), dtype=np.float64)
    o, h, lo, c, v = (agg[:, i] for i in range(5))
    r = log_returns(c, 1)
    r2 = np.nan_to_num(r * r)
    # expanding until the window is full, so the first completed hours already have a scale
    sigma = np.sqrt(_trailing_mean(r2, window))
    sigma = np.where(sigma > 0, sigma, np.nan)
    return _price_features(o, h, lo, c, v, sigma, window)


def _funding_eta(ts: np.ndarray, tf_ms: int, rate: np.ndarray) -> np.ndarray:
    """Time from each bar's close to the next settlement (8 h units, ≥ 0); 1.0 when none is known.

    Settlement times are a published schedule, so the next one is known in advance (no lookahead);
    past the last settlement in the data the schedule is extended by the last interval.
    """
    n = ts.shape[0]
    settle = ts[np.flatnonzero(np.isfinite(rate))]
    if settle.shape[0] == 0:
        return np.ones(n)
    if settle.shape[0] > 1:
        step = int(np.median(np.diff(settle)))
        extra = settle[-1] + step * np.arange(1, (ts[-1] - settle[-1]) // max(step, 1) + 3)
        settle = np.concatenate((settle, extra))
    now = ts + tf_ms
    pos = np.searchsorted(settle, now, side="left")
    has = pos < settle.shape[0]
    nxt = settle[np.minimum(pos, settle.shape[0] - 1)]
    return np.where(has, np.maximum(nxt - now, 0) / FUNDING_PERIOD_MS, 1.0)


def _flow(frame: Mapping[str, np.ndarray] | None, n: int) -> np.ndarray | None:
    if frame is None or "taker_buy_volume" not in frame or "trades" not in frame:
        return None
    tbv = np.asarray(frame["taker_buy_volume"], dtype=np.float64)
    trades = np.asarray(frame["trades"], dtype=np.float64)
    if tbv.shape != (n,) or trades.shape != (n,):
        raise ValidationError(
            f"learn/feature_table.py: flow columns have {tbv.shape[0]}/{trades.shape[0]} rows, the market {n}",
            field="taker_buy_volume",
        )
    return np.stack([tbv, trades])


def _series_features(m: SimMarket, frame: Mapping[str, np.ndarray] | None, spec: TableSpec,
                     tf_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]:  # fmt: skip
    d = m.data
    o, h, lo, c, v = (
        np.asarray(d[i], dtype=np.float64) for i in (L.M_OPEN, L.M_HIGH, L.M_LOW, L.M_CLOSE, L.M_VOLUME)
    )
    n = c.shape[0]
    sigma = realised_vol(c, spec.norm_window) / np.sqrt(spec.norm_window)
    sigma = np.where(sigma > 0, sigma, np.nan)
    price = _price_features(o, h, lo, c, v, sigma, spec.volume_window)

    bar_vol = [realised_vol(c, w) / np.sqrt(w) for w in spec.vol_windows]
    ref = bar_vol[-1]
    valid = np.isfinite(ref)
    ref_mean = np.cumsum(np.where(valid, ref, 0.0)) / np.maximum(np.cumsum(valid), 1)
    rate = np.asarray(d[L.M_FUNDING], dtype=np.float64)
    fz = funding_zscore(rate, spec.funding_z_window)
    regime = np.stack([_log_ratio(bv, ref_mean) for bv in bar_vol] + [np.zeros(n), fz], axis=1)

    flow_in = _flow(frame, n)
    if flow_in is None:
        flow = np.zeros((n, len(FLOW_COLUMNS)))
    else:
        tbv, trades = flow_in
        vmean = _trailing_mean(v, spec.volume_window)
        h1, h2 = spec.return_horizons
        with np.errstate(divide="ignore", invalid="ignore"):
            flow = np.stack(
                [
                    taker_buy_share(v, tbv) - 0.5,
                    signed_volume(v, tbv) / vmean,
                    np.log(ratio_to_mean(v, spec.volume_window)),
                    np.log(ratio_to_mean(trades, spec.volume_window)),
                    log_returns(c, h1) / (sigma * np.sqrt(h1)),
                    log_returns(c, h2) / (sigma * np.sqrt(h2)),
                ],
                axis=1,
            )
    eta = _funding_eta(m.ts, tf_ms, rate)
    slow_vmean = _trailing_mean(v, max(1, MS_PER_HOUR // tf_ms) * spec.slow_window)
    with np.errstate(divide="ignore", invalid="ignore"):
        alt = np.stack(
            [
                funding_ffill(rate) * 1e4,
                (np.asarray(d[L.M_MARK]) / c - 1.0) * 1e4,
                eta,
                np.log(_trailing_mean(v, spec.volume_window) / slow_vmean),
            ],
            axis=1,
        )
    raw = np.stack([100.0 * _log_ratio(c, _ema(c, spec.fast_window)), 100.0 * log_returns(c, 1)], axis=1)
    bars = np.concatenate([price, _clean(regime), _clean(flow), _clean(alt), _clean(raw)], axis=1)

    period = max(MS_PER_HOUR, tf_ms)
    agg, slow_index = _hourly(m.ts, tf_ms, o, h, lo, c, v, period)
    slow = _slow_features(agg, spec.slow_window)
    warm = max(spec.fast_window, spec.norm_window, max(spec.vol_windows), spec.obs_window) + 1
    enough = np.flatnonzero(slow_index >= spec.slow_window - 1)
    warm = max(warm, int(enough[0]) if enough.size else n)
    return (
        bars.astype(np.float32),
        slow.astype(np.float32),
        slow_index,
        eta.astype(np.float32),
        warm,
        flow_in is not None,
    )


def build_feature_table(
    markets: Sequence[SimMarket], frames: Sequence[Mapping[str, np.ndarray]] | None, spec: TableSpec
) -> FeatureTable:
    """The feature table of ``markets`` (one series each); ``frames[i]`` (default: the market's own
    ``extras``) may carry ``taker_buy_volume``
    and ``trades`` (arrays of the market's length) for the flow group.

    ``warmup`` is the largest per-series warm-up; a series shorter than it has no usable bar (the env says so).
    """
    if not markets:
        raise ValidationError("learn/feature_table.py: no markets given", field="markets")
    if frames is not None and len(frames) != len(markets):
        raise ValidationError(
            f"learn/feature_table.py: {len(frames)} frames for {len(markets)} markets", field="frames"
        )
    parts = []
    for i, m in enumerate(markets):
        if len(m) < 2:
            raise ValidationError(f"learn/feature_table.py: market {i} has {len(m)} bars", field="markets")
        tf_ms = timeframe_ms(m.timeframe) if m.timeframe else int(np.median(np.diff(m.ts)))
        # without frames, the order-flow columns the candles carried (``SimMarket.extras``) are used
        extra = m.extras if frames is None else frames[i]
        parts.append(_series_features(m, extra or None, spec, tf_ms))
    s = len(markets)
    n_max = max(len(m) for m in markets)
    n_slow = max(1, max(p[1].shape[0] for p in parts))
    columns: tuple[str, ...] = (*PRICE_COLUMNS, *REGIME_COLUMNS, *FLOW_COLUMNS, *ALT_COLUMNS, *RAW_COLUMNS)
    bars = np.zeros((s, n_max, len(columns)), dtype=np.float32)
    slow = np.zeros((s, n_slow, 5), dtype=np.float32)
    slow_index = np.full((s, n_max), -1, dtype=np.int64)
    eta = np.ones((s, n_max), dtype=np.float32)
    n_bars = np.empty(s, dtype=np.int64)
    for i, (b, sl, si, et, _, _) in enumerate(parts):
        n = b.shape[0]
        bars[i, :n] = b
        slow[i, : sl.shape[0]] = sl
        slow_index[i, :n] = si
        eta[i, :n] = et
        n_bars[i] = n
    k = 0
    groups: dict[str, tuple[int, ...]] = {}
    for name, width in (("price", 5), ("regime", 5), ("flow", 6), ("alt", 4), ("raw", 2)):
        groups[name] = tuple(range(k, k + width))
        k += width
    return FeatureTable(
        columns=columns,
        groups=groups,
        bars=bars,
        slow=slow,
        slow_index=slow_index,
        n_bars=n_bars,
        warmup=max(p[4] for p in parts),
        funding_eta=eta,
        has_flow=all(p[5] for p in parts),
        spec=spec,
    )


def concat_tables(a: FeatureTable, b: FeatureTable) -> FeatureTable:
    """The series of ``a`` followed by those of ``b`` (same columns), padded to the longer length."""
    if a.columns != b.columns:
        raise ValidationError("learn/feature_table.py: tables with different columns", field="columns")
    s = a.n_series + b.n_series
    n_max = max(a.bars.shape[1], b.bars.shape[1])
    n_slow = max(a.slow.shape[1], b.slow.shape[1])
    bars = np.zeros((s, n_max, len(a.columns)), dtype=np.float32)
    slow = np.zeros((s, n_slow, 5), dtype=np.float32)
    slow_index = np.full((s, n_max), -1, dtype=np.int64)
    eta = np.ones((s, n_max), dtype=np.float32)
    for off, t in ((0, a), (a.n_series, b)):
        rows = slice(off, off + t.n_series)
        bars[rows, : t.bars.shape[1]] = t.bars
        slow[rows, : t.slow.shape[1]] = t.slow
        slow_index[rows, : t.slow_index.shape[1]] = t.slow_index
        eta[rows, : t.funding_eta.shape[1]] = t.funding_eta
    return FeatureTable(
        columns=a.columns,
        groups=dict(a.groups),
        bars=bars,
        slow=slow,
        slow_index=slow_index,
        n_bars=np.concatenate((a.n_bars, b.n_bars)),
        warmup=max(a.warmup, b.warmup),
        funding_eta=eta,
        has_flow=a.has_flow and b.has_flow,
        spec=a.spec,
    )
