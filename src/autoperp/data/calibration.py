"""Fit :class:`~autoperp.data.synthetic.SyntheticParams` to a real candle series, and measure stylised facts.

:func:`calibrate` estimates, from one canonical candle frame (``ts, open, high, low, close, volume`` and,
when present, ``trades`` and ``taker_buy_volume``):

* price grid: start price and tick size (smallest price step, when prices sit on a grid); opens stay at
  the previous close (real open gaps are bid-ask bounce tied to order flow, not modelled);
* regimes: bars are labelled calm / trend / turbulent from a 4-hour smoothed Parkinson volatility (top
  decile = turbulent) and a drift t-statistic (|t| > 2 = trend); regime vols are the RMS returns of each
  label, the hourly transition matrix is counted from the hourly labels, the trend drift is the
  noise-corrected RMS window drift;
* volatility clustering: the autocovariance of log bar range at lags up to 3 days, less the part the
  regime labels explain, is fitted by non-negative least squares with OU components on a grid of time
  scales (the log-vol autocovariance comes from |r|: ``C(L) = log(1 + acov|r|(L) / E|r|^2)``, exact for
  log-normal volatility and robust to coarse ticks); the EGARCH feedback term is left off;
* tails: Student-t degrees of freedom (>= 4) from the quantile ratio q99.5/q90 of locally standardised
  returns (robust where sample kurtosis is dominated by a handful of bars); jumps are the standardised moves beyond
  what that t body predicts (intensity per day, RMS size), and the post-jump rise of log range over the
  following hour gives the aftershock boost and its decay;
* intrabar: wick scale matched on mean(range)/mean(|r|);
* daily seasonality of log range and log volume (two harmonics), volume level and elasticity to the bar
  range, residual persistence; taker-buy share (logit on close location) and trade count (log-log on
  volume) where the columns exist.

:func:`stylized_facts` measures what tests and reports compare between real and synthetic series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq, least_squares, nnls
from scipy.special import polygamma
from scipy.stats import t as student_t

from autoperp.core.errors import DataError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, MS_PER_HOUR
from autoperp.core.timeframes import timeframe_ms
from autoperp.data.synthetic import SyntheticParams, generate_market, season_basis

__all__ = ["StylizedFacts", "calibrate", "calibrate_market", "stylized_facts"]

_REQUIRED = ("ts", "open", "high", "low", "close", "volume")
_GRID_H = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 72.0)
_BODY_Q = (0.9, 0.995)
_JUMP_TAIL = 1e-4  # probability of a t-body exceedance of the jump threshold


# --------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class StylizedFacts:
    """Stylised facts of a candle series (log close-to-close returns ``r``)."""

    n: int
    ret_std: float  # std of r
    excess_kurtosis: float  # of r
    tail_ratio: float  # q99.9 / q75 of |r|: fat tails, robust to one outlier
    acf_abs: np.ndarray  # autocorrelation of |r| at lags 1..60 (index 0 = lag 1)
    acf_ret_1: float  # lag-1 autocorrelation of r
    vol_absret_corr: float  # Pearson corr(volume, |r|)
    taker_ret_corr: float  # corr(taker-buy share, r); NaN without taker_buy_volume
    trades_volume_corr: float  # corr(log trades, log volume); NaN without trades
    range_ratio: float  # mean log(high/low) / mean |r|
    zero_ret_frac: float  # share of r == 0 (tick discreteness)

    @property
    def acf_abs_1(self) -> float:
        return float(self.acf_abs[0])

    @property
    def acf_abs_mean(self) -> float:
        """Mean autocorrelation of |r| over lags 1..60."""
        return float(np.mean(self.acf_abs))

    @property
    def acf_abs_tail(self) -> float:
        """Mean autocorrelation of |r| over lags 41..60 (long memory)."""
        return float(np.mean(self.acf_abs[40:60]))

    def as_dict(self) -> dict[str, float]:
        return {
            "ret_std": self.ret_std,
            "excess_kurtosis": self.excess_kurtosis,
            "tail_ratio": self.tail_ratio,
            "acf_abs_1": self.acf_abs_1,
            "acf_abs_mean_1_60": self.acf_abs_mean,
            "acf_abs_41_60": self.acf_abs_tail,
            "acf_ret_1": self.acf_ret_1,
            "vol_absret_corr": self.vol_absret_corr,
            "taker_ret_corr": self.taker_ret_corr,
            "trades_volume_corr": self.trades_volume_corr,
            "range_ratio": self.range_ratio,
            "zero_ret_frac": self.zero_ret_frac,
        }


def _acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    x = x - x.mean()
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(x, size)
    ac = np.fft.irfft(f * np.conj(f), size)[: max_lag + 1]
    ac = ac / np.arange(n, n - max_lag - 1, -1)
    return ac[1:] / ac[0] if ac[0] > 0 else np.zeros(max_lag)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    m = np.isfinite(a) & np.isfinite(b)
    if m.sum() < 3 or np.std(a[m]) == 0 or np.std(b[m]) == 0:
        return float("nan")
    return float(np.corrcoef(a[m], b[m])[0, 1])


def stylized_facts(candles: pd.DataFrame, *, max_lag: int = 60) -> StylizedFacts:
    """Measure the stylised facts of a candle frame (see :class:`StylizedFacts`)."""
    _check(candles, min_rows=max_lag + 10)
    c = candles["close"].to_numpy(float)
    r = np.diff(np.log(c))
    a = np.abs(r)
    v = candles["volume"].to_numpy(float)[1:]
    hl = np.log(candles["high"].to_numpy(float) / candles["low"].to_numpy(float))[1:]
    sd = float(r.std())
    kurt = float(((r - r.mean()) ** 4).mean() / sd**4 - 3.0) if sd > 0 else 0.0
    q75 = float(np.quantile(a, 0.75))
    tail = float(np.quantile(a, 0.999) / q75) if q75 > 0 else float("inf")
    taker = float("nan")
    if "taker_buy_volume" in candles:
        tb = candles["taker_buy_volume"].to_numpy(float)[1:]
        share = np.where(v > 0, tb / np.where(v > 0, v, 1.0), np.nan)
        taker = _corr(share, r)
    trades_corr = float("nan")
    if "trades" in candles:
        tr = candles["trades"].to_numpy(float)[1:]
        ok = (tr > 0) & (v > 0)
        trades_corr = _corr(np.log(tr[ok]), np.log(v[ok]))
    return StylizedFacts(
        n=len(r),
        ret_std=sd,
        excess_kurtosis=kurt,
        tail_ratio=tail,
        acf_abs=_acf(a, max_lag),
        acf_ret_1=float(_acf(r, 1)[0]),
        vol_absret_corr=_corr(v, a),
        taker_ret_corr=taker,
        trades_volume_corr=trades_corr,
        range_ratio=float(hl.mean() / a.mean()) if a.mean() > 0 else float("nan"),
        zero_ret_frac=float((r == 0).mean()),
    )


# --------------------------------------------------------------------------------------------- helpers


def _check(candles: pd.DataFrame, *, min_rows: int) -> None:
    missing = [k for k in _REQUIRED if k not in candles.columns]
    if missing:
        raise UsageError(f"candle frame lacks columns {missing}; it needs {list(_REQUIRED)}")
    if len(candles) < min_rows:
        raise UsageError(f"candle frame has {len(candles)} rows; at least {min_rows} are needed")
    px = candles[["open", "high", "low", "close"]].to_numpy(float)
    if not np.isfinite(px).all() or (px <= 0).any():
        raise DataError("candle prices must be finite and > 0", rule="positive_prices")


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and residuals of y ~ [1, x]."""
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef, y - design @ coef


