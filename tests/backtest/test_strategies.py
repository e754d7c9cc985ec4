"""Built-in strategies: the vectorised targets equal asking decide bar by bar, the rules do what their
docstrings say, they never look ahead, and bad names/parameters are one-line usage errors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from autoperp.backtest.market_data import MarketData, market_data_from_sim
from autoperp.backtest.strategies import STRATEGIES, BuyAndHold, FundingCarry, SmaTrend, get_strategy
from autoperp.backtest.strategies.moving_average import crossing_side, trailing_mean, window_mean
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError
from autoperp.sim import SimConfig, build_market, simulate
from tests.backtest.synthetic_inputs import BTC, MIN, T0, sim_market, synthetic


def looped(strategy: Strategy, data: MarketData) -> np.ndarray:
    """The interface's reference: decide() on every causal window."""
    return Strategy.targets(strategy, data)


def data_of(close: np.ndarray, funding: dict[int, float] | None = None) -> MarketData:
    n = close.shape[0]
    df = pd.DataFrame(
        {
            "ts": T0 + MIN * np.arange(n, dtype=np.int64),
            "open": np.r_[close[0], close[:-1]],
            "high": np.maximum(close, np.r_[close[0], close[:-1]]) * 1.0001,
            "low": np.minimum(close, np.r_[close[0], close[:-1]]) * 0.9999,
            "close": close,
            "volume": np.full(n, 10.0),
        }
    )
    fund = None
    if funding:
        fund = pd.DataFrame({"ts": [T0 + MIN * b for b in funding], "rate": list(funding.values())})
    return market_data_from_sim(build_market(df, funding=fund, symbol="BTC/USDT:USDT", timeframe="1m"))


@pytest.fixture(scope="module")
def synthetic_data() -> MarketData:
    return market_data_from_sim(sim_market(synthetic([BTC], 6_000, seed=11)[BTC]))


CASES = [
    ("buy_and_hold", {}),
    ("buy_and_hold", {"exposure": -0.5}),
    ("sma_trend", {}),
    ("sma_trend", {"fast": 3, "slow": 7, "exposure": 2.0}),
    ("sma_trend", {"fast": 1, "slow": 2}),
    ("funding_carry", {}),
    ("funding_carry", {"threshold": 0.0, "exposure": 0.5}),
]


@pytest.mark.parametrize(("name", "params"), CASES)
def test_vectorised_targets_equal_looped_decide(synthetic_data: MarketData, name: str, params: dict) -> None:
    strategy = get_strategy(name, **params)
    fast = strategy.targets(synthetic_data)
    slow = looped(strategy, synthetic_data)
    assert fast.shape == (len(synthetic_data),)
    np.testing.assert_array_equal(fast, slow)  # NaN positions must match too
    assert np.isfinite(fast).any()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_targets_never_look_ahead(synthetic_data: MarketData, name: str, params: dict) -> None:
    strategy = get_strategy(name, **params)
    full = strategy.targets(synthetic_data)
    for stop in (1, 2, 150, 2_345, 5_999):
        np.testing.assert_array_equal(strategy.targets(synthetic_data.truncated(stop)), full[:stop])


def test_registry_names_and_aliases() -> None:
    assert set(STRATEGIES) == {"buy_and_hold", "sma_trend", "funding_carry"}
    assert isinstance(get_strategy("buy-and-hold"), BuyAndHold)
    assert isinstance(get_strategy("SMA_Trend"), SmaTrend)
    assert isinstance(get_strategy("funding_carry"), FundingCarry)


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as ei:
        get_strategy("ema_cross")
    msg = ei.value.one_line()
    assert "unknown strategy 'ema_cross'" in msg
    for name in STRATEGIES:
        assert name in msg


@pytest.mark.parametrize(
    ("name", "params", "needle"),
    [
        ("sma_trend", {"fast": 50, "slow": 20}, "slow=20 must be longer than fast=50"),
        ("sma_trend", {"fast": 0}, "fast=0 must be at least 1 bar"),
        ("sma_trend", {"speed": 3}, "no parameter 'speed'"),
        ("sma_trend", {"fast": "abc"}, "bad parameter"),
        ("funding_carry", {"threshold": -0.1}, "threshold=-0.1 must be >= 0"),
        ("buy_and_hold", {"exposure": float("inf")}, "exposure=inf must be a finite number"),
    ],
)
def test_bad_parameters_are_usage_errors(name: str, params: dict, needle: str) -> None:
    with pytest.raises(UsageError) as ei:
        get_strategy(name, **params)
    assert needle in ei.value.one_line()
    assert name in ei.value.one_line()


