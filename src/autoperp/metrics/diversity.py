"""Strategy diversity from a T×N matrix of per-period strategy returns (columns = strategies).

Effective number of independent strategies: the **participation ratio of the eigenvalues** λ of the
correlation matrix, ``(Σλ)² / Σλ² = N² / Σλ²`` (N for uncorrelated strategies, 1 for perfectly correlated
ones). Also given: the entropy form ``exp(-Σ p log p)`` with ``p = λ / N`` (Roy & Vetterli's effective rank).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoperp.metrics.inputs import MetricsInputError, as_float_array


@dataclass(frozen=True)
class Diversity:
    """``mean_correlation`` / ``max_correlation``: mean and max of the off-diagonal Pearson correlations.
    ``effective_n``: eigenvalue participation ratio. ``effective_n_entropy``: exponential of the eigenvalue
    entropy. ``correlation``: the N×N matrix."""

    n_strategies: int
    mean_correlation: float
    max_correlation: float
    effective_n: float
    effective_n_entropy: float
    correlation: np.ndarray


def strategy_diversity(returns: np.ndarray) -> Diversity:
    """:class:`Diversity` of the N columns of a T×N return matrix (T >= 2, N >= 1, no constant column)."""
    m = as_float_array(returns, "returns", ndim=2, min_len=2)
    n = m.shape[1]
    if n < 1:
        raise MetricsInputError("returns has no strategy columns")
    sd = m.std(axis=0)
    if (sd == 0).any():
        raise MetricsInputError(
            f"strategy {int(np.argmax(sd == 0))} has constant returns: correlation undefined"
        )
    corr = np.atleast_2d(np.corrcoef(m, rowvar=False))
    if n == 1:
        return Diversity(1, float("nan"), float("nan"), 1.0, 1.0, corr)
    off = corr[~np.eye(n, dtype=bool)]
    lam = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
    p = lam / lam.sum()
    nz = p[p > 0]
    return Diversity(
        n_strategies=n,
        mean_correlation=float(off.mean()),
        max_correlation=float(off.max()),
        effective_n=float(lam.sum() ** 2 / (lam * lam).sum()),
        effective_n_entropy=float(np.exp(-(nz * np.log(nz)).sum())),
        correlation=corr,
    )
