"""Time-ordered holdout with purging and embargo (López de Prado ch. 7) for labelled events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoperp.core.errors import ConfigError
from autoperp.metrics.cross_validation import purged_train_mask


@dataclass(frozen=True)
class PurgedSplit:
    """Sample indices (into time-ordered events) for fitting, early-stop validation and test."""

    fit: np.ndarray
    val: np.ndarray
    test: np.ndarray
    purged: int  # events dropped because their span overlaps a later block (or its embargo)


def _holdout_last(t0: np.ndarray, t1: np.ndarray, a: int, embargo: int) -> np.ndarray:
    return purged_train_mask(t0, t1, [(a, t0.shape[0])], embargo=float(embargo))


def purged_holdout(
    t0: np.ndarray, t1: np.ndarray, test_fraction: float, val_fraction: float, embargo: int = 0
) -> PurgedSplit:
    """Last ``test_fraction`` of events → test; last ``val_fraction`` of the rest → validation; the rest
    → fit. Events of an earlier block whose span ``[t0, t1]`` (bars) reaches the next block's first
    start are purged, and so are events starting within ``embargo`` bars after a block ends (none when
    the block is last, kept for the general case). ``t0`` must be non-decreasing.
    """
    t0 = np.asarray(t0, dtype=np.int64)
    t1 = np.asarray(t1, dtype=np.int64)
    n = t0.shape[0]
    if n != t1.shape[0] or np.any(np.diff(t0) < 0) or np.any(t1 < t0):
        raise ConfigError("learn/pretrain/split.py: events need equal lengths, sorted t0 and t1 >= t0")
    a_test = round(n * (1 - test_fraction))
    train = _holdout_last(t0, t1, a_test, embargo)
    train_idx = np.flatnonzero(train)
    m = train_idx.shape[0]
    a_val = round(m * (1 - val_fraction))
    if a_test >= n or a_val >= m or a_val < 1:
        raise ConfigError(f"learn/pretrain/split.py: {n} events are too few to split")
    sub = _holdout_last(t0[train_idx], t1[train_idx], a_val, embargo)
    fit = train_idx[sub]
    val = train_idx[a_val:]
    test = np.arange(a_test, n)
    purged = n - fit.shape[0] - val.shape[0] - test.shape[0]
    return PurgedSplit(fit=fit, val=val, test=test, purged=int(purged))
