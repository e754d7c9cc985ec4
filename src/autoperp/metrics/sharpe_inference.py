"""Probabilistic and Deflated Sharpe Ratios and the minimum track-record length.

After Bailey & López de Prado, "The Sharpe Ratio Efficient Frontier" (J. of Risk, 2012) and "The Deflated
Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality" (J. of Portfolio
Management, 2014). Every Sharpe ratio here is **per period** (not annualised: divide an annual SR by
sqrt(periods per year)), skewness is the third standardised moment and kurtosis is the **raw** fourth
standardised moment (3 for a normal distribution, not the excess 0).

    PSR(SR*) = Φ( (SR - SR*) · sqrt(T - 1) / sqrt(1 - γ3·SR + (γ4 - 1)/4 · SR²) )
    E[max SR of N trials] ≈ sqrt(V) · ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))     (γ: Euler–Mascheroni)
    DSR = PSR(E[max SR])
    MinTRL = 1 + (1 - γ3·SR + (γ4 - 1)/4 · SR²) · (Φ⁻¹(p) / (SR - SR*))²
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy import stats

from autoperp.metrics.inputs import MetricsInputError, as_float_array

EULER_MASCHERONI = 0.5772156649015329


@nb.njit(cache=True, nogil=True)
def _central_moments(r: np.ndarray) -> tuple[float, float, float, float]:
    """(mean, m2, m3, m4): mean and population central moments, two passes."""
    n = r.shape[0]
    mean = 0.0
    for i in range(n):
        mean += r[i]
    mean /= n
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    for i in range(n):
        d = r[i] - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    return mean, m2 / n, m3 / n, m4 / n


@dataclass(frozen=True)
class SharpeMoments:
    """Per-period Sharpe (ddof=1 std), skewness, raw kurtosis and the number of observations of a series."""

    sharpe: float
    skewness: float
    kurtosis: float
    n: int


def sharpe_moments(returns: np.ndarray) -> SharpeMoments:
    """:class:`SharpeMoments` of per-period returns (simple or log; the statistic is the same either way).

    Needs at least 3 observations and a non-zero standard deviation. Skewness and kurtosis are the
    population (biased) moment estimators, as in the papers.
    """
    r = as_float_array(returns, "returns", min_len=3)
    n = r.shape[0]
    mean, m2, m3, m4 = _central_moments(r)
    if m2 == 0:
        raise MetricsInputError("returns are constant: the Sharpe ratio and its moments are undefined")
    sd = math.sqrt(m2 * n / (n - 1))
    return SharpeMoments(mean / sd, m3 / m2**1.5, m4 / m2**2, int(n))


def _sr_std_factor(sharpe: float, skewness: float, kurtosis: float) -> float:
    v = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not v > 0:
        raise MetricsInputError(
            f"1 - skew·SR + (kurt-1)/4·SR² = {v:.4g} <= 0: kurtosis must be raw (normal = 3), not excess"
        )
    return math.sqrt(v)


def probabilistic_sharpe_ratio(
    sharpe: float, n: int, *, skewness: float = 0.0, kurtosis: float = 3.0, benchmark: float = 0.0
) -> float:
    """Probability that the true per-period Sharpe exceeds ``benchmark`` given an observed per-period
    ``sharpe`` over ``n`` observations with the given skewness and raw kurtosis."""
    if n < 2:
        raise MetricsInputError(f"PSR needs at least 2 observations, got {n}")
    z = (sharpe - benchmark) * math.sqrt(n - 1) / _sr_std_factor(sharpe, skewness, kurtosis)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(n_trials: int, sharpe_variance: float, *, mean_sharpe: float = 0.0) -> float:
    """Expected maximum of ``n_trials`` independent per-period Sharpe estimates whose variance across trials
    is ``sharpe_variance`` (per-period units²), under the null of mean ``mean_sharpe`` (0 by default).

    One trial has nothing to select: the result is ``mean_sharpe``.
    """
    if n_trials < 1:
        raise MetricsInputError(f"n_trials must be >= 1, got {n_trials}")
    if sharpe_variance < 0:
        raise MetricsInputError(f"sharpe_variance must be >= 0, got {sharpe_variance}")
    if n_trials == 1:
        return float(mean_sharpe)
    g = EULER_MASCHERONI
    q = (1 - g) * stats.norm.ppf(1 - 1 / n_trials) + g * stats.norm.ppf(1 - 1 / (n_trials * math.e))
    return float(mean_sharpe + math.sqrt(sharpe_variance) * q)


def deflated_sharpe_ratio(
    sharpe: float,
    n: int,
    *,
    n_trials: int,
    sharpe_variance: float,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """DSR: the PSR of the selected per-period ``sharpe`` against the expected maximum Sharpe of
    ``n_trials`` trials with cross-trial variance ``sharpe_variance`` (per-period units²)."""
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, n, skewness=skewness, kurtosis=kurtosis, benchmark=sr0)


def deflated_sharpe_from_trials(trial_returns: np.ndarray, selected: int | None = None) -> float:
    """DSR of one column of a T×N matrix of per-period trial returns (the best in-sample Sharpe when
    ``selected`` is None), with N = number of columns and the variance of the columns' Sharpe ratios."""
    m = as_float_array(trial_returns, "trial_returns", ndim=2, min_len=3)
    sd = m.std(axis=0, ddof=1)
    if (sd == 0).any():
        raise MetricsInputError(f"trial {int(np.argmax(sd == 0))} has constant returns")
    srs = m.mean(axis=0) / sd
    j = int(np.argmax(srs)) if selected is None else selected
    mom = sharpe_moments(m[:, j])
    var = float(srs.var(ddof=1)) if m.shape[1] > 1 else 0.0
    return deflated_sharpe_ratio(
        mom.sharpe,
        mom.n,
        n_trials=m.shape[1],
        sharpe_variance=var,
        skewness=mom.skewness,
        kurtosis=mom.kurtosis,
    )


def min_track_record_length(
    sharpe: float,
    *,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
    benchmark: float = 0.0,
    confidence: float = 0.95,
) -> float:
    """Observations needed for the per-period ``sharpe`` to exceed ``benchmark`` with probability
    ``confidence`` (inf when ``sharpe <= benchmark``)."""
    if not 0 < confidence < 1:
        raise MetricsInputError(f"confidence must be in (0, 1), got {confidence}")
    if sharpe <= benchmark:
        return math.inf
    f = _sr_std_factor(sharpe, skewness, kurtosis)
    return 1.0 + f**2 * (float(stats.norm.ppf(confidence)) / (sharpe - benchmark)) ** 2
