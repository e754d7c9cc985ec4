"""Lookahead analysis: deliberately biased strategies are caught (centred window, shift(-1), a feature
normalised over the whole series, a decide() that peeks past its window, targets() disagreeing with
decide()), and the built-in strategies pass on at least 50 truncation points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoperp.backtest.lookahead import analyse_lookahead, truncation_points
from autoperp.backtest.market_data import MarketData, Window, market_data_from_sim
from autoperp.backtest.strategies import STRATEGIES, get_strategy
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError
from tests.backtest.synthetic_inputs import BTC, sim_market, synthetic

N_BARS = 3_000


@pytest.fixture(scope="module")
def data() -> MarketData:
    return market_data_from_sim(sim_market(synthetic([BTC], N_BARS, seed=3)[BTC]))


class CentredMean(Strategy):
    """Long above / short below a *centred* 21-bar mean: the mean at t averages close[t+1..t+10]."""

    name = "centred_mean"
    lookback = 21

    def decide(self, window: Window) -> float:
        c = window.close
        return float(np.sign(c[-1] - c[-21:].mean())) if len(c) >= 21 else math.nan

    def targets(self, data: MarketData) -> np.ndarray:
        mean = pd.Series(data.close).rolling(21, center=True).mean().to_numpy()
        return np.sign(data.close - mean)


class NextClose(Strategy):
    """Long when the *next* close is higher (np.roll(close, -1)): the textbook leak."""

    name = "next_close"

    def decide(self, window: Window) -> float:
        return math.nan

    def targets(self, data: MarketData) -> np.ndarray:
        return np.sign(np.roll(data.close, -1) - data.close)


class CausalMean(Strategy):
    """The causal twin of CentredMean, with its trailing mean exposed as a feature."""

    name = "causal_mean"
    lookback = 21

    def decide(self, window: Window) -> float:
        c = window.close
        return float(np.sign(c[-1] - c[-21:].mean())) if len(c) >= 21 else math.nan

    def targets(self, data: MarketData) -> np.ndarray:
        return np.sign(data.close - self.features(data)["mean21"])

    def features(self, data: MarketData) -> dict[str, np.ndarray]:
        return {"mean21": pd.Series(data.close).rolling(21).mean().to_numpy()}


class GlobalScale(CausalMean):
    """Causal targets, but one feature is the close over the maximum of the *whole* series."""

    name = "global_scale"

    def features(self, data: MarketData) -> dict[str, np.ndarray]:
        return {**super().features(data), "close_over_max": data.close / data.close.max()}


class PeekingDecide(Strategy):
    """No vectorised targets; decide() reads the bar after its window through the private data."""

    name = "peeking_decide"
    lookback = 2

    def decide(self, window: Window) -> float:
        full = window._data.close  # the leak: the whole array behind the window
        if window.t + 1 >= len(full):
            return math.nan
        return 1.0 if full[window.t + 1] > window.close[-1] else -1.0


class Inconsistent(Strategy):
    """Causal, but the vectorised targets say the opposite of decide()."""

    name = "inconsistent"

    def decide(self, window: Window) -> float:
        return 1.0

    def targets(self, data: MarketData) -> np.ndarray:
        return -np.ones(len(data))


def test_centred_rolling_mean_is_caught(data: MarketData) -> None:
    report = analyse_lookahead(CentredMean(), data, n_points=50, seed=1)
    assert report.biased
    assert len(report.points) == 50
    checks = {s.check for s in report.summary()}
    assert "targets" in checks
    targets = next(s for s in report.summary() if s.check == "targets")
    assert targets.points == 50  # every cut changes something: the last 10 means lose their future
    # the value at t itself is reported, with its full-data and cut-data values
    at_t = [f for f in report.findings if f.check == "targets" and f.bar == f.point]
    assert len(at_t) == 50
    assert all(not math.isnan(f.full) and math.isnan(f.truncated) for f in at_t)
    assert all(f.ts == int(data.ts[f.bar]) for f in at_t)


def test_shift_minus_one_is_caught_at_t(data: MarketData) -> None:
    report = analyse_lookahead(NextClose(), data, n_points=60, seed=2)
    assert report.biased and len(report.points) == 60
    bars = {(f.point, f.bar) for f in report.findings if f.check == "targets"}
    # only the value at t depends on bar t+1; every earlier value is unchanged
    assert {b for _, b in bars} <= {p for p, _ in bars}
    assert all(p == b for p, b in bars)
    # cut after t, the roll wraps close[0] into bar t: caught wherever that flips the sign
    c, pts = data.close, report.points
    expected = {int(t) for t in pts if np.sign(c[0] - c[t]) != np.sign(c[t + 1] - c[t])}
    assert {p for p, _ in bars} == expected
    assert len(expected) >= 10


def test_feature_normalised_over_the_whole_series_is_caught(data: MarketData) -> None:
    report = analyse_lookahead(GlobalScale(), data, n_points=50)
    assert report.biased
    by_check = {(s.check, s.name) for s in report.summary()}
    assert ("feature", "close_over_max") in by_check
    assert ("feature", "mean21") not in by_check
    assert not any(c == "targets" for c, _ in by_check)
    assert report.features_checked == ["close_over_max", "mean21"]


def test_decide_peeking_past_its_window_is_caught(data: MarketData) -> None:
    report = analyse_lookahead(PeekingDecide(), data, n_points=50)
    assert report.biased
    checks = {s.check: s for s in report.summary()}
    # cut after t, the peek finds nothing: the value at t becomes NaN, at every point
    assert checks["targets"].points == 50 and checks["decide"].points == 50
    assert all(math.isnan(f.truncated) and not math.isnan(f.full) for f in report.findings)


def test_strategy_failing_without_the_future_is_reported(data: MarketData) -> None:
    class Crashing(Strategy):
        name = "crashing"

        def decide(self, window: Window) -> float:
            return math.nan

        def targets(self, data: MarketData) -> np.ndarray:
            if len(data) < N_BARS:
                raise IndexError("needs the whole history")
            return np.zeros(len(data))

    report = analyse_lookahead(Crashing(), data, n_points=50)
    assert report.biased
    errors = [f for f in report.findings if f.check == "error"]
    assert len(errors) == 50 and {f.name for f in errors} == {"IndexError"}
    assert "targets() on the cut history: needs the whole history" in errors[0].message


def test_targets_disagreeing_with_decide_is_reported(data: MarketData) -> None:
    report = analyse_lookahead(Inconsistent(), data, n_points=50)
    assert report.biased
    checks = {s.check for s in report.summary()}
    assert checks == {"decide_vs_targets"}
    f = report.findings[0]
    assert (f.full, f.truncated) == (-1.0, 1.0)


def test_causal_strategy_with_features_is_clean(data: MarketData) -> None:
    report = analyse_lookahead(CausalMean(), data, n_points=80, seed=5)
    assert not report.biased
    assert report.n_differences == 0 and report.findings == []
    assert len(report.points) == 80 and len(report.decide_points) == 80
    # every target and feature value up to each t was compared
    assert report.values_compared >= 2 * int(np.sum(report.points + 1))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_builtin_strategies_pass(data: MarketData, name: str) -> None:
    strategy = get_strategy(name)
    report = analyse_lookahead(strategy, data, n_points=50, seed=11)
    assert not report.biased, report.summary()
    assert len(report.points) >= 50
    assert report.points.min() >= strategy.lookback
    assert report.values_compared > 50


def test_builtin_strategies_pass_with_other_parameters(data: MarketData) -> None:
    for s in (get_strategy("sma_trend", fast=5, slow=37), get_strategy("funding_carry", threshold=0.0)):
        assert not analyse_lookahead(s, data, n_points=50, seed=4).biased


def test_truncation_points_are_distinct_past_the_lookback_and_seeded() -> None:
    pts = truncation_points(1_000, 100, 50, seed=9)
    assert len(pts) == 50 == len(np.unique(pts))
    assert pts.min() >= 100 and pts.max() <= 998
    assert np.array_equal(pts, truncation_points(1_000, 100, 50, seed=9))
    assert not np.array_equal(pts, truncation_points(1_000, 100, 50, seed=10))


def test_too_little_data_for_the_points_is_a_usage_error(data: MarketData) -> None:
    short = data.truncated(60)
    with pytest.raises(UsageError, match="need at least 50"):
        analyse_lookahead(get_strategy("sma_trend", fast=5, slow=20), short, n_points=50)


def test_nan_equals_nan_and_a_state_cannot_leak_between_runs(data: MarketData) -> None:
    class Counter(Strategy):
        """NaN targets, and a call counter that a shared instance would carry from run to run."""

        name = "counter"
        calls: int = 0

        def decide(self, window: Window) -> float:
            return math.nan

        def targets(self, data: MarketData) -> np.ndarray:
            self.calls += 1
            return np.full(len(data), math.nan if self.calls == 1 else 1.0)

    assert not analyse_lookahead(Counter(), data, n_points=50).biased


def test_findings_are_capped_but_all_counted(data: MarketData) -> None:
    report = analyse_lookahead(CentredMean(), data, n_points=50, max_findings=7)
    assert len(report.findings) == 7
    assert report.n_differences >= 500
    assert report.to_json()["n_differences"] == report.n_differences
