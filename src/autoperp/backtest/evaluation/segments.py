"""Out-of-sample segments of a history, from the walk-forward and CPCV splitters of ``autoperp.metrics``.

A rule strategy learns nothing from its training window, so what an evaluation simulates is each test
segment (a contiguous bar range) as its own account; the training windows only bound where testing may
start. A CPCV path strings one test segment per group together; with nothing trained every split tests
a group the same way, so the paths coincide (they differ once a model is refitted per split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoperp.backtest.evaluation.settings import EvaluationSettings, Scheme
from autoperp.core.errors import UsageError
from autoperp.metrics import combinatorial_purged_cv, walk_forward_splits
from autoperp.metrics.inputs import MetricsInputError

__all__ = ["Segments", "make_segments"]

#: Fewest bars a test segment may have: fewer cannot give a Sharpe ratio worth reading.
MIN_SEGMENT_BARS = 10


@dataclass(frozen=True)
class Segments:
    """``ranges``: test segments ``[start, stop)`` as bar indices, in time order. ``train``: the bar
    range each segment's training window covers (walk-forward; CPCV lists the first split testing the
    group). ``paths``: CPCV path × group → split id (one row for walk-forward)."""

    scheme: Scheme
    ranges: list[tuple[int, int]]
    train: list[tuple[int, int]]
    paths: np.ndarray
    n_splits: int

    @property
    def n_paths(self) -> int:
        return int(self.paths.shape[0])

    def oos_index(self) -> np.ndarray:
        """Every out-of-sample bar, in time order."""
        return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in self.ranges])


def make_segments(n_bars: int, ts: np.ndarray, settings: EvaluationSettings) -> Segments:
    """Cut ``n_bars`` bars (open times ``ts``, ms) into test segments as ``settings`` say."""
    k = settings.folds
    try:
        if settings.scheme is Scheme.WALK_FORWARD:
            size = n_bars // (k + 1)
            if size < MIN_SEGMENT_BARS:
                raise UsageError(
                    f"{n_bars} bars cannot hold {k} walk-forward folds of at least {MIN_SEGMENT_BARS} bars "
                    "after a warm-up window: give more data or fewer --folds"
                )
            splits = walk_forward_splits(n_bars, train_size=size, test_size=size, anchored=settings.anchored)
            ranges = [(int(te[0]), int(te[-1]) + 1) for _, te in splits]
            train = [(int(tr[0]), int(tr[-1]) + 1) for tr, _ in splits]
            return Segments(settings.scheme, ranges, train, np.arange(len(ranges))[None, :], len(ranges))
        if n_bars // k < MIN_SEGMENT_BARS:
            raise UsageError(
                f"{n_bars} bars cannot hold {k} CPCV groups of at least {MIN_SEGMENT_BARS} bars: "
                "give more data or fewer --folds"
            )
        # each bar is one event whose outcome is known at the next bar: purge one bar either side
        t = np.asarray(ts, dtype=np.int64)
        t1 = np.concatenate((t[1:], t[-1:]))
        cv = combinatorial_purged_cv(t, t1, n_groups=k, n_test_groups=settings.test_groups)
    except MetricsInputError as e:
        raise UsageError(f"cannot cut the history into segments: {e}") from None
    first_split = [int(np.flatnonzero((cv.test_groups == g).any(axis=1))[0]) for g in range(k)]
    train = []
    for s in first_split:
        tr = cv.splits[s][0]
        train.append((int(tr[0]), int(tr[-1]) + 1) if tr.size else (0, 0))
    return Segments(settings.scheme, list(cv.group_ranges), train, cv.paths, len(cv.splits))
