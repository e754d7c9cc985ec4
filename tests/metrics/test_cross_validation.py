"""Purged k-fold, embargo, CPCV and walk-forward splits, checked by brute force on random intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoperp.metrics import (
    MetricsInputError,
    combinatorial_purged_cv,
    n_backtest_paths,
    purged_kfold_splits,
    walk_forward_splits,
)


def _random_events(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t0 = np.sort(rng.integers(0, 10 * n, n))
    t1 = t0 + rng.integers(0, 40, n)
    return t0, t1


def _brute_train(t0: np.ndarray, t1: np.ndarray, test: np.ndarray, embargo: int) -> np.ndarray:
    keep = []
    test_set = set(test.tolist())
    for i in range(len(t0)):
        if i in test_set:
            continue
        clash = any(t0[i] <= t1[j] + embargo and t1[i] >= t0[j] for j in test)
        if not clash:
            keep.append(i)
    return np.array(keep, dtype=np.int64)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 120), k=st.integers(2, 6), embargo=st.integers(0, 30))
def test_purged_kfold_matches_brute_force(seed: int, n: int, k: int, embargo: int) -> None:
    t0, t1 = _random_events(seed, n)
    splits = purged_kfold_splits(t0, t1, k, embargo=embargo)
    assert len(splits) == k
    np.testing.assert_array_equal(np.concatenate([te for _, te in splits]), np.arange(n))
    for train, test in splits:
        np.testing.assert_array_equal(train, _brute_train(t0, t1, test, embargo))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 90), embargo=st.integers(0, 30))
def test_cpcv_train_sets_match_brute_force(seed: int, n: int, embargo: int) -> None:
    t0, t1 = _random_events(seed, n)
    cv = combinatorial_purged_cv(t0, t1, 5, 2, embargo=embargo)
    for train, test in cv.splits:
        np.testing.assert_array_equal(train, _brute_train(t0, t1, test, embargo))


def test_embargo_only_drops_samples_after_the_test_set() -> None:
    t0 = np.arange(100)
    t1 = t0.copy()  # point events: nothing to purge
    (train0, _), (train1, test1), *_ = purged_kfold_splits(t0, t1, 5, embargo=3)
    np.testing.assert_array_equal(train0, np.arange(23, 100))
    np.testing.assert_array_equal(test1, np.arange(20, 40))
    np.testing.assert_array_equal(train1, np.concatenate([np.arange(0, 20), np.arange(43, 100)]))


@pytest.mark.parametrize(
    ("n", "k", "splits", "paths"), [(6, 2, 15, 5), (10, 2, 45, 9), (6, 3, 20, 10), (8, 4, 70, 35)]
)
def test_cpcv_path_counts(n: int, k: int, splits: int, paths: int) -> None:
    assert n_backtest_paths(n, k) == paths == k * math.comb(n, k) // n
    t = np.arange(10 * n)
    cv = combinatorial_purged_cv(t, t + 2, n, k)
    assert len(cv.splits) == splits and cv.n_paths == paths
    assert cv.paths.shape == (paths, n)
    # every (split, tested group) pair is used by exactly one path; each path covers every group once
    used = {(int(cv.paths[p, g]), g) for p in range(paths) for g in range(n)}
    want = {(s, int(g)) for s in range(splits) for g in cv.test_groups[s]}
    assert used == want and len(used) == paths * n
    # each path's test sets tile the whole sample
    for p in range(paths):
        idx = np.concatenate(
            [np.arange(*cv.group_ranges[g]) for g in range(n) if g in cv.test_groups[cv.paths[p, g]]]
        )
        np.testing.assert_array_equal(np.sort(idx), np.arange(10 * n))


def test_bad_event_times() -> None:
    with pytest.raises(MetricsInputError, match="sorted"):
        purged_kfold_splits(np.array([0, 2, 1, 3]), np.array([0, 2, 1, 3]), 2)
    with pytest.raises(MetricsInputError, match="ends"):
        purged_kfold_splits(np.array([0, 1, 2, 3]), np.array([0, 0, 2, 3]), 2)
    with pytest.raises(MetricsInputError):
        n_backtest_paths(5, 5)


def test_walk_forward_rolling_and_anchored() -> None:
    roll = walk_forward_splits(100, train_size=30, test_size=10, gap=2)
    assert len(roll) == 6
    np.testing.assert_array_equal(roll[0][0], np.arange(0, 30))
    np.testing.assert_array_equal(roll[0][1], np.arange(32, 42))
    np.testing.assert_array_equal(roll[-1][0], np.arange(50, 80))
    np.testing.assert_array_equal(roll[-1][1], np.arange(82, 92))
    anch = walk_forward_splits(100, train_size=30, test_size=10, anchored=True, step=20)
    assert [len(tr) for tr, _ in anch] == [30, 50, 70, 90]
    assert all(tr[0] == 0 and tr[-1] < te[0] for tr, te in anch)
    with pytest.raises(MetricsInputError):
        walk_forward_splits(20, train_size=15, test_size=10)


def test_walk_forward_purges_with_event_times() -> None:
    t0 = np.arange(60)
    t1 = t0 + 5  # labels look 5 samples ahead
    splits = walk_forward_splits(60, train_size=20, test_size=10, t0=t0, t1=t1, embargo=0)
    for train, test in splits:
        np.testing.assert_array_equal(train, np.intersect1d(train, _brute_train(t0, t1, test, 0)))
        assert train[-1] == test[0] - 6
