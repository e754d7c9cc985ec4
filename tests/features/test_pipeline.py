"""FeatureSet: batch values, the incremental twin, causality, bad input, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from autoperp.core.errors import FormatError, ValidationError
from autoperp.features import FeatureSet, compute, log_returns, realised_vol
from autoperp.features.rolling import RESUM_MIN
from tests.features.random_bars import random_bars

SMALL = FeatureSet(
    return_horizons=(1, 3),
    vol_windows=(5, 20),
    trade_count_window=10,
    funding_z_window=15,
    book=True,
)


def test_names_match_compute_keys() -> None:
    fs = FeatureSet(book=True)
    out = fs.compute(random_bars(2000, book=True))
    assert tuple(out) == fs.names()
    assert all(len(v) == 2000 for v in out.values())
    assert "rvol_1440" in out and "funding_z_4320" in out


def test_default_compute_values() -> None:
    bars = random_bars(3000)
    out = compute(bars)
    np.testing.assert_array_equal(out["logret_5"], log_returns(bars["close"], 5))
    np.testing.assert_array_equal(out["rvol_240"], realised_vol(bars["close"], 240))
    assert np.isnan(out["rvol_240"][:240]).all() and np.isfinite(out["rvol_240"][240:]).all()
    np.testing.assert_allclose(out["basis"], bars["mark"] / bars["close"] - 1.0)


def test_incremental_equals_batch_on_5000_bars() -> None:
    fs = FeatureSet(vol_windows=(30, 240, 1440), trade_count_window=300, funding_z_window=1000, book=True)
    bars = random_bars(5000, seed=7, book=True)
    bars["close"][2500] = np.nan  # a missing close poisons the windows that hold it, in both twins
    batch = fs.compute(bars)
    online = fs.online()
    names = fs.names()
    got = {k: np.empty(5000) for k in names}
    for i in range(5000):
        row = online.update({k: float(v[i]) for k, v in bars.items()})
        assert tuple(row) == names
        for k in names:
            got[k][i] = row[k]
    for k in names:
        np.testing.assert_allclose(got[k], batch[k], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=k)
        assert np.isfinite(batch[k]).sum() > 1000, k  # the comparison covers real values, not only NaN
    assert np.isnan(batch["rvol_30"][2500:2531]).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(30, 2 * RESUM_MIN + 50),
    seed=st.integers(0, 2**31 - 1),
    cut=st.floats(0.0, 1.0),
)
def test_values_at_t_ignore_everything_after_t(n: int, seed: int, cut: float) -> None:
    t = min(int(cut * n), n - 1)
    bars = random_bars(n, seed, book=True)
    full = SMALL.compute(bars)
    truncated = SMALL.compute({k: v[: t + 1] for k, v in bars.items()})
    other = random_bars(n, seed + 1, book=True)
    changed = SMALL.compute({k: np.r_[v[: t + 1], other[k][t + 1 :]] for k, v in bars.items()})
    for k in SMALL.names():
        np.testing.assert_allclose(truncated[k], full[k][: t + 1], rtol=1e-12, equal_nan=True, err_msg=k)
        np.testing.assert_allclose(
            changed[k][: t + 1], full[k][: t + 1], rtol=1e-12, equal_nan=True, err_msg=k
        )


def test_mismatched_length_names_the_field() -> None:
    bars = random_bars(100)
    bars["trades"] = bars["trades"][:99]
    with pytest.raises(ValidationError, match=r"field 'trades'.*length 99") as err:
        FeatureSet().compute(bars)
    assert err.value.field == "trades"
    bars = random_bars(100)
    bars["ts"] = bars["ts"][1:]
    with pytest.raises(ValidationError, match="field 'ts'"):
        FeatureSet().compute(bars)


def test_missing_input_and_bad_price_name_the_field() -> None:
    bars = random_bars(100)
    del bars["mark"]
    with pytest.raises(FormatError, match="field 'mark'"):
        FeatureSet().compute(bars)
    assert "mark" not in FeatureSet(basis=False).compute(bars)
    bars = random_bars(100)
    bars["close"][41] = -1.0
    with pytest.raises(ValidationError, match="row 42: field 'close'"):
        FeatureSet().compute(bars)


def test_online_bad_bar_names_the_field() -> None:
    online = FeatureSet().online()
    bar = {k: float(v[0]) for k, v in random_bars(1).items()}
    online.update(bar)
    with pytest.raises(FormatError, match="row 2: field 'volume'"):
        online.update({k: v for k, v in bar.items() if k != "volume"})
    with pytest.raises(ValidationError, match="field 'mark'"):
        online.update(bar | {"mark": 0.0})


def test_config_rejects_bad_windows() -> None:
    with pytest.raises(PydanticValidationError):
        FeatureSet(vol_windows=(30, 30))
    with pytest.raises(PydanticValidationError):
        FeatureSet(return_horizons=(0,))
    with pytest.raises(PydanticValidationError):
        FeatureSet(funding_z_window=1)


def test_speed_one_million_bars(capsys: pytest.CaptureFixture[str]) -> None:
    fs = FeatureSet(book=True)
    fs.compute(random_bars(5000, book=True))  # compile first
    bars = random_bars(1_000_000, book=True)
    t0 = time.perf_counter()
    out = fs.compute(bars)
    dt = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\nfeatures: {len(out)} features x 1,000,000 bars in {dt:.3f} s")
    assert np.isfinite(out["rvol_1440"][-1])
    fractal = FeatureSet(
        flow=False, funding=False, basis=False, return_horizons=(), vol_windows=(), fractal=True
    )
    part = {"close": bars["close"][:200_000]}
    fractal.compute({"close": part["close"][:2000]})  # compile first
    t0 = time.perf_counter()
    out = fractal.compute(part)
    dt = time.perf_counter() - t0
    with capsys.disabled():
        print(f"features: Hurst + MF-DFA width (window 480, every bar) x 200,000 bars in {dt:.3f} s")
    assert np.isfinite(out["hurst_480"][-1])
