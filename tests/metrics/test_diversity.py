"""Strategy diversity: correlations and the effective number of independent strategies."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.metrics import MetricsInputError, strategy_diversity


def test_independent_strategies_count_fully() -> None:
    m = np.random.default_rng(0).normal(size=(20_000, 8))
    d = strategy_diversity(m)
    assert d.effective_n == pytest.approx(8, rel=0.01)
    assert d.effective_n_entropy == pytest.approx(8, rel=0.01)
    assert abs(d.mean_correlation) < 0.01 and d.max_correlation < 0.05


def test_copies_count_once() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(5000, 2))
    m = np.hstack([base[:, :1]] * 3 + [base[:, 1:]] * 3 + [base[:, :1] * 2])
    d = strategy_diversity(m)
    assert d.effective_n == pytest.approx(49 / 25, rel=0.02)  # eigenvalues ≈ 4 and 3: 49 / 25
    assert d.max_correlation == pytest.approx(1.0)


def test_matches_numpy_reference() -> None:
    m = np.random.default_rng(2).normal(size=(300, 6)) @ np.random.default_rng(3).normal(size=(6, 6))
    d = strategy_diversity(m)
    c = np.corrcoef(m.T)
    off = c[~np.eye(6, dtype=bool)]
    lam = np.linalg.eigvalsh(c)
    assert d.mean_correlation == pytest.approx(off.mean())
    assert d.max_correlation == pytest.approx(off.max())
    assert d.effective_n == pytest.approx(36 / np.sum(lam**2))


def test_bad_inputs() -> None:
    with pytest.raises(MetricsInputError, match="constant"):
        strategy_diversity(np.c_[np.ones(10), np.arange(10.0)])
    one = strategy_diversity(np.arange(10.0)[:, None])
    assert one.effective_n == 1.0
