"""Order-book features from L2 quotes aligned to bars: imbalance and relative spread."""

from __future__ import annotations

import math

import numpy as np


def book_imbalance(bid_qty: np.ndarray, ask_qty: np.ndarray) -> np.ndarray:
    """(bid_qty − ask_qty) / (bid_qty + ask_qty), in −1..1; NaN where both sides are empty.

    1-D inputs are top-of-book sizes; 2-D inputs (bars × levels) are summed over their levels.
    """
    b = np.asarray(bid_qty, dtype=np.float64)
    a = np.asarray(ask_qty, dtype=np.float64)
    if b.ndim == 2:
        b = b.sum(axis=1)
    if a.ndim == 2:
        a = a.sum(axis=1)
    tot = b + a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0.0, (b - a) / tot, np.nan)


def relative_spread(bid_price: np.ndarray, ask_price: np.ndarray) -> np.ndarray:
    """(ask − bid) / mid (fraction of the mid price)."""
    b = np.asarray(bid_price, dtype=np.float64)
    a = np.asarray(ask_price, dtype=np.float64)
    return (a - b) / ((a + b) * 0.5)


def imbalance_one(bid_qty: float, ask_qty: float) -> float:
    """:func:`book_imbalance` of one top-of-book quote."""
    tot = bid_qty + ask_qty
    return (bid_qty - ask_qty) / tot if tot > 0.0 else math.nan


def spread_one(bid_price: float, ask_price: float) -> float:
    """:func:`relative_spread` of one quote."""
    return (ask_price - bid_price) / ((ask_price + bid_price) * 0.5)
