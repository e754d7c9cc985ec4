"""Stress scenarios: each effect is visible, invariants hold, inputs are never mutated, bad input is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoperp.core.errors import UsageError
from autoperp.core.types import DataKind
from autoperp.data.scenarios import SCENARIO_KINDS, SCENARIOS, ScenarioRecord, apply_scenario
from autoperp.data.synthetic import generate_series

CANDLE_SCENARIOS = [n for n, k in SCENARIO_KINDS.items() if k is DataKind.FUTURES]


@pytest.fixture(scope="module")
def series():
    return generate_series(3 * 1440, seed=17)


@pytest.fixture
def candles(series) -> pd.DataFrame:
    return series.candles.frame.copy()


@pytest.fixture
def funding(series) -> pd.DataFrame:
    return series.funding.frame.copy()


def assert_candle_invariants(df: pd.DataFrame) -> None:
    o, h, lo, c = (df[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    assert np.isfinite(np.c_[o, h, lo, c]).all()
    assert (lo > 0).all()
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert (df["volume"] >= 0).all()
    if "taker_buy_volume" in df:
        assert (df["taker_buy_volume"] <= df["volume"]).all()
        assert (df["taker_buy_volume"] >= 0).all()
    if "taker_buy_quote_volume" in df:
        assert (df["taker_buy_quote_volume"] <= df["quote_volume"] * (1 + 1e-12)).all()
    if "trades" in df:
        assert df["trades"].dtype == np.int64 and (df["trades"] >= 0).all()
    assert df["ts"].is_monotonic_increasing


def log_ret(df: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(df["close"].to_numpy()))


# --------------------------------------------------------------------------------------------- common


@pytest.mark.parametrize("name", CANDLE_SCENARIOS)
def test_candle_scenarios_keep_invariants_and_do_not_mutate(name: str, candles: pd.DataFrame) -> None:
    before = candles.copy()
    out, rec = apply_scenario(name, candles, 3)
    pd.testing.assert_frame_equal(candles, before)  # input untouched
    assert out is not candles
    assert_candle_invariants(out)
    assert list(out.columns) == list(candles.columns)
    assert isinstance(rec, ScenarioRecord) and rec.name == name
    assert 0 <= rec.start < rec.end <= len(candles)
    assert rec.params["start"] == rec.start
    assert rec.start_ts == candles["ts"].iloc[rec.start] and rec.end_ts == candles["ts"].iloc[rec.end - 1]
    # rows before the window are untouched, bit for bit
    pd.testing.assert_frame_equal(out.iloc[: rec.start], candles.iloc[: rec.start], check_exact=True)


@pytest.mark.parametrize("name", CANDLE_SCENARIOS)
def test_scenarios_are_deterministic_by_seed(name: str, candles: pd.DataFrame) -> None:
    a, ra = apply_scenario(name, candles, 5)
    b, rb = apply_scenario(name, candles, 5)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert ra == rb
    starts = {apply_scenario(name, candles, s)[1].start for s in range(6)}
    assert len(starts) > 1  # the start is drawn when not given


@pytest.mark.parametrize("name", CANDLE_SCENARIOS)
def test_scenarios_work_without_optional_columns(name: str, candles: pd.DataFrame) -> None:
    bare = candles[["ts", "open", "high", "low", "close", "volume"]]
    out, _ = apply_scenario(name, bare, np.random.default_rng(1))
    assert list(out.columns) == list(bare.columns)
    assert_candle_invariants(out)


@pytest.mark.real_data
@pytest.mark.parametrize("name", CANDLE_SCENARIOS)
def test_scenarios_on_real_candles(name: str, real_dir: Path) -> None:
    real = pd.read_csv(real_dir / "binance_um_1m_monthly_isda/NEARUSDT-1m-2023-04.csv.gz", nrows=5000)
    real = real.rename(columns={"open_time": "ts", "count": "trades"}).drop(columns=["close_time", "ignore"])
    before = real.copy()
    out, _ = apply_scenario(name, real, 2)
    pd.testing.assert_frame_equal(real, before)
    assert_candle_invariants(out)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(CANDLE_SCENARIOS),
    seed=st.integers(0, 10_000),
    strength=st.floats(0.01, 0.95),
    bars=st.integers(1, 200),
)
def test_invariants_for_random_parameters(name, seed, strength, bars, candles) -> None:
    params = {
        "flash_crash": {"depth": strength, "duration": bars, "rebound": 1 - strength},
        "pump_and_dump": {"pump": 3 * strength, "pump_bars": bars, "retrace": 2 * strength},
        "liquidity_drought": {"length": bars, "volume_factor": strength, "spread_bps": 500 * strength},
        "volatility_jump": {"factor": 20 * strength, "length": bars},
        "trend_reversal": {"length": bars + 1},
        "exchange_outage": {"length": bars},
    }[name]
    out, _ = apply_scenario(name, candles, seed, **params)
    assert_candle_invariants(out)


# --------------------------------------------------------------------------------------------- effects


def test_flash_crash_depth_and_rebound(candles: pd.DataFrame) -> None:
    out, rec = apply_scenario(
        "flash_crash", candles, 0, start=1000, depth=0.2, duration=5, rebound=0.5, rebound_bars=20
    )
    c0, c1 = candles["close"].to_numpy(), out["close"].to_numpy()
    s, bottom, end = 1000, 1004, 1025
    assert rec.hints["bottom_index"] == bottom and rec.end == end
    # the bottom is (1 - depth) x the pre-crash close, on top of the original bars' own moves
    assert c1[bottom] / c1[s - 1] == pytest.approx(0.8 * c0[bottom] / c0[s - 1], rel=1e-9)
    assert c1[s:end].min() == pytest.approx(0.8 * c1[s - 1], rel=0.02)
    # half the log loss is won back, and the new level carries on
    assert c1[end - 1] / c1[s - 1] == pytest.approx(np.sqrt(0.8) * c0[end - 1] / c0[s - 1], rel=1e-9)
    assert c1[-1] / c0[-1] == pytest.approx(np.sqrt(0.8), rel=1e-9)
    # panic volume, sellers aggress
    v0, v1 = candles["volume"].to_numpy(), out["volume"].to_numpy()
    assert np.allclose(v1[s:bottom], 5 * v0[s:bottom])
    share0 = candles["taker_buy_volume"].to_numpy() / v0
    share1 = out["taker_buy_volume"].to_numpy() / v1
    assert np.allclose(share1[s:bottom], 0.4 * share0[s:bottom])
    assert np.array_equal(v1[end:], v0[end:])


def test_pump_and_dump_round_trip(candles: pd.DataFrame) -> None:
    out, rec = apply_scenario("pump_and_dump", candles, 0, start=500, pump=0.5, pump_bars=30, dump_bars=10)
    c0, c1 = candles["close"].to_numpy(), out["close"].to_numpy()
    top = rec.hints["top_index"]
    assert top == 529
    assert c1[529] / c1[499] == pytest.approx(1.5 * c0[529] / c0[499], rel=1e-9)
    assert c1[539] == pytest.approx(c0[539], rel=1e-9)  # retrace 1: back where it would have been
    assert np.allclose(c1[540:], c0[540:], rtol=1e-9)
    assert (out["volume"].to_numpy()[500:540] > candles["volume"].to_numpy()[500:540]).all()


def test_liquidity_drought_thins_volume_and_widens_ranges(candles: pd.DataFrame) -> None:
    out, rec = apply_scenario(
        "liquidity_drought", candles, 0, start=2000, length=300, volume_factor=0.05, spread_bps=40
    )
    v0, v1 = candles["volume"].to_numpy(), out["volume"].to_numpy()
    w = slice(2000, 2300)
    assert np.allclose(v1[w] / v0[w], 0.05)
    assert v1[w].sum() / v0[w].sum() == pytest.approx(0.05)
    assert np.array_equal(v1[:2000], v0[:2000]) and np.array_equal(v1[2300:], v0[2300:])
    assert rec.hints["spread_bps"] == 40
    rng0 = np.log(candles["high"] / candles["low"]).to_numpy()
    rng1 = np.log(out["high"] / out["low"]).to_numpy()
    assert np.allclose(rng1[w] - rng0[w], np.log((1 + 0.002) / (1 - 0.002)))
    assert np.array_equal(out["close"].to_numpy(), candles["close"].to_numpy())
    assert (out["trades"].to_numpy()[w] <= candles["trades"].to_numpy()[w]).all()


def test_volatility_jump_scales_returns_and_wicks(candles: pd.DataFrame) -> None:
    out, rec = apply_scenario("volatility_jump", candles, 0, start=1440, factor=4.0)
    assert rec.end == len(candles)
    r0, r1 = log_ret(candles), log_ret(out)
    assert np.allclose(r1[1439:], 4.0 * r0[1439:])  # r[i] is the return into bar i + 1
    assert np.array_equal(r1[:1439], r0[:1439])
    assert r1[1439:].std() / r1[:1439].std() == pytest.approx(4.0 * r0[1439:].std() / r0[:1439].std())
    rng0 = np.log(candles["high"] / candles["low"]).to_numpy()[1440:]
    rng1 = np.log(out["high"] / out["low"]).to_numpy()[1440:]
    assert rng1.mean() / rng0.mean() == pytest.approx(4.0, rel=0.05)
    assert np.allclose(out["volume"].to_numpy()[1440:], 4.0 * candles["volume"].to_numpy()[1440:])


def test_trend_reversal_flips_the_drift(candles: pd.DataFrame) -> None:
    out, rec = apply_scenario("trend_reversal", candles, 0, start=1000, length=1440)
    c0, c1 = candles["close"].to_numpy(), out["close"].to_numpy()
    old = np.log(c0[2439] / c0[999])
    new = np.log(c1[2439] / c1[999])
    assert new == pytest.approx(-old, rel=1e-9, abs=1e-12)
    assert rec.hints["new_drift"] == pytest.approx(-rec.hints["old_drift"])
    # the noise is kept: returns move by one constant
    diff = log_ret(out)[999:2439] - log_ret(candles)[999:2439]
    assert np.allclose(diff, diff[0])
    out2, _ = apply_scenario("trend_reversal", candles, 0, start=1000, length=100, drift=0.001)
    assert np.log(out2["close"].iloc[1099] / out2["close"].iloc[999]) == pytest.approx(0.1)


def test_exchange_outage_leaves_a_gap_of_the_right_length(candles: pd.DataFrame) -> None:
    out, rec = apply_scenario("exchange_outage", candles, 0, start=700, length=45)
    assert len(out) == len(candles) - 45
    assert out.index.equals(pd.RangeIndex(len(out)))
    dts = np.diff(out["ts"].to_numpy())
    assert (dts == 60_000).sum() == len(out) - 2
    assert dts[699] == 46 * 60_000 == rec.hints["gap_ms"]
    assert out["ts"].iloc[700] == candles["ts"].iloc[745]


def test_funding_spike(funding: pd.DataFrame) -> None:
    before = funding.copy()
    out, rec = apply_scenario("funding_spike", funding, 0, start=2, count=3, level=0.01)
    pd.testing.assert_frame_equal(funding, before)
    assert (out["rate"].iloc[2:5] == 0.01).all()
    assert out["rate"].drop(index=[2, 3, 4]).equals(funding["rate"].drop(index=[2, 3, 4]))
    assert rec.end == 5 and rec.hints["level"] == 0.01
    neg, _ = apply_scenario("funding_spike", funding, 1, level=-0.02)
    assert (neg["rate"] == -0.02).sum() == 3


# --------------------------------------------------------------------------------------------- errors


def test_registry_and_kinds() -> None:
    assert set(SCENARIOS) == {
        "flash_crash",
        "liquidity_drought",
        "volatility_jump",
        "funding_spike",
        "exchange_outage",
        "trend_reversal",
        "pump_and_dump",
    }
    assert SCENARIO_KINDS["funding_spike"] is DataKind.FUNDING


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("flash_crash", {"depth": 0.0}, "depth"),
        ("flash_crash", {"depth": 1.0}, "depth"),
        ("flash_crash", {"depth": -0.1}, "depth"),
        ("flash_crash", {"depth": 1.5}, "depth"),
        ("flash_crash", {"depth": "deep"}, "depth"),
        ("flash_crash", {"duration": 0}, "duration"),
        ("flash_crash", {"rebound": 1.2}, "rebound"),
        ("flash_crash", {"start": 4305}, "beyond the series"),
        ("flash_crash", {"start": 0}, "beyond the series"),
        ("flash_crash", {"duration": 10_000}, "does not fit"),
        ("flash_crash", {"wobble": 1}, "no parameter"),
        ("liquidity_drought", {"volume_factor": 0.0}, "volume_factor"),
        ("liquidity_drought", {"spread_bps": -1}, "spread_bps"),
        ("volatility_jump", {"factor": 0}, "factor"),
        ("volatility_jump", {"length": 5000}, "does not fit"),
        ("exchange_outage", {"length": 0}, "length"),
        ("exchange_outage", {"start": 4310, "length": 10}, "beyond the series"),
        ("pump_and_dump", {"pump": 0}, "pump"),
        ("trend_reversal", {"drift": 2.0}, "drift"),
        ("nope", {}, "unknown scenario"),
    ],
)
def test_bad_parameters_raise_usage_errors(
    candles: pd.DataFrame, name: str, params: dict, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        apply_scenario(name, candles, 0, **params)


def test_bad_frames_raise_usage_errors(candles: pd.DataFrame, funding: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="lacks columns"):
        apply_scenario("flash_crash", candles.drop(columns=["low"]), 0)
    with pytest.raises(UsageError, match="lacks columns"):
        apply_scenario("funding_spike", candles, 0)
    with pytest.raises(UsageError, match="level"):
        apply_scenario("funding_spike", funding, 0, level=0.05)
    with pytest.raises(UsageError, match="rows"):
        apply_scenario("flash_crash", candles.iloc[:2], 0)
    bad = candles.copy()
    bad.loc[3, "close"] = 0.0
    with pytest.raises(UsageError, match="> 0"):
        apply_scenario("volatility_jump", bad, 0)
    with pytest.raises(UsageError, match="DataFrame"):
        apply_scenario("flash_crash", candles.to_numpy(), 0)
