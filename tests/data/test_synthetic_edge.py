"""Planted-edge synthetic market: determinism, causality, the model's truth, and the oracle's edge after costs."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from autoperp.core.errors import UsageError
from autoperp.data.schema import CANDLE_OPTIONAL, CANDLE_REQUIRED
from autoperp.data.synthetic_edge import (
    EdgeParams,
    EdgeRegime,
    EdgeSeries,
    control_params,
    expected_returns,
    generate_control,
    generate_edge,
    oracle_targets,
    transition_matrix,
)
from autoperp.metrics.performance import performance
from autoperp.sim import SimConfig, build_market, simulate

#: The costs the learning proof trades under: 2 bp taker fee, 1 bp half-spread, 1x.
COSTS = SimConfig(taker_fee=2e-4, half_spread=1e-4, leverage=1.0)
HELD_OUT = (9001, 9002, 9003)


def sharpe(series: EdgeSeries, targets: np.ndarray) -> float:
    """Annualised Sharpe of simple per-bar equity returns after costs (1m bars)."""
    market = build_market(series.candles, symbol="SYN/USDT:USDT", timeframe=series.timeframe)
    res = simulate(market, targets, COSTS)
    return performance(res.returns(), bar_ms=60_000).sharpe


def test_same_seed_same_frames_other_seed_differs() -> None:
    a, b = generate_edge(3000, seed=7), generate_edge(3000, seed=7)
    assert a.candles.equals(b.candles)
    assert np.array_equal(a.regime, b.regime)
    assert np.array_equal(a.expected_return, b.expected_return)
    c = generate_edge(3000, seed=8)
    assert not np.allclose(a.close, c.close)


def test_candles_are_valid_and_in_the_usual_columns() -> None:
    s = generate_edge(5000, seed=1)
    df = s.candles
    assert list(df.columns) == [*CANDLE_REQUIRED, *CANDLE_OPTIONAL]
    assert df["ts"].dtype == np.int64 and df["trades"].dtype == np.int64
    assert (np.diff(df["ts"].to_numpy()) == 60_000).all()
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert np.isfinite(df.to_numpy(float)).all()
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all() and (lo > 0).all()
    assert np.array_equal(o[1:], c[:-1]), "open is the previous close"
    tb, v = df["taker_buy_volume"].to_numpy(), df["volume"].to_numpy()
    assert ((tb >= 0) & (tb <= v)).all() and (df["trades"] >= 1).all()
    assert set(s.flow_frame()) == {"taker_buy_volume", "trades"}


def test_latent_is_causal_longer_series_starts_with_the_shorter() -> None:
    # bar t depends only on draws for bars <= t: the regime at t cannot know the future shocks
    short, long = generate_edge(4000, seed=3), generate_edge(9000, seed=3)
    n = 4000
    assert short.candles.equals(long.candles.iloc[:n].reset_index(drop=True))
    assert np.array_equal(short.regime, long.regime[:n])
    assert np.array_equal(short.expected_return, long.expected_return[:n])


def test_regimes_are_persistent_and_flow_reads_them() -> None:
    p = EdgeParams()
    s = generate_edge(200_000, seed=5, params=p)
    runs = np.diff(np.flatnonzero(np.diff(s.regime) != 0))
    assert 250 < runs.mean() < 450, "regimes last hundreds of bars"
    share = s.candles["taker_buy_volume"].to_numpy() / s.candles["volume"].to_numpy()
    by = {k: share[s.regime == k].mean() for k in EdgeRegime}
    assert by[EdgeRegime.UP] > 0.8 > 0.55 > by[EdgeRegime.CHOP] > 0.45 > 0.2 > by[EdgeRegime.DOWN]
    r = np.diff(np.log(s.close))
    vol = {k: r[s.regime[1:] == k].std() for k in EdgeRegime}
    assert vol[EdgeRegime.CHOP] > 1.3 * vol[EdgeRegime.UP], "chop is visibly more volatile"


def test_expected_return_is_the_true_conditional_mean() -> None:
    s = generate_edge(300_000, seed=11)
    r_next = np.diff(np.log(s.close))
    slope, _ = np.polyfit(s.expected_return[:-1], r_next, 1)
    assert 0.85 < slope < 1.15
    # the sign of the expectation is right far more often than chance in trends
    trend = s.regime[:-1] != EdgeRegime.CHOP
    hit = np.mean(np.sign(s.expected_return[:-1][trend]) == np.sign(r_next[trend]))
    assert hit > 0.52
    c = generate_control(5000, seed=11)
    assert np.array_equal(c.expected_return, np.zeros(5000))
    assert np.array_equal(c.regime, generate_edge(5000, seed=11).regime), "control shares the regimes"


def test_horizon_expectation_sums_next_bar_expectations() -> None:
    p = EdgeParams()
    reg = np.array([0, 1, 2, 1], dtype=np.int8)
    dev = np.array([0.001, -0.002, 0.0005, 0.0])
    one = expected_returns(reg, dev, p, horizon=1)
    mu = p.drift()
    assert one[3] == pytest.approx((1 - 1 / p.trend_duration_bars) * mu[1])
    two = expected_returns(reg, dev, p, horizon=2)
    # brute force E[r_{t+2}]: over the next two regimes j, k, the deviation carries phi_j phi_k
    tm, phi = transition_matrix(p), p.ar()
    for i, (s, u) in enumerate(zip(reg, dev, strict=True)):
        second = sum(tm[s, j] * tm[j, k] * (mu[k] + phi[j] * phi[k] * u) for j in range(3) for k in range(3))
        assert two[i] == pytest.approx(one[i] + second, rel=1e-12, abs=1e-15)
    with pytest.raises(UsageError):
        expected_returns(reg, dev, p, horizon=0)


def test_oracle_is_clearly_profitable_after_costs_on_held_out_seeds() -> None:
    oracle, hold = [], []
    for seed in HELD_OUT:
        s = generate_edge(20_000, seed=seed)
        t = oracle_targets(s)
        assert set(np.unique(t)) <= {-1.0, 0.0, 1.0}
        assert (t[s.regime == EdgeRegime.CHOP] == 0).mean() > 0.95, "flat in chop"
        oracle.append(sharpe(s, t))
        hold.append(sharpe(s, np.ones(len(t))))
    assert min(oracle) > 50.0, oracle  # measured 84-99 annualised at 1m bars (seeds 9001-9003)
    assert abs(float(np.mean(hold))) < 0.3 * min(oracle), hold


def test_control_offers_no_edge_to_the_oracle() -> None:
    beliefs = []
    for seed in (9101, 9102, 9103, 9104):
        c = generate_control(50_000, seed=seed)
        assert not np.any(oracle_targets(c)), "the true model of the control never trades"
        wrong = oracle_targets(c, params=EdgeParams())  # believing the flow regime carries drift
        assert np.abs(wrong).mean() > 0.5, "the false belief does trade"
        beliefs.append(sharpe(c, wrong))
    assert float(np.mean(beliefs)) < 2.0, beliefs  # measured -1.5: zero edge less costs


def test_oracle_threshold_and_leverage() -> None:
    s = generate_edge(3000, seed=2)
    assert not np.any(oracle_targets(s, round_trip_cost=1.0))
    t = oracle_targets(s, leverage=2.0)
    assert set(np.unique(t)) <= {-2.0, 0.0, 2.0} and np.any(t)
    with pytest.raises(UsageError):
        oracle_targets(s, round_trip_cost=-1e-4)
    with pytest.raises(UsageError):
        oracle_targets(s, leverage=0.0)


def test_control_params_keep_everything_but_the_edge() -> None:
    p = EdgeParams(flow_noise=0.5, trend_vol=2e-3)
    c = control_params(p)
    assert c.trend_drift == 0 and c.trend_ar == 0 and c.chop_ar == 0
    assert c.flow_noise == 0.5 and c.trend_vol == 2e-3
    assert generate_control(100, seed=0).control and not generate_edge(100, seed=0).control


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(UsageError, match="n_bars"):
        generate_edge(1)
    with pytest.raises(UsageError, match="seed"):
        generate_edge(10, seed=-1)
    with pytest.raises(UsageError, match="aligned"):
        generate_edge(10, timeframe="1h", start_ms=1_704_067_200_001)
    with pytest.raises(ValidationError):
        EdgeParams(trend_vol=0.0)
    with pytest.raises(ValidationError):
        EdgeParams(trend_ar=1.0)
