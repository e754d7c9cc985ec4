"""PBO by CSCV: pure noise overfits about half the time, a planted edge almost never; brute-force check."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from autoperp.metrics import MetricsInputError, probability_of_backtest_overfitting


def _brute_force(m: np.ndarray, s: int) -> np.ndarray:
    rows = m.shape[0] // s
    blocks = [m[i * rows : (i + 1) * rows] for i in range(s)]
    n = m.shape[1]
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        is_ = np.vstack([blocks[i] for i in combo])
        oos = np.vstack([blocks[i] for i in range(s) if i not in combo])
        sr_is = is_.mean(axis=0) / is_.std(axis=0, ddof=1)
        sr_oos = oos.mean(axis=0) / oos.std(axis=0, ddof=1)
        best = int(np.argmax(sr_is))
        rank = 1 + int(np.sum(sr_oos < sr_oos[best]))  # no ties on continuous data
        w = rank / (n + 1)
        logits.append(np.log(w / (1 - w)))
    return np.array(logits)


def test_matches_brute_force() -> None:
    m = np.random.default_rng(0).normal(0, 0.01, (240, 7))
    res = probability_of_backtest_overfitting(m, 8)
    want = _brute_force(m, 8)
    np.testing.assert_allclose(res.logits, want, rtol=1e-9)
    assert res.pbo == pytest.approx(np.mean(want <= 0))
    assert res.n_splits == 70 and res.n_trials == 7


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pure_noise_overfits_about_half_the_time(seed: int) -> None:
    m = np.random.default_rng(seed).normal(0, 0.01, (2000, 50))
    res = probability_of_backtest_overfitting(m, 16)
    assert 0.3 <= res.pbo <= 0.8
    assert res.n_splits == 12_870


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_edge_is_not_overfit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 0.01, (2000, 50))
    m[:, 17] += 0.002  # per-period Sharpe 0.2 against noise
    res = probability_of_backtest_overfitting(m, 16)
    assert res.pbo < 0.1
    assert np.mean(res.selected == 17) > 0.9
    assert res.prob_oos_loss < 0.1


def test_diagnostics_shapes_and_ranges() -> None:
    res = probability_of_backtest_overfitting(np.random.default_rng(9).normal(0, 1, (400, 10)), 10)
    k = res.n_splits
    assert k == 252
    for arr in (res.logits, res.relative_ranks, res.is_performance, res.oos_performance, res.selected):
        assert arr.shape == (k,)
    assert ((res.relative_ranks > 0) & (res.relative_ranks < 1)).all()
    assert (res.is_performance >= res.oos_performance).mean() > 0.5  # selection bias shows IS > OOS
    assert np.isfinite(res.degradation_slope)


def test_bad_inputs() -> None:
    m = np.zeros((100, 5))
    with pytest.raises(MetricsInputError, match="even"):
        probability_of_backtest_overfitting(m, 5)
    with pytest.raises(MetricsInputError, match="2 trials"):
        probability_of_backtest_overfitting(m[:, :1], 4)
    with pytest.raises(MetricsInputError, match="blocks"):
        probability_of_backtest_overfitting(m[:10], 16)
    m[42, 3] = np.nan
    with pytest.raises(ValueError, match=r"\(42, 3\)"):
        probability_of_backtest_overfitting(m, 4)
