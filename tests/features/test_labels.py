"""Triple-barrier labels on hand-built paths."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.core.errors import ValidationError
from autoperp.features.labels import triple_barrier


def test_upper_lower_and_vertical_barriers() -> None:
    # vol 0.1 → barriers at ±10 % of the decision close
    close = np.array([100.0, 105.0, 111.0, 100.0, 95.0, 89.0, 90.0, 91.0, 92.0, 93.0])
    vol = np.full(close.shape, 0.1)
    labels, ends = triple_barrier(close, vol, horizon=3)
    assert labels[0] == 1 and ends[0] == 2  # 111 ≥ 110 at bar 2
    assert labels[3] == -1 and ends[3] == 5  # 89 ≤ 90 at bar 5
    assert labels[5] == 0 and ends[5] == 8  # drifts within ±10 %: vertical barrier
    assert (ends[7:] == -1).all() and (labels[7:] == 0).all()  # fewer than 3 bars left


def test_first_touch_wins_and_multipliers_are_asymmetric() -> None:
    close = np.array([100.0, 94.0, 120.0, 120.0])
    vol = np.full(4, 0.1)
    labels, ends = triple_barrier(close, vol, horizon=3, k_up=1.0, k_down=0.5)
    assert labels[0] == -1 and ends[0] == 1  # lower barrier (95) comes before the upper one
    labels, _ = triple_barrier(close, vol, horizon=3, k_up=1.0, k_down=1.0)
    assert labels[0] == 1


def test_nan_vol_leaves_bar_unlabelled() -> None:
    close = np.linspace(100, 110, 6)
    vol = np.array([np.nan, 0.01, 0.01, 0.01, 0.01, 0.01])
    labels, ends = triple_barrier(close, vol, horizon=2)
    assert ends[0] == -1 and labels[0] == 0
    assert ends[1] >= 0


def test_bad_input_raises() -> None:
    with pytest.raises(ValidationError, match="horizon"):
        triple_barrier(np.ones(5), np.ones(5), horizon=0)
    with pytest.raises(ValidationError, match="shape"):
        triple_barrier(np.ones(5), np.ones(4), horizon=1)
