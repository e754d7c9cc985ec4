"""PSR / DSR / MinTRL: the published DSR example, Monte Carlo checks and scipy cross-checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from autoperp.metrics import (
    MetricsInputError,
    deflated_sharpe_from_trials,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    sharpe_moments,
)


def test_bailey_lopez_de_prado_2014_numeric_example() -> None:
    """The Deflated Sharpe Ratio (JPM 2014), numerical example: N = 100 trials, annualised variance of
    trial Sharpes 1/2, best annualised SR 2.5, 5 years of daily data (T = 1250, 250 days a year),
    skewness -3, kurtosis 10. The paper finds E[max SR] ≈ 0.1132 per day and DSR ≈ 0.9004."""
    sr = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(sr, 1250, n_trials=100, sharpe_variance=0.5 / 250, skewness=-3, kurtosis=10)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_psr_formula_and_normal_case() -> None:
    # normal returns: sqrt(1 - 0 + (3-1)/4 SR²) = sqrt(1 + SR²/2)
    sr, n = 0.1, 500
    want = stats.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 + sr**2 / 2))
    assert probabilistic_sharpe_ratio(sr, n) == pytest.approx(want)
    assert probabilistic_sharpe_ratio(0.05, 100, benchmark=0.05) == pytest.approx(0.5)
    with pytest.raises(MetricsInputError, match="raw"):
        probabilistic_sharpe_ratio(3.0, 100, kurtosis=0.0)  # excess kurtosis passed by mistake


def test_psr_matches_monte_carlo_coverage() -> None:
    """PSR(SR*) is P[true SR > SR*]: for a series whose true SR equals SR*, the PSR of its estimate is
    (close to) uniform, so P[PSR > 0.95] ≈ 5 %. Checked on skewed, fat-tailed returns."""
    rng = np.random.default_rng(11)
    n, sims = 400, 4000
    raw = rng.lognormal(0.0, 0.5, (sims, n))
    dist_mean = math.exp(0.125)
    dist_sd = math.sqrt((math.exp(0.25) - 1) * math.exp(0.25))
    true_sr = 0.05
    x = (raw - dist_mean) / dist_sd + true_sr  # per-period SR exactly 0.05
    skew = (math.exp(0.25) + 2) * math.sqrt(math.exp(0.25) - 1)
    kurt = math.exp(1.0) + 2 * math.exp(0.75) + 3 * math.exp(0.5) - 3
    est = x.mean(axis=1) / x.std(axis=1, ddof=1)
    psr = np.array(
        [probabilistic_sharpe_ratio(s, n, skewness=skew, kurtosis=kurt, benchmark=true_sr) for s in est]
    )
    assert np.mean(psr > 0.95) == pytest.approx(0.05, abs=0.015)
    assert np.mean(psr > 0.5) == pytest.approx(0.5, abs=0.04)


def test_expected_max_sharpe_matches_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    for n_trials in (10, 100, 1000):
        draws = rng.normal(0.0, 0.02, (2000, n_trials)).max(axis=1)
        assert expected_max_sharpe(n_trials, 0.02**2) == pytest.approx(draws.mean(), rel=0.03)
    assert expected_max_sharpe(1, 0.5) == 0.0


def test_sharpe_moments_match_scipy() -> None:
    r = np.random.default_rng(8).standard_t(5, 3000) * 0.01 + 0.001
    m = sharpe_moments(r)
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    assert m.skewness == pytest.approx(stats.skew(r))
    assert m.kurtosis == pytest.approx(stats.kurtosis(r, fisher=False))
    with pytest.raises(MetricsInputError, match="constant"):
        sharpe_moments(np.zeros(10))
    with pytest.raises(ValueError, match="index 2"):
        sharpe_moments(np.array([0.1, 0.2, np.nan, 0.3]))


def test_min_track_record_length_is_where_psr_reaches_confidence() -> None:
    sr, skew, kurt = 0.08, -0.5, 6.0
    trl = min_track_record_length(sr, skewness=skew, kurtosis=kurt, benchmark=0.02, confidence=0.95)
    psr = probabilistic_sharpe_ratio(sr, 2, skewness=skew, kurtosis=kurt, benchmark=0.02)
    assert psr < 0.95
    # PSR uses sqrt(n - 1); at n = MinTRL it equals the confidence exactly
    z = (sr - 0.02) * math.sqrt(trl - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert stats.norm.cdf(z) == pytest.approx(0.95)
    assert min_track_record_length(0.01, benchmark=0.02) == math.inf


def test_dsr_from_trials_penalises_many_trials() -> None:
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.01, (1000, 200))
    assert deflated_sharpe_from_trials(noise) < 0.95  # the best of 200 noise trials is not significant
    edge = noise[:, :1] + 0.003
    assert deflated_sharpe_from_trials(np.hstack([edge, noise[:, :5]]), selected=0) > 0.99