def _tick(prices: np.ndarray) -> float | None:
    u = np.unique(prices)
    if len(u) < 20:
        return None
    step = float(np.min(np.diff(u)))
    tick = float(f"{step:.2g}")
    if tick <= 0 or tick / float(np.median(prices)) < 1e-7:
        return None
    on_grid = np.abs(prices / tick - np.round(prices / tick)) < 1e-4
    return tick if on_grid.mean() > 0.99 else None


def _rolling_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Centred rolling mean (window ``w``, shrunk at the edges)."""
    return pd.Series(x).rolling(w, center=True, min_periods=1).mean().to_numpy()


def _masked_autocov(
    y: np.ndarray, mask: np.ndarray, lags: np.ndarray, *, centre: float | None = None
) -> np.ndarray:
    """Autocovariance of ``y`` at ``lags`` over pairs where both ends are valid (``centre``: known mean)."""
    n = len(y)
    mu = float(y[mask].mean()) if centre is None else centre
    x = np.where(mask, y - mu, 0.0)
    m = mask.astype(float)
    size = 1 << int(np.ceil(np.log2(2 * n)))

    def xcorr(a: np.ndarray) -> np.ndarray:
        f = np.fft.rfft(a, size)
        return np.fft.irfft(f * np.conj(f), size)

    s = xcorr(x)[lags]
    cnt = np.rint(xcorr(m)[lags])
    return s / np.maximum(cnt, 1.0)


def _t_ratio(df: float) -> float:
    lo, hi = _BODY_Q
    return float(student_t.ppf(0.5 + hi / 2, df) / student_t.ppf(0.5 + lo / 2, df))


def _fit_df(ratio: float) -> float:
    # floor 4: below it the body alone has infinite kurtosis, and coarse ticks bias the ratio upwards;
    # the extreme tail is the jumps' job
    lo_df, hi_df = 4.0, 200.0
    if ratio >= _t_ratio(lo_df):
        return lo_df
    if ratio <= _t_ratio(hi_df):
        return hi_df
    return float(brentq(lambda d: _t_ratio(d) - ratio, lo_df, hi_df, xtol=1e-3))


def _wick_scale(ratio: float, df: float) -> float:
    """Bridge vol multiplier w with mean(range)/mean(|d|) = ratio for t(df) moves (fixed Monte Carlo)."""
    g = np.random.default_rng(12345)
    n = 50_000
    d = g.standard_t(df, n) * np.sqrt((df - 2) / df)
    e1 = -np.log(1.0 - g.random(n))
    e2 = -np.log(1.0 - g.random(n))
    mean_abs = float(np.abs(d).mean())

    def model(w: float) -> float:
        s2 = 2.0 * w * w
        rng_ = 0.5 * (np.sqrt(d * d + s2 * e1) + np.sqrt(d * d + s2 * e2))
        return float(rng_.mean() / mean_abs)

    if ratio <= model(0.05):
        return 0.05
    if ratio >= model(5.0):
        return 5.0
    return float(brentq(lambda w: model(w) - ratio, 0.05, 5.0, xtol=1e-3))


# --------------------------------------------------------------------------------------------- calibrate


def calibrate(candles: pd.DataFrame, timeframe: str) -> SyntheticParams:
    """Estimate :class:`SyntheticParams` from a real candle series of ``timeframe`` bars (see module doc).

    The frame needs at least two days of bars; funding and basis parameters keep their defaults
    (candles say nothing about them), as does ``market_beta`` (see :func:`calibrate_market`).
    """
    bar_ms = timeframe_ms(timeframe)
    per_day = MS_PER_DAY / bar_ms
    _check(candles, min_rows=max(200, int(2 * per_day)))
    b = _Bars.of(candles.sort_values("ts", kind="stable").reset_index(drop=True), bar_ms)
    defaults = SyntheticParams()
    fit: dict[str, Any] = {"start_price": float(b.o[0])}
    fit.update(_price_grid(b))
    tails = _tails(b)
    fit.update(tails.params)
    regimes = _regimes(b, tails.is_jump, defaults)
    fit.update(regimes.params)
    fit["jump_intensity"] = float(tails.params["jump_intensity"]) / float(fit.pop("_mean_jump_mult"))
    fit.update(_clustering(b, tails.is_jump, regimes.labels, regimes.params["regime_vol"]))
    clean = ~tails.is_jump
    ratio = float(b.rng[clean].mean() / np.abs(b.r[clean]).mean()) if np.abs(b.r[clean]).mean() > 0 else 2.0
    fit["wick_scale"] = _wick_scale(ratio, float(tails.params["student_df"]))
    fit.update(_volume(b))
    fit.update(_order_flow(b, float(fit["volume_per_hour"]) * b.bar_h))
    return SyntheticParams(**fit)


@dataclass
class _Bars:
    ts: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    taker: np.ndarray | None
    trades: np.ndarray | None
    r: np.ndarray  # bar t: close_{t-1} -> close_t (open_0 -> close_0 for t = 0)
    rng: np.ndarray  # log(high / low)
    basis: np.ndarray  # season_basis regressors
    bar_h: float
    per_day: float

    @classmethod
    def of(cls, df: pd.DataFrame, bar_ms: int) -> _Bars:
        ts = df["ts"].to_numpy(np.int64)
        o, h, lo, c = (df[k].to_numpy(float) for k in ("open", "high", "low", "close"))
        return cls(
            ts=ts,
            o=o,
            h=h,
            lo=lo,
            c=c,
            v=df["volume"].to_numpy(float),
            taker=df["taker_buy_volume"].to_numpy(float) if "taker_buy_volume" in df else None,
            trades=df["trades"].to_numpy(float) if "trades" in df else None,
            r=np.diff(np.log(c), prepend=np.log(o[0])),
            rng=np.log(h / lo),
            basis=season_basis(ts, bar_ms),
            bar_h=bar_ms / MS_PER_HOUR,
            per_day=MS_PER_DAY / bar_ms,
        )

    @property
    def n(self) -> int:
        return len(self.ts)


def _price_grid(b: _Bars) -> dict[str, Any]:
    # open gaps of real klines are bid-ask bounce, correlated with the bar's order flow; independent gap
    # noise would blur the taker-share / return link, so calibrated series open at the previous close
    return {"tick_size": _tick(np.concatenate([b.o, b.h, b.lo, b.c])), "open_gap_std": 0.0}


@dataclass
class _Tails:
    params: dict[str, Any]
    is_jump: np.ndarray


def _tails(b: _Bars) -> _Tails:
    """Student-t df from a quantile ratio of locally standardised returns; jumps beyond the t body."""
    w = int(np.clip(round(b.per_day / 24), 11, 121)) | 1  # about an hour of bars, odd
    local = pd.Series(b.rng).rolling(w, center=True, min_periods=1).median().to_numpy()
    pos = local[local > 0]
    local = np.maximum(local, float(np.quantile(pos, 0.01)) if len(pos) else 1e-12)
    az = np.abs(b.r) / local
    q_lo, q_hi = np.quantile(az, _BODY_Q)
    df = _fit_df(float(q_hi / q_lo)) if q_lo > 0 else SyntheticParams().student_df
    scale = q_lo / student_t.ppf(0.5 + _BODY_Q[0] / 2, df)
    is_jump = az > scale * student_t.ppf(1.0 - _JUMP_TAIL / 2, df)
    n_jumps = max(float(is_jump.sum()) - _JUMP_TAIL * b.n, 0.0)
    size = float(np.sqrt(np.mean(b.r[is_jump] ** 2))) if is_jump.any() else SyntheticParams().jump_size
    params: dict[str, Any] = {
        "student_df": df,
        "jump_size": size,
        "jump_intensity": n_jumps / (b.n / b.per_day),
    }
    params.update(_aftershock(b, is_jump))
    return _Tails(params, is_jump)


def _aftershock(b: _Bars, is_jump: np.ndarray) -> dict[str, float]:
    """Post-jump log-range rise over the pre-jump hour's median, fitted by ``boost * exp(-(k-1) dt / tau)``."""
    k_max = int(np.clip(round(1.0 / b.bar_h), 5, 60))
    pre = max(round(1.0 / b.bar_h), 5)
    log_rng = np.log(np.maximum(b.rng, 1e-9))
    base = pd.Series(log_rng).rolling(pre, min_periods=3).median().shift(2).to_numpy()
    idx = np.flatnonzero(is_jump)
    idx = idx[(idx > pre + 2) & (idx < b.n - k_max - 1)]
    if len(idx) < 3:
        return {"jump_vol_boost": 0.0}
    ks = np.arange(1, k_max + 1)
    prof = np.array([np.nanmean(log_rng[idx + k] - base[idx]) for k in ks])
    pos = prof > 0.02
    if pos.sum() < 3:
        return {"jump_vol_boost": 0.0}
    slope, icpt = np.polyfit(ks[pos] - 1, np.log(prof[pos]), 1)
    phi = float(np.clip(np.exp(slope), 0.05, 0.999))
    return {
        "jump_vol_boost": float(np.clip(np.exp(icpt), 0.0, 4.0)),
        "jump_vol_decay_h": float(-b.bar_h / np.log(phi)),
    }


