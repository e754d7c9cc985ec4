"""Each kernel against a hand computation or a pandas reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoperp.features import (
    book_imbalance,
    funding_ffill,
    funding_zscore,
    log_returns,
    mark_basis,
    ratio_to_mean,
    realised_vol,
    relative_spread,
    rolling_sum,
    rolling_zscore,
    signed_volume,
    taker_buy_share,
)
from autoperp.features.rolling import RESUM_MIN, RollingSum, RollingZScore


def test_log_returns_by_hand() -> None:
    c = np.array([100.0, 110.0, 99.0, 121.0])
    r2 = log_returns(c, 2)
    assert np.isnan(r2[:2]).all()
    assert r2[2] == pytest.approx(math.log(99.0 / 100.0))
    assert r2[3] == pytest.approx(math.log(121.0 / 110.0))
    assert np.isnan(log_returns(c, 5)).all()


def test_realised_vol_against_pandas() -> None:
    rng = np.random.default_rng(1)
    c = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 3000)))
    r = pd.Series(np.log(c)).diff()
    want = np.sqrt((r**2).rolling(30).sum()).to_numpy()
    got = realised_vol(c, 30)
    assert np.isnan(got[:30]).all()
    np.testing.assert_allclose(got[30:], want[30:], rtol=1e-10)


def test_rolling_sum_matches_pandas_past_many_resums() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(1e6, 1.0, 20 * RESUM_MIN)
    got = rolling_sum(x, 7)
    want = pd.Series(x).rolling(7).sum().to_numpy()
    assert np.isnan(got[:6]).all()
    np.testing.assert_allclose(got[6:], want[6:], rtol=1e-12)


def test_rolling_sum_nan_poisons_only_its_windows() -> None:
    x = np.arange(10, dtype=np.float64)
    x[4] = np.nan
    got = rolling_sum(x, 3)
    assert np.isnan(got[:2]).all()
    assert got[2:4].tolist() == [0 + 1 + 2, 1 + 2 + 3]
    assert np.isnan(got[4:7]).all()
    assert got[7:].tolist() == [5 + 6 + 7, 6 + 7 + 8, 7 + 8 + 9]


def test_rolling_zscore_against_pandas() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(2e-4, 1e-4, 5000)
    s = pd.Series(x).rolling(100)
    want = ((pd.Series(x) - s.mean()) / s.std()).to_numpy()
    got = rolling_zscore(x, 100)
    assert np.isnan(got[:99]).all()
    np.testing.assert_allclose(got[99:], want[99:], rtol=1e-7, atol=1e-9)


def test_rolling_zscore_constant_window_is_zero() -> None:
    x = np.r_[np.full(50, 3e-4), np.full(50, 1e-4)]
    got = rolling_zscore(x, 10)
    assert (got[9:50] == 0.0).all()
    assert (got[59:] == 0.0).all()
    assert got[50] > 0.0 or got[50] < 0.0


def test_flow_by_hand() -> None:
    vol = np.array([10.0, 0.0, 4.0])
    tb = np.array([7.0, 0.0, 1.0])
    share = taker_buy_share(vol, tb)
    assert share[0] == pytest.approx(0.7)
    assert np.isnan(share[1])
    assert share[2] == pytest.approx(0.25)
    assert signed_volume(vol, tb).tolist() == [4.0, 0.0, -2.0]
    trades = np.array([10.0, 20.0, 30.0, 0.0, 0.0, 0.0])
    rel = ratio_to_mean(trades, 3)
    assert np.isnan(rel[:2]).all()
    assert rel[2] == pytest.approx(30.0 / 20.0)
    assert rel[3] == pytest.approx(0.0)
    assert np.isnan(rel[5])  # a zero mean has no ratio


def test_funding_ffill_and_zscore() -> None:
    f = np.array([np.nan, 1e-4, np.nan, np.nan, -2e-4, np.nan])
    ff = funding_ffill(f)
    assert np.isnan(ff[0])
    assert ff[1:].tolist() == [1e-4, 1e-4, 1e-4, -2e-4, -2e-4]
    z = funding_zscore(f, 3)
    assert np.isnan(z[:3]).all()  # the window still holds the bar before the first settlement
    s = pd.Series(ff).rolling(3)
    want = ((pd.Series(ff) - s.mean()) / s.std()).to_numpy()
    np.testing.assert_allclose(z[4:], want[4:], rtol=1e-9)
    assert z[3] == 0.0


def test_basis_and_book_by_hand() -> None:
    assert mark_basis(np.array([101.0]), np.array([100.0]))[0] == pytest.approx(0.01)
    imb = book_imbalance(np.array([3.0, 0.0]), np.array([1.0, 0.0]))
    assert imb[0] == pytest.approx(0.5)
    assert np.isnan(imb[1])
    deep = book_imbalance(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]]))
    assert deep[0] == pytest.approx(0.5)
    assert relative_spread(np.array([99.0]), np.array([101.0]))[0] == pytest.approx(0.02)


@pytest.mark.parametrize("window", [1, 5, 300])
def test_online_rolling_twins_equal_batch(window: int) -> None:
    rng = np.random.default_rng(window)
    x = rng.normal(5e-4, 1e-4, 3 * RESUM_MIN + 17)
    x[rng.random(len(x)) < 0.005] = np.nan
    rs, rz = RollingSum(window), RollingZScore(max(window, 2))
    got_s = np.array([rs.update(float(v)) for v in x])
    got_z = np.array([rz.update(float(v)) for v in x])
    np.testing.assert_allclose(got_s, rolling_sum(x, window), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got_z, rolling_zscore(x, max(window, 2)), rtol=1e-9, equal_nan=True)


def test_zscore_window_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        rolling_zscore(np.ones(5), 1)