def test_params_are_what_the_ledger_hashes() -> None:
    # lookback is derived from slow for sma_trend (a property), so it is not a parameter
    assert get_strategy("sma_trend", fast=10).params() == {"fast": 10, "slow": 100, "exposure": 1.0}
    assert get_strategy("funding_carry").params() == {"threshold": 0.0001, "exposure": 1.0}
    assert get_strategy("buy_and_hold", exposure=2).params() == {"exposure": 2.0}
    assert get_strategy("sma_trend", slow=50).lookback == 50


def test_buy_and_hold_enters_once_and_never_rebalances(synthetic_data: MarketData) -> None:
    t = get_strategy("buy_and_hold").targets(synthetic_data)
    assert t[0] == 1.0 and np.isnan(t[1:]).all()
    market = sim_market(synthetic([BTC], 6_000, seed=11)[BTC])
    res = simulate(market, t, SimConfig())
    kinds = res.trades["kind"].astype(str).tolist()
    assert kinds.count("fill") == 1 and kinds.count("force_close") == 1
    held = res.position[1:-1]
    assert (held > 0).all() and np.ptp(held) == 0.0  # the quantity bought is the quantity held


def test_sma_trend_goes_long_above_and_short_below() -> None:
    # up 60 bars, down 60 bars, up again: fast(3)/slow(10) crosses twice
    steps = np.r_[np.full(60, 0.01), np.full(60, -0.01), np.full(60, 0.01)]
    close = 100 * np.exp(np.cumsum(steps))
    data = data_of(close)
    t = SmaTrend(fast=3, slow=10).targets(data)
    emitted = np.flatnonzero(~np.isnan(t))
    assert np.isnan(t[:9]).all()  # before both averages exist
    assert emitted[0] == 9 and t[9] == 1.0  # in the market from the first bar with both SMAs
    assert list(t[emitted]) == [1.0, -1.0, 1.0]
    fast, slow = trailing_mean(close, 3), trailing_mean(close, 10)
    for j in emitted:
        assert np.sign(fast[j] - slow[j]) == t[j]
    # always in the market once in: the simulated position never returns to flat before the end
    res = simulate(build_market(_frame(close), symbol="BTC/USDT:USDT", timeframe="1m"), t, SimConfig())
    assert (res.position[emitted[0] + 1 : -1] != 0).all()


def _frame(close: np.ndarray) -> pd.DataFrame:
    n = close.shape[0]
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "ts": T0 + MIN * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": np.full(n, 1_000.0),
        }
    )


def test_sma_trend_holds_on_a_flat_market() -> None:
    data = data_of(np.full(300, 7.0))
    s = SmaTrend(fast=5, slow=20)
    assert np.isnan(s.targets(data)).all()
    assert np.isnan(looped(s, data)).all()


def test_funding_carry_follows_the_last_settled_rate() -> None:
    close = np.full(40, 5.0)
    data = data_of(close, {5: 0.0005, 15: 0.0001, 20: -0.0003, 30: -0.00005})
    t = FundingCarry(threshold=0.0001).targets(data)
    assert t[0] == 0.0 and np.isnan(t[1:5]).all()  # flat before the first settlement
    assert t[5] == -1.0  # longs pay 0.05 %: short to receive it
    assert t[15] == 0.0  # the base rate: flat
    assert t[20] == 1.0  # shorts pay: long
    assert t[30] == 0.0
    assert np.isnan(np.delete(t, [0, 5, 15, 20, 30])).all()
    np.testing.assert_array_equal(t, looped(FundingCarry(threshold=0.0001), data))


def test_trailing_mean_matches_direct_means_on_a_long_series() -> None:
    rng = np.random.default_rng(5)
    x = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.002, 200_000)))
    for k in (1, 7, 100):
        m = trailing_mean(x, k)
        assert np.isnan(m[: k - 1]).all()
        idx = rng.integers(k - 1, x.shape[0], 500)
        direct = np.array([window_mean(x[: i + 1], k) for i in idx])
        np.testing.assert_allclose(m[idx], direct, rtol=1e-12)
    assert np.isnan(trailing_mean(x[:5], 10)).all()
    assert crossing_side(100.0, 100.0 * (1 + 1e-12)) == 0.0  # a rounding-level difference is a tie
    assert crossing_side(100.0, 99.9) == 1.0 and crossing_side(99.9, 100.0) == -1.0


def test_sma_trend_on_a_million_bars_is_fast() -> None:
    rng = np.random.default_rng(1)
    n = 1_000_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    nan = np.full(n, np.nan)
    ts = T0 + MIN * np.arange(n, dtype=np.int64)
    data = MarketData("BTC/USDT:USDT", "1m", ts, close, close, close, close, close, close, nan)
    s = SmaTrend()
    s.targets(data)  # compile (numba cache) outside the timing
    t0 = time.perf_counter()
    t = s.targets(data)
    elapsed = time.perf_counter() - t0
    assert np.count_nonzero(~np.isnan(t)) > 1_000
    assert elapsed < 0.5, f"{elapsed:.3f} s for 1M bars"
