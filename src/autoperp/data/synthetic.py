"""Synthetic perpetual-futures markets: candles with order flow, mark price and funding, deterministic by seed.

The model, per bar ``t`` of length ``dt`` (all arrays, no per-bar Python loop):

* **Regimes.** A market-wide 3-state Markov chain ``s_t`` in calm / trend / turbulent
  (:data:`REGIME_NAMES`), with an hourly transition matrix. The path is sampled with a
  log-depth prefix scan over the per-bar transition maps (function composition is associative).
  Each stay in the trend regime gets a random drift sign that persists until the regime ends.
* **Volatility.** ``sigma_t = regime_vol[s_t] * vol_scale * sqrt(dt/day) * exp(season_t + h_t + f_t - V)``:
  ``h`` is a sum of Ornstein-Uhlenbeck log-vol components at several time scales (long memory in |r|),
  ``f`` an EGARCH-style feedback ``f_t = phi f_{t-1} + alpha (min(|z_{t-1}|, 4) - mean)`` (linear in iid
  shocks, so it runs through ``scipy.signal.lfilter``), ``V`` the normalisation that keeps
  ``E[sigma^2]`` at the regime level, ``season`` a two-harmonic daily Fourier profile.
* **Returns.** ``r_t = drift_t + sigma_t z_t + J_t``: ``z`` unit-variance Student-t, mixed from a common
  market shock and an own shock (``z = beta m + sqrt(1-beta^2) e``); ``J`` compound-Poisson jumps, partly
  common to all symbols (co-jumps), with an intensity that depends on the regime; after a jump log-vol
  rises by ``jump_vol_boost`` and decays (aftershocks, as in real 1m data).
* **Bars.** close = ``exp(cumsum r)``; open = previous close (optionally with a tiny gap);
  high/low are sampled from the exact distribution of the maximum/minimum of a Brownian bridge from
  open to close (``M = (d + sqrt(d^2 - 2 s^2 log U)) / 2``), so wicks are realistic and
  ``high >= max(open, close)``, ``low <= min(open, close)`` by construction. Optional tick rounding.
* **Volume and order flow.** ``log V = level + season_v + elasticity * log(range) + u + log G`` with ``u`` a
  persistent AR(1) and ``G`` an iid mean-one Gamma multiplier (real log-volume residuals are left-skewed),
  so volume follows |r| and the regime; trades ~ volume^elasticity with log-normal noise;
  taker-buy share ``sigmoid(bias + k * close_location + noise)``, close_location = (close-open)/(high-low),
  the noise shrinking with the trade count (few-trade bars have erratic shares).
* **Basis, mark, funding.** premium ``b = mean + k * EMA-sum(r) + OU noise`` (momentum-driven, perps trade
  rich in rallies); mark = trade price less the premium's deviation from its moving average; funding at
  each settlement (UTC-aligned 8h/4h/2h/1h) = Binance's ``P + clamp(I - P, -0.05%, 0.05%)`` on the average
  premium ``P`` of the interval, capped; positive rate = longs pay.

Units: prices in quote currency, volumes in base units, times int64 ms UTC, returns as log returns.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.signal import lfilter
from scipy.special import digamma

from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, MS_PER_HOUR
from autoperp.core.timeframes import timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS, MarketFrame

__all__ = [
    "DEFAULT_START_MS",
    "REGIME_NAMES",
    "Regime",
    "SyntheticParams",
    "SyntheticSeries",
    "bar_transition_matrix",
    "default_params",
    "generate_market",
    "generate_series",
    "season_basis",
]

REGIME_NAMES: tuple[str, str, str] = ("calm", "trend", "turbulent")
#: 2024-01-01 00:00 UTC.
DEFAULT_START_MS: int = 1_704_067_200_000
_SOURCE_EXCHANGE = "synthetic"
_FEEDBACK_CLIP = 4.0


class Regime(IntEnum):
    CALM = 0
    TREND = 1
    TURBULENT = 2


Triple = tuple[float, float, float]
Harmonics = tuple[float, float, float, float]


class SyntheticParams(BaseModel):
    """Parameters of one synthetic symbol. Defaults resemble a mid-cap perp on 1m bars (FIL/NEAR 2023).

    Units: "daily vol" is the standard deviation of a one-day log return; rates "per day"/"per hour" are
    wall-clock, so one parameter set serves every timeframe. Seasonality tuples are the coefficients
    ``(a1, b1, a2, b2)`` of ``a1 cos(2 pi tau) + b1 sin(2 pi tau) + a2 cos(4 pi tau) + b2 sin(4 pi tau)`` in
    log units, ``tau`` = time of day in days (UTC), averaged over the bar.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- price grid
    start_price: float = Field(100.0, gt=0, description="first open, quote currency")
    tick_size: float | None = Field(None, gt=0, description="price increment (quote); None = continuous")
    open_gap_std: float = Field(0.0, ge=0, le=0.01, description="std of log(open_t / close_{t-1})")

    # --- regimes
    regime_vol: Triple = Field(
        (0.03, 0.038, 0.07), description="daily vol in calm, trend, turbulent (before vol_scale)"
    )
    vol_scale: float = Field(1.0, gt=0, description="multiplies every regime vol (per-symbol scale)")
    regime_transition: tuple[Triple, Triple, Triple] = Field(
        (
            (0.970, 0.015, 0.015),
            (0.060, 0.920, 0.020),
            (0.250, 0.050, 0.700),
        ),
        description="row-stochastic transition matrix per hour, rows/cols calm, trend, turbulent",
    )
    trend_drift: float = Field(0.12, ge=0, description="|drift| of log price per day in the trend regime")

    # --- volatility clustering
    logvol_timescales_h: tuple[float, ...] = Field(
        (0.05, 1.0, 72.0), description="time scales (hours) of the OU log-vol components"
    )
    logvol_std: tuple[float, ...] = Field(
        (0.4, 0.3, 0.18), description="stationary std of each OU log-vol component"
    )
    feedback_std: float = Field(0.2, ge=0, le=2, description="stationary std of the EGARCH feedback term")
    feedback_timescale_h: float = Field(0.25, gt=0, description="decay time (hours) of the feedback term")

    # --- tails
    student_df: float = Field(5.5, gt=2.0, le=1000, description="Student-t degrees of freedom of shocks")
    jump_intensity: float = Field(0.4, ge=0, description="expected jumps per day (regime multiplier 1)")
    jump_size: float = Field(0.018, ge=0, description="std of one jump's log return")
    jump_regime_mult: Triple = Field((0.5, 1.0, 3.0), description="jump intensity multiplier per regime")
    jump_vol_boost: float = Field(1.6, ge=0, le=4, description="log-vol rise in the bar after a jump")
    jump_vol_decay_h: float = Field(0.25, gt=0, description="decay time (h) of the post-jump vol rise")

    # --- intrabar
    wick_scale: float = Field(0.8, gt=0, le=5, description="Brownian-bridge vol multiplier for wicks")
    vol_seasonality: Harmonics = Field((-0.04, -0.13, 0.01, 0.08), description="daily log-vol profile")

    # --- cross-section
    market_beta: float = Field(
        0.75, ge=0, le=1, description="loading of shocks, log-vol and jumps on the common market factor"
    )

    # --- volume and order flow
    volume_per_hour: float = Field(
        50_000.0, gt=0, description="median volume per hour (base units) at the series' median bar range"
    )
    volume_range_elasticity: float = Field(1.6, ge=0, le=5, description="d log volume / d log bar range")
    volume_seasonality: Harmonics = Field((-0.05, -0.01, 0.02, 0.03), description="daily log-volume profile")
    volume_noise: float = Field(
        0.25, ge=0, le=5, description="stationary std of the persistent log-volume noise"
    )
    volume_noise_timescale_h: float = Field(1.5, gt=0, description="time scale (h) of the persistent noise")
    volume_shape: float = Field(
        3.0,
        gt=0.05,
        le=1e6,
        description="Gamma shape of the iid mean-one volume multiplier (larger = calmer)",
    )
    taker_bias: float = Field(0.0, ge=-5, le=5, description="logit of taker-buy share at a flat bar")
    taker_sensitivity: float = Field(1.4, ge=0, le=20, description="logit slope on (close-open)/(high-low)")
    taker_noise: float = Field(1.0, ge=0, le=5, description="std of the share's logit noise at median trades")
    taker_noise_trades_exp: float = Field(
        0.33, ge=0, le=1, description="logit noise scales as (trades / median trades) ** -exp"
    )
    trades_per_hour: float = Field(8_000.0, gt=0, description="median trade count per hour")
    trades_volume_elasticity: float = Field(0.72, ge=0, le=2, description="d log trades / d log volume")
    trades_noise: float = Field(0.32, ge=0, le=5, description="std of log trade-count noise")

    # --- basis, mark, funding
    basis_mean: float = Field(
        -0.00045, ge=-0.01, le=0.01, description="mean premium index (Binance's, at impact prices, runs < 0)"
    )
    basis_momentum: float = Field(0.005, ge=0, le=1, description="premium per unit of the momentum signal")
    basis_momentum_halflife_h: float = Field(8.0, gt=0, description="half-life (h) of the momentum EMA-sum")
    basis_noise: float = Field(0.0002, ge=0, le=0.01, description="stationary std of premium noise")
    basis_timescale_h: float = Field(1.0, gt=0, description="mean-reversion time (h) of premium noise")
    mark_smoothing_h: float = Field(0.5, gt=0, description="EMA time (h) of the basis inside the mark")
    funding_interval_h: Literal[1, 2, 4, 8] = Field(8, description="hours between funding settlements")
    funding_interest: float = Field(0.0001, ge=-0.01, le=0.01, description="interest rate per 8 hours")
    funding_clamp: float = Field(0.0005, ge=0, le=0.03, description="clamp of (interest - premium)")
    funding_cap: float = Field(0.0075, gt=0, le=0.03, description="cap on |funding rate|")

    @field_validator("regime_transition")
    @classmethod
    def _stochastic(cls, v: tuple[Triple, Triple, Triple]) -> tuple[Triple, Triple, Triple]:
        m = np.asarray(v, dtype=float)
        if (m < 0).any() or not np.allclose(m.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("regime_transition rows must be non-negative and sum to 1")
        m = m / m.sum(axis=1, keepdims=True)
        return tuple(tuple(float(x) for x in row) for row in m)  # type: ignore[return-value]

    @field_validator("regime_vol")
    @classmethod
    def _positive_vol(cls, v: Triple) -> Triple:
        if min(v) <= 0:
            raise ValueError("regime_vol entries must be > 0")
        return v

    @field_validator("jump_regime_mult")
    @classmethod
    def _nonneg_mult(cls, v: Triple) -> Triple:
        if min(v) < 0:
            raise ValueError("jump_regime_mult entries must be >= 0")
        return v

    @model_validator(mode="after")
    def _logvol_shapes(self) -> SyntheticParams:
        if len(self.logvol_timescales_h) != len(self.logvol_std):
            raise ValueError("logvol_timescales_h and logvol_std must have the same length")
        if any(t <= 0 for t in self.logvol_timescales_h) or any(s < 0 for s in self.logvol_std):
            raise ValueError("logvol time scales must be > 0 and stds >= 0")
        return self

    def bar_sigma(self, timeframe: str) -> np.ndarray:
        """Per-regime base volatility of one bar's log return (before clustering and seasonality)."""
        dt_days = timeframe_ms(timeframe) / MS_PER_DAY
        return np.asarray(self.regime_vol) * self.vol_scale * np.sqrt(dt_days)


@dataclass
class SyntheticSeries:
    """One synthetic symbol. ``regimes``, ``sigma`` and ``basis`` are per candle row."""

    symbol: Symbol
    candles: MarketFrame  # DataKind.FUTURES with every optional candle column
    mark: MarketFrame  # DataKind.MARK
    funding: MarketFrame  # DataKind.FUNDING: ts, rate, interval_h, mark_price
    regimes: np.ndarray  # int8, values of Regime
    sigma: np.ndarray  # latent per-bar vol of the log return (diffusive part)
    basis: np.ndarray  # premium of the perp over the index, fraction
    params: SyntheticParams


# --------------------------------------------------------------------------------------------- defaults

_TYPICAL: dict[str, tuple[float, float]] = {  # base -> (start price, vol_scale)
    "BTC": (60_000.0, 0.6),
    "ETH": (3_000.0, 0.75),
    "BNB": (550.0, 0.7),
    "SOL": (150.0, 1.0),
    "XRP": (0.6, 0.9),
    "DOGE": (0.15, 1.1),
    "ADA": (0.45, 1.0),
    "FIL": (5.0, 1.0),
    "NEAR": (1.5, 1.0),
}


_NOTIONAL_PER_HOUR = 5_000_000.0  # quote currency: the default median traded value per hour


def default_params(symbol: Symbol) -> SyntheticParams:
    """Defaults with a start price and vol scale typical of ``symbol.base`` (100.0 and 1.0 if unknown).

    The volume level is set so the median traded value is about 5 M quote per hour whatever the price.
    """
    price, scale = _TYPICAL.get(symbol.base, (100.0, 1.0))
    return SyntheticParams(start_price=price, vol_scale=scale, volume_per_hour=_NOTIONAL_PER_HOUR / price)


# --------------------------------------------------------------------------------------------- helpers


def bar_transition_matrix(hourly: np.ndarray, bar_hours: float) -> np.ndarray:
    """Per-bar transition matrix from the hourly one: stay ``P_ii ** bar_hours``, leave in hourly proportions."""
    p = np.asarray(hourly, dtype=float)
    stay = np.diag(p) ** bar_hours
    leave = 1.0 - np.diag(p)
    out = np.zeros_like(p)
    for i in range(p.shape[0]):
        if leave[i] > 0:
            out[i] = p[i] * (1.0 - stay[i]) / leave[i]
        out[i, i] = stay[i]
    return out / out.sum(axis=1, keepdims=True)


def _stationary(p: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eig(p.T)
    pi = np.abs(np.real(v[:, np.argmin(np.abs(w - 1.0))]))
    return pi / pi.sum()


def _markov_path(p: np.ndarray, n: int, u: np.ndarray, s0: int) -> np.ndarray:
    """States of a Markov chain (``s_0 = s0``) driven by uniforms ``u``, via a prefix scan of maps."""
    k = p.shape[0]
    cum = np.cumsum(p, axis=1)
    cum[:, -1] = 1.0 + 1e-12
    maps = (u[:, None, None] >= cum[None, :, :]).sum(axis=2).astype(np.intp)  # maps[t, i] = next from i
    np.minimum(maps, k - 1, out=maps)
    maps[0, :] = s0
    d = 1
    while d < n:
        maps[d:] = np.take_along_axis(maps[d:], maps[:-d], axis=1)
        d *= 2
    return maps[:, 0].astype(np.int8)


def season_basis(ts: np.ndarray, bar_ms: int) -> np.ndarray:
    """Bar-averaged daily Fourier regressors ``(n, 4)``: cos/sin of 1 and 2 cycles per day."""
    t0 = (np.asarray(ts, dtype=np.int64) % MS_PER_DAY).astype(float) / MS_PER_DAY
    width = bar_ms / MS_PER_DAY
    out = np.empty((len(t0), 4))
    for j, k in enumerate((1, 2)):
        w = 2 * np.pi * k
        a, b = w * t0, w * (t0 + width)
        out[:, 2 * j] = (np.sin(b) - np.sin(a)) / (w * width)
        out[:, 2 * j + 1] = (np.cos(a) - np.cos(b)) / (w * width)
    return out


def _ar1(eps: np.ndarray, phi: float, std: float) -> np.ndarray:
    """Stationary AR(1) with unit-normal innovations ``eps``: x_0 = std eps_0."""
    u = eps * (std * np.sqrt(max(1.0 - phi * phi, 0.0)))
    u[0] = eps[0] * std
    return lfilter([1.0], [1.0, -phi], u)


def _ema_sum(x: np.ndarray, decay: float) -> np.ndarray:
    return lfilter([1.0], [1.0, -decay], x)


def _ema_mean(x: np.ndarray, decay: float) -> np.ndarray:
    zi = np.array([decay * x[0]])
    y, _ = lfilter([1.0 - decay], [1.0, -decay], x, zi=zi)
    return y


def _std_t(rng: np.random.Generator, df: float, n: int) -> np.ndarray:
    """Student-t shocks scaled to unit variance."""
    return rng.standard_t(df, n) * np.sqrt((df - 2.0) / df)


def _round_tick(x: np.ndarray, tick: float) -> np.ndarray:
    return np.maximum(np.round(x / tick) * tick, tick)


def _bridge_extremes(d: np.ndarray, s: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Max and min (log, relative to open) of a Brownian bridge from 0 to ``d`` with variance ``s^2``."""
    n = len(d)
    u1 = 1.0 - rng.random(n)
    u2 = 1.0 - rng.random(n)
    s2 = s * s
    hi = 0.5 * (d + np.sqrt(d * d - 2.0 * s2 * np.log(u1)))
    lo = 0.5 * (d - np.sqrt(d * d - 2.0 * s2 * np.log(u2)))
    return hi, lo


def _symbol_rng(seed: int, symbol: Symbol) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 1, zlib.crc32(symbol.ccxt.encode())]))


@dataclass
class _Market:
    """Market-wide draws shared by every symbol."""

    regimes: np.ndarray
    trend_sign: np.ndarray
    shock: np.ndarray  # common unit-variance t shocks
    logvol_eps: np.ndarray  # (K, n) common normals for the OU components
    jump_count: np.ndarray  # common jump events per bar
    jump_rate: np.ndarray  # their intensity per bar
    jump_size: np.ndarray  # common standard-normal jump sizes


def _market(
    regimes: np.ndarray,
    trend_sign: np.ndarray,
    lead: SyntheticParams,
    rates: Sequence[np.ndarray],
    k_max: int,
    rng: np.random.Generator,
) -> _Market:
    n = len(regimes)
    shock = _std_t(rng, lead.student_df, n)
    logvol_eps = rng.standard_normal((k_max, n))
    rate = np.max(np.vstack(rates), axis=0)
    jump_count = rng.poisson(rate)
    jump_size = rng.standard_normal(n)
    return _Market(regimes, trend_sign, shock, logvol_eps, jump_count, rate, jump_size)


def _jump_rate(p: SyntheticParams, regimes: np.ndarray, bar_hours: float) -> np.ndarray:
    mult = np.asarray(p.jump_regime_mult)[regimes]
    return p.jump_intensity * (bar_hours / 24.0) * mult


# --------------------------------------------------------------------------------------------- one symbol


def _symbol(
    symbol: Symbol,
    p: SyntheticParams,
    ts: np.ndarray,
    bar_ms: int,
    timeframe: str,
    mkt: _Market,
    rate: np.ndarray,
    rng: np.random.Generator,
    seed: int,
) -> SyntheticSeries:
    n = len(ts)
    bar_h = bar_ms / MS_PER_HOUR
    beta = p.market_beta
    own = np.sqrt(1.0 - beta * beta)
    season = season_basis(ts, bar_ms)

    # -- volatility
    h = np.zeros(n)
    var_h = 0.0
    for k, (tau, std) in enumerate(zip(p.logvol_timescales_h, p.logvol_std, strict=True)):
        if std == 0:
            continue
        eps = beta * mkt.logvol_eps[k] + own * rng.standard_normal(n)
        h += _ar1(eps, float(np.exp(-bar_h / tau)), std)
        var_h += std * std
    z = beta * mkt.shock + own * _std_t(rng, p.student_df, n)
    if p.feedback_std > 0:
        phi = float(np.exp(-bar_h / p.feedback_timescale_h))
        mag = np.minimum(np.abs(z), _FEEDBACK_CLIP)
        shock = mag - mag.mean()
        alpha = p.feedback_std * np.sqrt((1.0 - phi * phi) / max(shock.var(), 1e-12))
        f = np.empty(n)
        f[0] = 0.0
        f[1:] = lfilter([alpha], [1.0, -phi], shock[:-1])
        # f is skewed (not Gaussian): normalise E[exp(2f)] to 1 on the sample (it mixes within hours)
        h += f - 0.5 * np.log(np.mean(np.exp(2.0 * f)))
    sig_reg = p.bar_sigma(timeframe)
    sigma = sig_reg[mkt.regimes] * np.exp(
        season @ np.asarray(p.vol_seasonality) + h - var_h
    )  # E[exp(2h-2V)]=1

    # -- jumps: common events thinned by beta * own rate / market rate, plus own events; each jump is
    #    followed by a decaying rise of log-vol (aftershocks: real big moves come in clusters)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(mkt.jump_rate > 0, beta * rate / mkt.jump_rate, 0.0)
    k_common = rng.binomial(mkt.jump_count, np.clip(q, 0.0, 1.0))
    k_own = rng.poisson((1.0 - beta) * rate)
    jumps = p.jump_size * (np.sqrt(k_common) * mkt.jump_size + np.sqrt(k_own) * rng.standard_normal(n))
    if p.jump_vol_boost > 0:
        hit = ((k_common + k_own) > 0).astype(float)
        after = np.zeros(n)
        decay = float(np.exp(-bar_h / p.jump_vol_decay_h))
        after[1:] = lfilter([p.jump_vol_boost], [1.0, -decay], hit[:-1])
        sigma = sigma * np.exp(after)

    # -- returns and close path
    drift = (mkt.regimes == Regime.TREND) * mkt.trend_sign * (p.trend_drift * bar_h / 24.0)
    r = drift + sigma * z + jumps
    log_close = np.log(p.start_price) + np.cumsum(r)
    log_prev = np.concatenate(([np.log(p.start_price)], log_close[:-1]))
    gap = rng.normal(0.0, p.open_gap_std, n) if p.open_gap_std > 0 else np.zeros(n)
    log_open = log_prev + gap
    d = log_close - log_open
    up, dn = _bridge_extremes(d, p.wick_scale * sigma, rng)
    close = np.exp(log_close)
    high = np.exp(log_open + up)
    low = np.exp(log_open + dn)
    if p.open_gap_std > 0:
        open_ = np.exp(log_open)
    else:
        open_ = np.concatenate(([p.start_price], close[:-1]))
    if p.tick_size is not None:
        tick = p.tick_size
        close = _round_tick(close, tick)
        high, low = _round_tick(high, tick), _round_tick(low, tick)
        open_ = (
            _round_tick(open_, tick)
            if p.open_gap_std > 0
            else np.concatenate(([_round_tick(np.array([p.start_price]), tick)[0]], close[:-1]))
        )
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))

    # -- volume, order flow, trades
    rng_ = np.log(high / low)
    med = float(np.median(rng_))
    floor = 0.25 * med if med > 0 else float(np.median(sigma))
    x = np.log(rng_ + floor) - np.log(med + floor)
    v_med = p.volume_per_hour * bar_h
    u = _ar1(rng.standard_normal(n), float(np.exp(-bar_h / p.volume_noise_timescale_h)), p.volume_noise)
    shape = p.volume_shape
    u += np.log(rng.gamma(shape, 1.0 / shape, n)) - (
        digamma(shape) - np.log(shape)
    )  # left-skewed iid noise, mean 0
    volume = v_med * np.exp(season @ np.asarray(p.volume_seasonality) + p.volume_range_elasticity * x + u)
    log_tr = (
        np.log(p.trades_per_hour * bar_h)
        + p.trades_volume_elasticity * np.log(volume / v_med)
        + p.trades_noise * rng.standard_normal(n)
    )
    trades = np.maximum(np.rint(np.exp(np.minimum(log_tr, 40.0))), 1.0).astype(np.int64)
    span = high - low
    loc = np.divide(close - open_, span, out=np.zeros(n), where=span > 0)
    noise_sd = p.taker_noise * np.minimum(
        (trades / (p.trades_per_hour * bar_h)) ** -p.taker_noise_trades_exp, 10.0
    )
    logit = p.taker_bias + p.taker_sensitivity * loc + noise_sd * rng.standard_normal(n)
    share = 1.0 / (1.0 + np.exp(-logit))
    taker = share * volume
    candles = candle_frame(ts, open_, high, low, close, volume, trades, taker)

    # -- basis and mark
    mom = _ema_sum(r, float(0.5 ** (bar_h / p.basis_momentum_halflife_h)))
    noise = _ar1(rng.standard_normal(n), float(np.exp(-bar_h / p.basis_timescale_h)), p.basis_noise)
    basis = np.clip(p.basis_mean + p.basis_momentum * mom + noise, -0.05, 0.05)
    dev = basis - _ema_mean(basis, float(np.exp(-bar_h / p.mark_smoothing_h)))
    adj = np.exp(-dev)
    m_close = close * adj
    m_open = np.concatenate(([open_[0] * adj[0]], m_close[:-1]))
    m_high = np.maximum(high * adj, np.maximum(m_open, m_close))
    m_low = np.minimum(low * adj, np.minimum(m_open, m_close))
    mark = pd.DataFrame({"ts": ts, "open": m_open, "high": m_high, "low": m_low, "close": m_close})

    funding = _funding(ts, bar_ms, basis, m_open, p)
    src = f"synthetic:seed={seed}"
    return SyntheticSeries(
        symbol=symbol,
        candles=MarketFrame(DataKind.FUTURES, symbol, timeframe, candles, src, exchange=_SOURCE_EXCHANGE),
        mark=MarketFrame(DataKind.MARK, symbol, timeframe, mark, src, exchange=_SOURCE_EXCHANGE),
        funding=MarketFrame(DataKind.FUNDING, symbol, EVENTS, funding, src, exchange=_SOURCE_EXCHANGE),
        regimes=mkt.regimes.copy(),
        sigma=sigma,
        basis=basis,
        params=p,
    )


def _funding(
    ts: np.ndarray, bar_ms: int, basis: np.ndarray, mark_open: np.ndarray, p: SyntheticParams
) -> pd.DataFrame:
    step = p.funding_interval_h * MS_PER_HOUR
    first = -(-int(ts[0]) // step) * step
    times = np.arange(first, int(ts[-1]) + 1, step, dtype=np.int64)
    csum = np.concatenate(([0.0], np.cumsum(basis)))
    lo = np.searchsorted(ts, times - step, side="left")
    hi = np.searchsorted(ts, times, side="left")
    cnt = hi - lo
    last = np.maximum(hi - 1, 0)
    premium = np.where(cnt > 0, (csum[hi] - csum[lo]) / np.maximum(cnt, 1), basis[last])
    interest = p.funding_interest * p.funding_interval_h / 8.0
    rate = premium + np.clip(interest - premium, -p.funding_clamp, p.funding_clamp)
    rate = np.round(np.clip(rate, -p.funding_cap, p.funding_cap), 8)  # Binance publishes 8 decimals
    at = np.searchsorted(ts, times, side="right") - 1
    return pd.DataFrame(
        {
            "ts": times,
            "rate": rate,
            "interval_h": np.full(len(times), float(p.funding_interval_h)),
            "mark_price": mark_open[np.maximum(at, 0)],
        }
    )


# --------------------------------------------------------------------------------------------- public


def candle_frame(
    ts: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    trades: np.ndarray,
    taker: np.ndarray,
) -> pd.DataFrame:
    """Binance-kline columns of generated bars; quote volumes at the bar's OHLC average price."""
    vwap = 0.25 * (open_ + high + low + close)
    return pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "quote_volume": volume * vwap,
            "trades": trades,
            "taker_buy_volume": taker,
            "taker_buy_quote_volume": taker * vwap,
        }
    )


def generate_market(
    symbols: Sequence[Symbol],
    n_bars: int,
    *,
    timeframe: str = "1m",
    start_ms: int = DEFAULT_START_MS,
    seed: int = 0,
    params: SyntheticParams | Mapping[Symbol, SyntheticParams] | None = None,
) -> dict[Symbol, SyntheticSeries]:
    """Correlated synthetic markets for ``symbols``: ``n_bars`` contiguous bars from ``start_ms``.

    ``params``: one set for every symbol, one per symbol, or ``None`` for :func:`default_params`.
    The regime path (with the trend regime's drift sign) is market-wide, driven by the first symbol's
    transition matrix. The same ``seed`` gives byte-identical frames. A symbol's own draws are keyed by
    its name and the market's by the seed, so adding a symbol leaves the others unchanged as long as it
    raises neither the market jump rate nor the number of log-vol components.
    """
    syms = list(symbols)
    if not syms:
        raise UsageError("generate_market needs at least one symbol")
    if len(set(syms)) != len(syms):
        raise UsageError(f"duplicate symbols in {[str(s) for s in syms]}")
    if int(n_bars) < 2:
        raise UsageError(f"n_bars must be >= 2, got {n_bars}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    bar_ms = timeframe_ms(timeframe)
    if bar_ms <= MS_PER_DAY and start_ms % bar_ms != 0:
        raise UsageError(f"start_ms {start_ms} is not aligned to {timeframe} bars")
    per: dict[Symbol, SyntheticParams] = {}
    for s in syms:
        if params is None:
            per[s] = default_params(s)
        elif isinstance(params, SyntheticParams):
            per[s] = params
        elif s in params:
            per[s] = params[s]
        else:
            raise UsageError(f"no SyntheticParams for {s}: give one per symbol or a single set")
    n = int(n_bars)
    bar_h = bar_ms / MS_PER_HOUR
    ts = np.int64(start_ms) + np.arange(n, dtype=np.int64) * np.int64(bar_ms)
    # market-wide draws: the regime path and trend signs first (jump rates depend on them), then shocks
    reg_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    p_bar = bar_transition_matrix(np.asarray(per[syms[0]].regime_transition), bar_h)
    s0 = int(reg_rng.choice(3, p=_stationary(p_bar)))
    regimes = _markov_path(p_bar, n, reg_rng.random(n), s0)
    seg = np.concatenate(([0], np.cumsum(regimes[1:] != regimes[:-1])))
    trend_sign = reg_rng.choice(np.array([-1.0, 1.0]), size=int(seg[-1]) + 1)[seg]
    rates = {s: _jump_rate(per[s], regimes, bar_h) for s in syms}
    k_max = max(len(per[s].logvol_std) for s in syms)
    mkt_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))
    mkt = _market(regimes, trend_sign, per[syms[0]], [rates[s] for s in syms], k_max, mkt_rng)
    return {
        s: _symbol(s, per[s], ts, bar_ms, timeframe, mkt, rates[s], _symbol_rng(int(seed), s), int(seed))
        for s in syms
    }


def generate_series(
    n_bars: int,
    *,
    symbol: Symbol | str = "SYN/USDT:USDT",
    timeframe: str = "1m",
    start_ms: int = DEFAULT_START_MS,
    seed: int = 0,
    params: SyntheticParams | None = None,
) -> SyntheticSeries:
    """One synthetic symbol (see :func:`generate_market`)."""
    sym = Symbol.parse(symbol) if isinstance(symbol, str) else symbol
    return generate_market([sym], n_bars, timeframe=timeframe, start_ms=start_ms, seed=seed, params=params)[
        sym
    ]
