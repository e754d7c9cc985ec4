"""Mark–close basis."""

from __future__ import annotations

import numpy as np


def mark_basis(mark: np.ndarray, close: np.ndarray) -> np.ndarray:
    """mark / close − 1 (fraction; positive when the mark is above the last trade)."""
    return np.asarray(mark, dtype=np.float64) / np.asarray(close, dtype=np.float64) - 1.0


def basis_one(mark: float, close: float) -> float:
    """:func:`mark_basis` of one bar."""
    return mark / close - 1.0