@dataclass
class _Regimes:
    params: dict[str, Any]
    labels: np.ndarray


def _regimes(b: _Bars, is_jump: np.ndarray, defaults: SyntheticParams) -> _Regimes:
    """Label bars calm / trend / turbulent; regime vols, hourly transitions and trend drift from labels."""
    win = max(round(4.0 / b.bar_h), 5)
    r = np.where(is_jump, 0.0, b.r)
    park = b.rng**2 / (4.0 * np.log(2.0))
    smooth = _rolling_mean(park, win)
    mean_r = _rolling_mean(r, win)
    var_r = np.maximum(_rolling_mean(r * r, win) - mean_r**2, 1e-18)
    t_stat = mean_r / np.sqrt(var_r / win)
    labels = np.zeros(b.n, dtype=np.int8)
    labels[np.abs(t_stat) > 2.0] = 1
    labels[smooth > np.quantile(smooth, 0.9)] = 2
    vols = np.full(3, np.nan)
    for k in range(3):
        sel = (labels == k) & ~is_jump
        if sel.sum() > 10:
            vols[k] = np.sqrt(np.mean(r[sel] ** 2) * b.per_day)
    fallback = np.asarray(defaults.regime_vol) * np.nanmean(vols) / np.mean(defaults.regime_vol)
    vols = np.where(np.isfinite(vols), vols, fallback)
    vols[1] = max(vols[1], vols[0])
    vols[2] = max(vols[2], 1.05 * vols[1])
    sel = labels == 1
    drift = defaults.trend_drift
    if sel.sum() > 10:
        drift2 = float(np.mean(mean_r[sel] ** 2) - np.mean(var_r[sel] / win))
        drift = float(np.sqrt(max(drift2, 0.0)) * b.per_day)
    step = max(round(1.0 / b.bar_h), 1)
    hourly = labels[::step]
    counts = np.asarray(defaults.regime_transition) * 2.0  # prior: two hours of the default matrix
    np.add.at(counts, (hourly[:-1], hourly[1:]), 1.0)
    trans = counts / counts.sum(axis=1, keepdims=True)
    if b.bar_h > 1.0:  # labels were per bar: convert the per-bar stay probability to per hour
        stay = np.diag(trans) ** (1.0 / b.bar_h)
        leave = np.maximum(1.0 - np.diag(trans), 1e-12)
        trans = trans * ((1.0 - stay) / leave)[:, None]
        np.fill_diagonal(trans, stay)
        trans = trans / trans.sum(axis=1, keepdims=True)
    # jump intensity is quoted at regime multiplier 1: divide by the labelled mix's mean multiplier
    mix = np.bincount(labels, minlength=3) / b.n
    mean_mult = max(float(mix @ np.asarray(defaults.jump_regime_mult)), 1e-6)
    return _Regimes(
        {
            "regime_vol": tuple(float(x) for x in vols),
            "regime_transition": tuple(tuple(float(x) for x in row) for row in trans),
            "trend_drift": drift,
            "_mean_jump_mult": mean_mult,
        },
        labels,
    )


