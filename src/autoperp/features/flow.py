"""Order flow from candle fields: taker-buy share, signed volume, volume and trade counts against their mean."""

from __future__ import annotations

import math

import numpy as np

from autoperp.features.rolling import RollingSum, rolling_sum


def taker_buy_share(volume: np.ndarray, taker_buy_volume: np.ndarray) -> np.ndarray:
    """taker_buy / volume (fraction, 0..1); NaN where volume is 0."""
    v = np.asarray(volume, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(v > 0.0, np.asarray(taker_buy_volume, dtype=np.float64) / v, np.nan)


def signed_volume(volume: np.ndarray, taker_buy_volume: np.ndarray) -> np.ndarray:
    """Taker buys minus taker sells, 2·taker_buy − volume, in base-asset units."""
    return 2.0 * np.asarray(taker_buy_volume, dtype=np.float64) - np.asarray(volume, dtype=np.float64)


def ratio_to_mean(values: np.ndarray, window: int) -> np.ndarray:
    """x_t / mean(x over the last ``window`` bars, t included); NaN until full or where the mean is 0.

    Used for trade counts and volume, whose raw level drifts with price and market regime.
    """
    x = np.asarray(values, dtype=np.float64)
    mean = rolling_sum(x, window) / window
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0.0, x / mean, np.nan)


def share_one(volume: float, taker_buy_volume: float) -> float:
    """:func:`taker_buy_share` of one bar."""
    return taker_buy_volume / volume if volume > 0.0 else math.nan


def signed_one(volume: float, taker_buy_volume: float) -> float:
    """:func:`signed_volume` of one bar."""
    return 2.0 * taker_buy_volume - volume


class RatioToMeanState:
    """Online twin of :func:`ratio_to_mean`."""

    def __init__(self, window: int) -> None:
        self.window = int(window)
        self._sum = RollingSum(window)

    def update(self, value: float) -> float:
        """Push one bar's value; its ratio to the window mean."""
        mean = self._sum.update(value) / self.window
        return value / mean if mean > 0.0 else math.nan
