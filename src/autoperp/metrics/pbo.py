"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

After Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting" (J. of Computational
Finance, 2017). The T×N matrix M holds the per-period returns of N trials (strategy configurations) over the
same T periods. Its rows are cut into S contiguous, equal blocks (the last T mod S rows are dropped). For each
of the C(S, S/2) ways of taking half the blocks as in-sample (IS), the rest being out-of-sample (OOS):

- every trial's performance (per-period Sharpe, ddof=1) is measured IS and OOS;
- n* = the best trial IS; ω = its OOS rank among the N (1 = worst, N = best, ties averaged) / (N + 1);
- λ = log(ω / (1 - ω)).

PBO = share of combinations with λ <= 0 (the IS winner is at or below the OOS median).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from autoperp.metrics.inputs import MetricsInputError, as_float_array


@dataclass(frozen=True)
class PBOResult:
    """CSCV output. Arrays have one entry per combination (C(S, S/2) of them).

    ``pbo``: share of logits <= 0. ``logits``: λ per combination. ``relative_ranks``: ω per combination.
    ``is_performance`` / ``oos_performance``: per-period Sharpe of the IS-selected trial, IS and OOS.
    ``selected``: index of the IS-selected trial per combination.
    ``degradation_slope`` / ``degradation_intercept``: least-squares fit OOS ≈ a + b·IS over combinations
    (b < 0: the better it looks IS, the worse OOS). ``prob_oos_loss``: share of combinations whose selected
    trial has a negative OOS Sharpe. ``mean_logit``: mean λ.
    """

    pbo: float
    logits: np.ndarray
    relative_ranks: np.ndarray
    is_performance: np.ndarray
    oos_performance: np.ndarray
    selected: np.ndarray
    degradation_slope: float
    degradation_intercept: float
    prob_oos_loss: float
    mean_logit: float
    n_splits: int
    n_trials: int


def _sharpe_from_sums(s: np.ndarray, s2: np.ndarray, n: int) -> np.ndarray:
    mean = s / n
    var = np.maximum((s2 - n * mean * mean) / (n - 1), 0.0)
    sd = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), 0.0)
    return np.asarray(out, dtype=np.float64)


def probability_of_backtest_overfitting(trial_returns: np.ndarray, n_partitions: int = 16) -> PBOResult:
    """PBO of a T×N matrix of per-period trial returns with S = ``n_partitions`` blocks (even, >= 2).

    Fully vectorised: block sums are combined by one matrix product per moment. S = 16 gives 12 870
    combinations. Needs N >= 2 trials and at least 2 rows per block. A trial with zero variance on a half
    scores Sharpe 0 there.
    """
    m = as_float_array(trial_returns, "trial_returns", ndim=2)
    t, n = m.shape
    s = int(n_partitions)
    if s < 2 or s % 2:
        raise MetricsInputError(f"n_partitions must be an even number >= 2, got {n_partitions}")
    if n < 2:
        raise MetricsInputError(f"PBO needs at least 2 trials (columns), got {n}")
    rows = t // s
    if rows < 2:
        raise MetricsInputError(f"{t} rows cannot be cut into {s} blocks of at least 2 rows")
    blocks = m[: rows * s].reshape(s, rows, n)
    b1 = blocks.sum(axis=1)  # S×N
    b2 = (blocks * blocks).sum(axis=1)
    combos = np.array(list(itertools.combinations(range(s), s // 2)), dtype=np.intp)
    ind = np.zeros((combos.shape[0], s), dtype=np.float64)
    np.put_along_axis(ind, combos, 1.0, axis=1)
    half = rows * (s // 2)
    is1, is2 = ind @ b1, ind @ b2
    oos1, oos2 = b1.sum(axis=0) - is1, b2.sum(axis=0) - is2
    sr_is = _sharpe_from_sums(is1, is2, half)
    sr_oos = _sharpe_from_sums(oos1, oos2, half)
    sel = np.argmax(sr_is, axis=1)
    k = np.arange(combos.shape[0])
    chosen = sr_oos[k, sel]
    below = (sr_oos < chosen[:, None]).sum(axis=1)
    ties = (sr_oos == chosen[:, None]).sum(axis=1)  # includes the chosen itself
    rank = below + (ties + 1) / 2.0  # average rank, 1 = worst
    omega = rank / (n + 1)
    logits = np.log(omega / (1 - omega))
    chosen_is = sr_is[k, sel]
    if np.ptp(chosen_is) > 0:
        fit = stats.linregress(chosen_is, chosen)
        slope, intercept = float(fit.slope), float(fit.intercept)
    else:
        slope, intercept = math.nan, math.nan
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        relative_ranks=omega,
        is_performance=chosen_is,
        oos_performance=chosen,
        selected=sel,
        degradation_slope=slope,
        degradation_intercept=intercept,
        prob_oos_loss=float(np.mean(chosen < 0)),
        mean_logit=float(np.mean(logits)),
        n_splits=int(combos.shape[0]),
        n_trials=n,
    )
