"""A synthetic market with a planted, learnable edge, its no-edge control, and the oracle that knows the model.

Used by the reinforcement-learning proofs and the demo: an agent that learns to trade this market has learnt
something real, and one that makes money on the control has found a bug.

The model, per bar ``t`` (units: per-bar log returns as fractions, durations in bars, so one parameter set
serves any timeframe; the defaults are sized for 1m bars):

* **Regimes.** A latent Markov chain ``s_t`` in chop / up / down (:data:`EDGE_REGIME_NAMES`). A trend lasts
  ``trend_duration_bars`` on average and always ends in chop; chop lasts ``chop_duration_bars`` and moves to
  up or down with equal probability. ``s_t`` depends only on the uniforms drawn for bars ``≤ t``.
* **Returns.** ``r_t = mu_{s_t} + u_t`` with ``u_t = phi_{s_t} u_{t-1} + sigma_{s_t} eps_t``: drift
  ``±trend_drift`` and momentum (``trend_ar > 0``) in trends; no drift, slight mean reversion
  (``chop_ar < 0``) and a higher volatility in chop.
* **Order flow.** The taker-buy share is ``sigmoid(flow_signal * d_t + flow_noise * z_t)`` with
  ``d_t = +1/0/−1`` for up/chop/down: informed takers lean with the trend, so the flow column carries a noisy
  but causal reading of the regime (what a policy can learn from).
* **Bars.** close = ``start_price * exp(cumsum r)``, open = previous close, wicks beyond the body of
  ``wick_scale * sigma * |N(0,1)|``; volume and trade counts are log-normal around their per-bar levels.

The **control** (:func:`generate_control`) has the same regimes, volatility and order flow, but no drift and no
autocorrelation: every feature looks the same and nothing predicts the next return.

The **oracle** (:func:`oracle_targets`) knows ``s_t`` and ``u_t`` at bar ``t``'s close. It takes the sign of
the expected return summed over the next ``horizon_bars`` bars (the edge a position held now can collect;
the drift part is the sign of the expected next-bar return) and trades only when that exceeds the round-trip
cost, so it stays flat in chop and rides trends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from autoperp.core.errors import UsageError
from autoperp.core.timeframes import timeframe_ms
from autoperp.data.synthetic import candle_frame

__all__ = [
    "EDGE_REGIME_NAMES",
    "EdgeParams",
    "EdgeRegime",
    "EdgeSeries",
    "control_params",
    "expected_returns",
    "generate_control",
    "generate_edge",
    "oracle_targets",
    "transition_matrix",
]

EDGE_REGIME_NAMES: tuple[str, str, str] = ("chop", "up", "down")
#: 2024-01-01 00:00 UTC.
DEFAULT_START_MS: int = 1_704_067_200_000


class EdgeRegime(IntEnum):
    CHOP = 0
    UP = 1
    DOWN = 2


_DIRECTION = np.array([0.0, 1.0, -1.0])  # d_t per regime


class EdgeParams(BaseModel):
    """Parameters of the planted-edge market. Returns are per-bar log returns (fractions), durations in bars.

    Defaults (1m bars): 10 bp per-bar vol in trends (≈ 3.8 % daily), 1.5 bp drift, trends of ~400 bars
    separated by ~200 bars of chop. The oracle then earns an annualised Sharpe of roughly 85 after 2 bp taker
    fees and 1 bp half-spread, buy-and-hold about 0: deliberately strong, so that a small policy learns it
    in well under 100k PPO steps (at 0.8 bp the oracle's Sharpe is ~45 and PPO needs several times longer).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_price: float = Field(100.0, gt=0, description="first open, quote currency")
    trend_duration_bars: float = Field(400.0, ge=2, description="mean length of an up or down trend, bars")
    chop_duration_bars: float = Field(200.0, ge=2, description="mean length of a chop spell, bars")
    trend_drift: float = Field(1.5e-4, ge=0, lt=0.01, description="|mean log return| per bar in a trend")
    trend_vol: float = Field(1e-3, gt=0, lt=0.1, description="std of the per-bar return shock in a trend")
    chop_vol: float = Field(1.5e-3, gt=0, lt=0.1, description="std of the per-bar return shock in chop")
    trend_ar: float = Field(0.1, gt=-1, lt=1, description="AR(1) coefficient of returns in a trend")
    chop_ar: float = Field(-0.05, gt=-1, lt=1, description="AR(1) coefficient of returns in chop")
    flow_signal: float = Field(2.0, ge=0, le=20, description="logit of the taker-buy share per unit of d_t")
    flow_noise: float = Field(0.35, ge=0, le=10, description="std of the taker-buy share's logit noise")
    volume_per_bar: float = Field(50_000.0, gt=0, description="median volume per bar, base units")
    volume_noise: float = Field(0.3, ge=0, le=5, description="std of log volume")
    trades_per_bar: float = Field(500.0, ge=1, description="median trade count per bar")
    trades_noise: float = Field(0.3, ge=0, le=5, description="std of log trade count")
    wick_scale: float = Field(0.5, ge=0, le=5, description="wick length beyond the body, in bar vols")

    def drift(self) -> np.ndarray:
        """Mean per-bar log return per regime (chop, up, down)."""
        return np.array([0.0, self.trend_drift, -self.trend_drift])

    def vol(self) -> np.ndarray:
        """Std of the per-bar shock per regime."""
        return np.array([self.chop_vol, self.trend_vol, self.trend_vol])

    def ar(self) -> np.ndarray:
        """AR(1) coefficient of the return deviation per regime."""
        return np.array([self.chop_ar, self.trend_ar, self.trend_ar])


def control_params(params: EdgeParams | None = None) -> EdgeParams:
    """``params`` with the edge removed: no drift and no autocorrelation; regimes, vol and flow unchanged."""
    p = params or EdgeParams()
    return p.model_copy(update={"trend_drift": 0.0, "trend_ar": 0.0, "chop_ar": 0.0})


def transition_matrix(params: EdgeParams) -> np.ndarray:
    """Per-bar regime transition matrix (rows/cols chop, up, down; row-stochastic)."""
    leave_t = 1.0 / params.trend_duration_bars
    leave_c = 1.0 / params.chop_duration_bars
    return np.array(
        [
            [1.0 - leave_c, leave_c / 2, leave_c / 2],
            [leave_t, 1.0 - leave_t, 0.0],
            [leave_t, 0.0, 1.0 - leave_t],
        ]
    )


@dataclass
class EdgeSeries:
    """One planted-edge (or control) series. Latent arrays are per candle row; row t = known at bar t's close."""

    candles: pd.DataFrame  # ts, open, high, low, close, volume, quote_volume, trades, taker_buy_volume, ...
    regime: np.ndarray  # int8 values of EdgeRegime: the regime that drew bar t's return and flow
    deviation: np.ndarray  # u_t, the return's deviation from the regime drift (fraction)
    expected_return: np.ndarray  # E[r_{t+1} | s_t, u_t], log return of the next bar (fraction)
    params: EdgeParams
    seed: int
    timeframe: str
    control: bool

    @property
    def close(self) -> np.ndarray:
        return self.candles["close"].to_numpy()

    def flow_frame(self) -> Mapping[str, np.ndarray]:
        """The extra candle columns the flow features read (``taker_buy_volume``, ``trades``)."""
        return {
            "taker_buy_volume": self.candles["taker_buy_volume"].to_numpy(),
            "trades": self.candles["trades"].to_numpy(),
        }


def _streams(seed: int) -> list[np.random.Generator]:
    # one generator per quantity, each drawn bar by bar in order, so bar t never depends on draws for
    # later bars (generating more bars leaves the first ones unchanged)
    root = np.random.SeedSequence([int(seed), 0xED6E])
    return [np.random.default_rng(s) for s in root.spawn(7)]


def _regime_path(p: np.ndarray, u: np.ndarray, s0: int) -> np.ndarray:
    cum = np.cumsum(p, axis=1)
    cum[:, -1] = 1.0 + 1e-12
    rows = cum.tolist()
    out = np.empty(u.shape[0], dtype=np.int8)
    s = s0
    for t, x in enumerate(u.tolist()):
        if t:
            row = rows[s]
            s = 0 if x < row[0] else (1 if x < row[1] else 2)
        out[t] = s
    return out


def _deviation(regime: np.ndarray, eps: np.ndarray, ar: np.ndarray, vol: np.ndarray) -> np.ndarray:
    phi = ar[regime].tolist()
    shock = (vol[regime] * eps).tolist()
    out = np.empty(regime.shape[0])
    u = 0.0
    for t in range(regime.shape[0]):
        u = phi[t] * u + shock[t]
        out[t] = u
    return out


def expected_returns(
    regime: np.ndarray, deviation: np.ndarray, params: EdgeParams, horizon: int = 1
) -> np.ndarray:
    """``E[r_{t+1} + ... + r_{t+horizon} | s_t, u_t]`` under ``params`` (sum of per-bar log returns).

    Exact: with ``P`` the transition matrix and ``A = P diag(phi)``, the drift part is
    ``sum_h (P^h mu)[s_t]`` and the autocorrelated part ``u_t sum_h (A^h 1)[s_t]``.
    """
    if horizon < 1:
        raise UsageError(f"horizon must be >= 1 bar, got {horizon}")
    p = transition_matrix(params)
    mu, phi = params.drift(), params.ar()
    a = p * phi[None, :]
    drift = np.zeros(3)
    carry = np.zeros(3)
    ph = np.eye(3)
    ah = np.eye(3)
    for _ in range(horizon):
        ph = ph @ p
        ah = ah @ a
        drift += ph @ mu
        carry += ah.sum(axis=1)
    s = np.asarray(regime, dtype=np.intp)
    return drift[s] + carry[s] * np.asarray(deviation, dtype=np.float64)


def _generate(
    n_bars: int, seed: int, params: EdgeParams, timeframe: str, start_ms: int, control: bool
) -> EdgeSeries:
    if int(n_bars) < 2:
        raise UsageError(f"n_bars must be >= 2, got {n_bars}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    bar_ms = timeframe_ms(timeframe)
    if start_ms % bar_ms != 0:
        raise UsageError(f"start_ms {start_ms} is not aligned to {timeframe} bars")
    n = int(n_bars)
    g_reg, g_eps, g_flow, g_wick, g_vol, g_trades, g_start = _streams(int(seed))
    p = transition_matrix(params)
    pi = np.array([params.chop_duration_bars, params.trend_duration_bars / 2, params.trend_duration_bars / 2])
    s0 = int(g_start.choice(3, p=pi / pi.sum()))
    regime = _regime_path(p, g_reg.random(n), s0)
    vol = params.vol()
    dev = _deviation(regime, g_eps.standard_normal(n), params.ar(), vol)
    r = params.drift()[regime] + dev
    close = params.start_price * np.exp(np.cumsum(r))
    open_ = np.concatenate(([params.start_price], close[:-1]))
    sig = vol[regime]
    wick = params.wick_scale * sig[:, None] * np.abs(g_wick.standard_normal((n, 2)))
    high = np.maximum(open_, close) * np.exp(wick[:, 0])
    low = np.minimum(open_, close) * np.exp(-wick[:, 1])
    volume = params.volume_per_bar * np.exp(params.volume_noise * g_vol.standard_normal(n))
    trades = np.maximum(
        np.rint(params.trades_per_bar * np.exp(params.trades_noise * g_trades.standard_normal(n))), 1.0
    ).astype(np.int64)
    logit = params.flow_signal * _DIRECTION[regime] + params.flow_noise * g_flow.standard_normal(n)
    taker = volume / (1.0 + np.exp(-logit))
    ts = np.int64(start_ms) + np.arange(n, dtype=np.int64) * np.int64(bar_ms)
    candles = candle_frame(ts, open_, high, low, close, volume, trades, taker)
    return EdgeSeries(
        candles=candles,
        regime=regime,
        deviation=dev,
        expected_return=expected_returns(regime, dev, params),
        params=params,
        seed=int(seed),
        timeframe=timeframe,
        control=control,
    )


def generate_edge(
    n_bars: int,
    *,
    seed: int = 0,
    params: EdgeParams | None = None,
    timeframe: str = "1m",
    start_ms: int = DEFAULT_START_MS,
) -> EdgeSeries:
    """A planted-edge series of ``n_bars`` contiguous bars; the same seed gives identical frames.

    Bar ``t`` depends only on draws for bars ``≤ t``: a longer series with the same seed starts with
    this one. Raises :class:`~autoperp.core.errors.UsageError` on a bad size, seed or alignment.
    """
    return _generate(n_bars, seed, params or EdgeParams(), timeframe, start_ms, control=False)


def generate_control(
    n_bars: int,
    *,
    seed: int = 0,
    params: EdgeParams | None = None,
    timeframe: str = "1m",
    start_ms: int = DEFAULT_START_MS,
) -> EdgeSeries:
    """The no-edge control of :func:`generate_edge`: the same regimes, vol and flow, zero drift, no AR."""
    return _generate(n_bars, seed, control_params(params), timeframe, start_ms, control=True)


def oracle_targets(
    series: EdgeSeries,
    *,
    params: EdgeParams | None = None,
    round_trip_cost: float = 6e-4,
    horizon_bars: int | None = None,
    leverage: float = 1.0,
) -> np.ndarray:
    """Exposure targets (units of equity, one per bar, for ``sim.simulate``) of the policy that knows the model.

    ``target_t = leverage * sign(E_t)`` where ``E_t`` is the expected log return over the next
    ``horizon_bars`` bars given the latent state at bar ``t``'s close, and 0 when ``|E_t|`` is below
    ``round_trip_cost`` (fraction of notional: 2 × (taker fee + half-spread); 6 bp = 2 bp fee + 1 bp
    half-spread), so an edge that cannot pay for its own trade is left alone.
    ``horizon_bars`` defaults to the mean trend length. ``params`` is the model the oracle believes
    (default: the series' own); passing the edge model on a control series measures a false belief.
    """
    p = params or series.params
    if round_trip_cost < 0:
        raise UsageError(f"round_trip_cost must be >= 0 (fraction), got {round_trip_cost}")
    if leverage <= 0:
        raise UsageError(f"leverage must be > 0, got {leverage}")
    h = int(horizon_bars if horizon_bars is not None else round(p.trend_duration_bars))
    edge = expected_returns(series.regime, series.deviation, p, horizon=h)
    return np.where(np.abs(edge) > round_trip_cost, np.sign(edge) * leverage, 0.0)
