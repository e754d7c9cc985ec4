"""Walk-forward splits: anchored (expanding training window) and rolling (fixed training window).

Windows are in samples (bars). Fold f tests ``[start_f, start_f + test_size)`` with
``start_f = train_size + gap + f·step``; it trains on ``[0, start_f - gap)`` when anchored and on
``[start_f - gap - train_size, start_f - gap)`` when rolling. ``gap`` samples between train and test are
left out (a crude purge). With event times ``t0``/``t1`` the training set is also purged and embargoed
against the test window exactly as in :mod:`autoperp.metrics.cross_validation`.
"""

from __future__ import annotations

import numpy as np

from autoperp.metrics.cross_validation import Split, check_event_times, purged_train_mask
from autoperp.metrics.inputs import MetricsInputError


def walk_forward_splits(
    n_samples: int,
    *,
    train_size: int,
    test_size: int,
    step: int | None = None,
    anchored: bool = False,
    gap: int = 0,
    t0: np.ndarray | None = None,
    t1: np.ndarray | None = None,
    embargo: float = 0,
) -> list[Split]:
    """``(train_indices, test_indices)`` per fold, in time order; ``step`` defaults to ``test_size``
    (non-overlapping test windows). The last fold is dropped if its test window would run past the end."""
    step = test_size if step is None else step
    if min(train_size, test_size, step) < 1 or gap < 0:
        raise MetricsInputError("train_size, test_size and step must be >= 1 and gap >= 0")
    if train_size + gap + test_size > n_samples:
        raise MetricsInputError(
            f"{n_samples} samples cannot hold one fold of train {train_size} + gap {gap} + test {test_size}"
        )
    times = None
    if t0 is not None or t1 is not None:
        if t0 is None or t1 is None:
            raise MetricsInputError("give both t0 and t1, or neither")
        times = check_event_times(t0, t1)
        if times[0].shape[0] != n_samples:
            raise MetricsInputError(f"t0/t1 must have n_samples={n_samples} entries")
    out: list[Split] = []
    start = train_size + gap
    while start + test_size <= n_samples:
        lo = 0 if anchored else start - gap - train_size
        train = np.arange(lo, start - gap, dtype=np.int64)
        if times is not None:
            keep = purged_train_mask(times[0], times[1], [(start, start + test_size)], embargo)
            train = train[keep[train]]
        out.append((train, np.arange(start, start + test_size, dtype=np.int64)))
        start += step
    return out
