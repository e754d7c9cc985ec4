"""Purged k-fold with embargo and combinatorial purged cross-validation (CPCV).

After López de Prado, "Advances in Financial Machine Learning" (2018), ch. 7 and 12. Sample i is a labelled
event spanning the closed interval ``[t0[i], t1[i]]`` (e.g. int64 ms UTC: the bar it is decided on and the
bar its label is last known); ``t0`` must be non-decreasing and ``t1 >= t0``. Test sets are made of
contiguous groups of samples. A training sample is **purged** when its interval overlaps a test sample's
interval, and **embargoed** when it starts within ``embargo`` (same units as the times) after a test sample
ends: formally, train i is dropped iff ``[t0_i, t1_i]`` intersects ``[t0_j, t1_j + embargo]`` for some test j.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from autoperp.metrics.inputs import MetricsInputError

Split = tuple[np.ndarray, np.ndarray]


def check_event_times(t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(t0, t1)`` as 1-D arrays of equal length with ``t0`` non-decreasing and ``t1 >= t0``."""
    a, b = np.asarray(t0), np.asarray(t1)
    if a.ndim != 1 or a.shape != b.shape:
        raise MetricsInputError(f"t0 and t1 must be 1-D of equal length, got {a.shape} and {b.shape}")
    if a.dtype.kind == "f" and not (np.isfinite(a).all() and np.isfinite(b).all()):
        i = int(np.argmin(np.isfinite(a) & np.isfinite(b)))
        raise MetricsInputError(f"event times are not finite at index {i}")
    dec = np.flatnonzero(a[1:] < a[:-1])
    if dec.size:
        raise MetricsInputError(
            f"t0 must be sorted: index {int(dec[0]) + 1} starts before index {int(dec[0])}"
        )
    neg = np.flatnonzero(b < a)
    if neg.size:
        raise MetricsInputError(f"event {int(neg[0])} ends (t1) before it starts (t0)")
    return a, b


def purged_train_mask(
    t0: np.ndarray, t1: np.ndarray, test_ranges: list[tuple[int, int]], embargo: float = 0
) -> np.ndarray:
    """Boolean mask of samples usable for training against test groups given as index ranges ``[a, b)``.

    Test samples themselves are excluded; the rest are purged and embargoed as the module says.
    Vectorised over samples; loops only over the (few) test groups.
    """
    n = t0.shape[0]
    keep = np.ones(n, dtype=bool)
    for a, b in test_ranges:
        if b <= a:
            continue
        keep[a:b] = False
        start = t0[a]
        end = t1[a:b].max() + embargo
        keep &= ~((t0 <= end) & (t1 >= start))
    return keep


def _groups(n: int, k: int) -> list[tuple[int, int]]:
    if k < 2 or k > n:
        raise MetricsInputError(f"cannot cut {n} samples into {k} groups (need 2 <= groups <= samples)")
    edges = np.linspace(0, n, k + 1).astype(np.int64)  # sizes differ by at most 1
    return [(int(edges[i]), int(edges[i + 1])) for i in range(k)]


def purged_kfold_splits(t0: np.ndarray, t1: np.ndarray, n_splits: int = 5, embargo: float = 0) -> list[Split]:
    """k contiguous test folds in sample order; each train set is every other sample, purged and embargoed.

    Returns ``(train_indices, test_indices)`` per fold (int64 arrays, sorted).
    """
    a, b = check_event_times(t0, t1)
    out: list[Split] = []
    for lo, hi in _groups(a.shape[0], n_splits):
        train = np.flatnonzero(purged_train_mask(a, b, [(lo, hi)], embargo))
        out.append((train, np.arange(lo, hi, dtype=np.int64)))
    return out


def n_backtest_paths(n_groups: int, n_test_groups: int) -> int:
    """φ(N, k) = k/N · C(N, k): number of complete backtest paths CPCV yields (= C(N-1, k-1))."""
    if not 0 < n_test_groups < n_groups:
        raise MetricsInputError(f"need 0 < k < N, got N={n_groups}, k={n_test_groups}")
    return math.comb(n_groups - 1, n_test_groups - 1)


@dataclass(frozen=True)
class CPCVSplits:
    """Combinatorial purged CV over N groups with k test groups.

    ``splits``: C(N, k) pairs ``(train_indices, test_indices)``. ``test_groups``: C(N, k)×k array, the group
    ids tested by each split. ``paths``: φ×N array; ``paths[p, g]`` is the split whose prediction of group g
    forms part of backtest path p (each split serves k paths, each (split, group) pair exactly once).
    ``group_ranges``: ``[a, b)`` sample range of each group.
    """

    splits: list[Split]
    test_groups: np.ndarray
    paths: np.ndarray
    group_ranges: list[tuple[int, int]]

    @property
    def n_paths(self) -> int:
        return int(self.paths.shape[0])


def combinatorial_purged_cv(
    t0: np.ndarray, t1: np.ndarray, n_groups: int = 6, n_test_groups: int = 2, embargo: float = 0
) -> CPCVSplits:
    """CPCV: every choice of ``n_test_groups`` of the ``n_groups`` contiguous groups is one test set; the
    other groups, purged and embargoed against each test group, train. Paths are assembled so that path p
    takes, for each group, the p-th split (in split order) that tests it."""
    a, b = check_event_times(t0, t1)
    n_paths = n_backtest_paths(n_groups, n_test_groups)
    ranges = _groups(a.shape[0], n_groups)
    combos = np.array(list(itertools.combinations(range(n_groups), n_test_groups)), dtype=np.int64)
    splits: list[Split] = []
    for c in combos:
        test_ranges = [ranges[g] for g in c]
        train = np.flatnonzero(purged_train_mask(a, b, test_ranges, embargo))
        test = np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in test_ranges])
        splits.append((train, test))
    paths = np.empty((n_paths, n_groups), dtype=np.int64)
    for g in range(n_groups):
        paths[:, g] = np.flatnonzero((combos == g).any(axis=1))
    return CPCVSplits(splits, combos, paths, ranges)