def _clustering(b: _Bars, is_jump: np.ndarray, labels: np.ndarray, regime_vol: Any) -> dict[str, Any]:
    """Log-vol autocovariance from |r| (C(L) = log(1 + acov|r|(L) / E|r|^2)), less the regimes', by NNLS."""
    ok = b.rng > 0
    coef, _ = _ols(np.log(b.rng[ok]), b.basis[ok])
    season = tuple(float(x) for x in coef[1:])
    a = np.abs(b.r) / np.exp(b.basis @ np.asarray(season))
    mask = ~is_jump  # jumps and their aftershocks have their own parameters
    for k in range(1, int(np.clip(round(1.0 / b.bar_h), 1, 60)) + 1):
        mask[k:] &= ~is_jump[:-k]
    max_lag = int(min(3 * b.per_day, b.n // 8))
    lags = np.unique(np.rint(np.geomspace(1, max(max_lag, 2), 40)).astype(int))
    m = float(a[mask].mean())
    cov_a = _masked_autocov(a, mask, lags, centre=m)
    log_cov = np.log(np.maximum(1.0 + cov_a / (m * m), 1e-6))
    g = np.log(np.asarray(regime_vol, dtype=float)[labels])
    target = log_cov - _masked_autocov(g, np.ones(b.n, bool), lags)
    grid = np.asarray([tau for tau in _GRID_H if b.bar_h / 2 <= tau <= b.n * b.bar_h / 5])
    v_k = np.zeros(len(grid))
    if len(grid) and np.any(target > 0):
        design = np.exp(-lags[:, None] * b.bar_h / grid[None, :])
        wts = 1.0 / np.sqrt(lags)  # short lags are estimated more precisely
        v_k, _ = nnls(design * wts[:, None], np.maximum(target, 0.0) * wts)
    keep = v_k > 1e-5
    # everything goes to OU components: for them C(L) above is exact, while the feedback term's |z|-sigma
    # link would add lag-1 covariance on top of the fitted one
    return {
        "vol_seasonality": season,
        "feedback_std": 0.0,
        "logvol_timescales_h": tuple(float(x) for x in grid[keep]) or (1.0,),
        "logvol_std": tuple(float(np.sqrt(x)) for x in v_k[keep]) or (0.0,),
    }


def _volume(b: _Bars) -> dict[str, Any]:
    """log V on daily harmonics and log range; residual = persistent AR(1) + iid log-Gamma."""
    med = float(np.median(b.rng))
    floor = 0.25 * med if med > 0 else 1e-6
    x = np.log(b.rng + floor) - np.log(med + floor)
    ok = b.v > 0
    coef, resid = _ols(np.log(b.v[ok]), np.column_stack([b.basis[ok], x[ok]]))
    u = np.zeros(b.n)
    u[ok] = resid
    lags = np.arange(1, 61)
    acov = _masked_autocov(u, ok, lags, centre=0.0)
    pos = acov > 1e-6
    phi, v_slow = 0.9, 0.0
    if pos.sum() >= 3:
        slope, icpt = np.polyfit(lags[pos], np.log(acov[pos]), 1)
        phi = float(np.clip(np.exp(slope), 0.01, 0.9999))
        v_slow = float(min(np.exp(icpt), 0.95 * resid.var()))
    v_iid = max(float(resid.var()) - v_slow, 1e-4)
    return {
        "volume_per_hour": float(np.exp(coef[0]) / b.bar_h),
        "volume_seasonality": tuple(float(a) for a in coef[1:5]),
        "volume_range_elasticity": float(np.clip(coef[5], 0.0, 5.0)),
        "volume_noise": float(np.sqrt(v_slow)),
        "volume_noise_timescale_h": float(-b.bar_h / np.log(phi)),
        "volume_shape": _gamma_shape(v_iid),
    }


def _gamma_shape(var_log: float) -> float:
    """Shape k of Gamma(k, 1/k) whose log has variance ``var_log`` (trigamma(k) = var_log)."""
    f = lambda k: float(polygamma(1, k)) - var_log  # noqa: E731
    lo, hi = 0.06, 1e6
    if f(lo) < 0:
        return lo
    if f(hi) > 0:
        return hi
    return float(brentq(f, lo, hi, xtol=1e-4))


def _order_flow(b: _Bars, v_med: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ok = b.v > 0
    n_ref = float("nan")
    if b.trades is not None:
        okt = ok & (b.trades > 0)
        if okt.sum() > 10:
            coef, res = _ols(np.log(b.trades[okt]), np.log(b.v[okt] / v_med))
            out["trades_per_hour"] = float(np.exp(coef[0]) / b.bar_h)
            out["trades_volume_elasticity"] = float(np.clip(coef[1], 0, 2))
            out["trades_noise"] = float(np.clip(np.std(res), 0, 5))
            n_ref = float(np.exp(coef[0]))
    if b.taker is not None and ok.sum() > 100:
        share = np.clip(b.taker[ok] / b.v[ok], 0.0, 1.0)
        span = (b.h - b.lo)[ok]
        loc = np.divide((b.c - b.o)[ok], span, out=np.zeros(int(ok.sum())), where=span > 0)
        rel = np.ones(len(share))
        if np.isfinite(n_ref) and b.trades is not None:
            rel = np.maximum(b.trades[ok], 1.0) / n_ref
        out.update(_fit_taker(share, loc, rel))
    return out


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(24)
_GH_W = _GH_W / _GH_W.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _taker_noise(mean_logit: np.ndarray, scale: np.ndarray, resid_var: float) -> float:
    """s with mean_i Var(sigmoid(mean_logit_i + s * scale_i * eps)) = resid_var (Gauss-Hermite)."""

    def excess(sd: float) -> float:
        p = _sigmoid(mean_logit[:, None] + (sd * scale)[:, None] * _GH_X[None, :])
        m1 = p @ _GH_W
        return float(np.mean(p * p @ _GH_W - m1 * m1)) - resid_var

    if excess(0.0) >= 0:
        return 0.0
    if excess(5.0) < 0:
        return 5.0
    return float(brentq(excess, 0.0, 5.0, xtol=1e-3))


def _fit_taker(share: np.ndarray, loc: np.ndarray, rel_trades: np.ndarray) -> dict[str, float]:
    """share = sigmoid(a + k loc + s_i eps), s_i = s * rel_trades**-g.

    g from the slope of log squared residuals on log trades; (a, k) by least squares on the attenuated mean
    curve ``sigmoid((a + k loc) / sqrt(1 + pi s_i^2 / 8))`` (probit approximation); s so that the mean
    conditional variance (Gauss-Hermite) equals the residual variance. Three alternating rounds.
    """
    step = max(len(share) // 8000, 1)
    share, loc, rel = share[::step], loc[::step], rel_trades[::step]
    design = np.column_stack([np.ones(len(loc)), loc])
    lin = share - design @ np.linalg.lstsq(design, share, rcond=None)[0]
    g = 0.0
    if np.ptp(rel) > 0:
        slope = np.polyfit(np.log(rel), np.log(lin * lin + 1e-8), 1)[0]
        g = float(np.clip(-slope / 2.0, 0.0, 1.0))
    scale = np.minimum(rel**-g, 10.0)
    s, a, k = 1.0, 0.0, 1.0
    for _ in range(3):
        att = 1.0 / np.sqrt(1.0 + np.pi * (s * scale) ** 2 / 8.0)
        fit = least_squares(lambda th, att=att: _sigmoid(att * (th[0] + th[1] * loc)) - share, x0=[a, k])
        a, k = (float(x) for x in fit.x)
        s = _taker_noise(a + k * loc, scale, float(np.mean(fit.fun**2)))
    return {
        "taker_bias": float(np.clip(a, -5, 5)),
        "taker_sensitivity": float(np.clip(k, 0, 20)),
        "taker_noise": s,
        "taker_noise_trades_exp": g,
    }


def calibrate_market(
    candles: Mapping[Symbol, pd.DataFrame], timeframe: str, *, refine_bars: int = 20_000
) -> dict[Symbol, SyntheticParams]:
    """Calibrate each symbol, then fit ``market_beta`` so simulated return correlations match the real ones.

    Betas start from a one-factor fit of the real correlation matrix (``rho_ij = b_i b_j``) and are refined
    by two fixed-point steps on a short simulation (clustering and jumps lower correlations a little).
    """
    syms = list(candles)
    params = {s: calibrate(candles[s], timeframe) for s in syms}
    if len(syms) < 2:
        return params
    rets = []
    joined = None
    for s in syms:
        f = candles[s][["ts", "close"]].set_index("ts")["close"].rename(str(s))
        joined = f.to_frame() if joined is None else joined.join(f, how="inner")
    assert joined is not None
    if len(joined) < 100:
        raise UsageError("the symbols' candles overlap on fewer than 100 bars; cannot fit correlations")
    rets = np.diff(np.log(joined.to_numpy(float)), axis=0)
    target = np.corrcoef(rets.T)
    beta = _one_factor(target)
    for _ in range(2):
        trial = {
            s: params[s].model_copy(update={"market_beta": float(b)}) for s, b in zip(syms, beta, strict=True)
        }
        sim = generate_market(syms, refine_bars, timeframe=timeframe, seed=7, params=trial)
        sim_r = np.vstack([np.diff(np.log(sim[s].candles.frame["close"].to_numpy())) for s in syms])
        achieved = _one_factor(np.corrcoef(sim_r))
        beta = np.clip(beta * np.where(achieved > 0, _one_factor(target) / achieved, 1.0), 0.0, 1.0)
    return {
        s: params[s].model_copy(update={"market_beta": float(b)}) for s, b in zip(syms, beta, strict=True)
    }


def _one_factor(corr: np.ndarray) -> np.ndarray:
    """Loadings b with corr_ij ~ b_i b_j (principal-factor iterations)."""
    c = np.array(corr, dtype=float)
    k = len(c)
    if k == 2:
        b = np.sqrt(max(c[0, 1], 0.0))
        return np.array([b, b])
    comm = np.full(k, 0.5)
    for _ in range(50):
        m = c.copy()
        np.fill_diagonal(m, comm)
        w, vec = np.linalg.eigh(m)
        load = vec[:, -1] * np.sqrt(max(w[-1], 0.0))
        load = load * np.sign(load.sum() or 1.0)
        comm = np.clip(load**2, 0.0, 1.0)
    return np.clip(load, 0.0, 1.0)
