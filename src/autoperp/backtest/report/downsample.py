"""Thinning long series for the browser without hiding what matters.

A line keeps, per bucket of consecutive points, its lowest and highest point (so a one-bar spike or a
liquidation wick survives), plus the first and last point. Markers are thinned evenly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["evenly_spaced", "minmax_indices"]


def minmax_indices(y: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted indices of ``y`` to draw: all of them when ``len(y) <= max_points``, else at most
    ``max_points``: each bucket's argmin and argmax, and the two ends. NaN never wins a bucket."""
    n = int(y.shape[0])
    if n <= max_points:
        return np.arange(n)
    buckets = max((max_points - 2) // 2, 1)
    size = -(-n // buckets)  # ceil: the padded tail is shorter than one bucket
    pad = buckets * size - n
    lo = np.concatenate((np.where(np.isnan(y), np.inf, y), np.full(pad, np.inf))).reshape(buckets, size)
    hi = np.concatenate((np.where(np.isnan(y), -np.inf, y), np.full(pad, -np.inf))).reshape(buckets, size)
    base = np.arange(buckets) * size
    picks = np.concatenate(([0, n - 1], base + lo.argmin(axis=1), base + hi.argmax(axis=1)))
    return np.unique(np.minimum(picks, n - 1))


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` indices spread evenly over ``0..n-1`` (first and last included)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))
