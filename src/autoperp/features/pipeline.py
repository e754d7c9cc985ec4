"""Which features to compute: the :class:`FeatureSet` config, its batch ``compute`` and ``online`` twin."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autoperp.features.basis import mark_basis
from autoperp.features.book import book_imbalance, relative_spread
from autoperp.features.flow import ratio_to_mean, signed_volume, taker_buy_share
from autoperp.features.fractal import rolling_mfdfa
from autoperp.features.funding import funding_ffill, funding_zscore
from autoperp.features.incremental import OnlineFeatures
from autoperp.features.inputs import input_arrays
from autoperp.features.returns import log_returns
from autoperp.features.volatility import DEFAULT_VOL_WINDOWS, realised_vol


class FeatureSet(BaseModel):
    """Which features to compute and over which windows (all windows in bars)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    return_horizons: tuple[int, ...] = (1, 5, 15, 60, 240)
    vol_windows: tuple[int, ...] = DEFAULT_VOL_WINDOWS
    flow: bool = True
    trade_count_window: int = Field(default=1440, ge=1)
    volume_window: int = Field(default=1440, ge=1)
    funding: bool = True
    funding_z_window: int = Field(default=4320, ge=2)
    basis: bool = True
    book: bool = False
    #: Hurst (DFA) and multifractal width (MF-DFA) are off by default: O(window) per refreshed bar.
    fractal: bool = False
    fractal_window: int = Field(default=480, ge=240)
    fractal_step: int = Field(default=1, ge=1)

    @field_validator("return_horizons", "vol_windows")
    @classmethod
    def _positive_unique(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(h < 1 for h in v):
            raise ValueError("horizons and windows are at least 1 bar")
        if len(set(v)) != len(v):
            raise ValueError("horizons and windows must not repeat")
        return v

    def inputs(self) -> tuple[str, ...]:
        """The input arrays (or live bar fields) this set reads."""
        names = ["close"]
        if self.flow:
            names += ["volume", "taker_buy_volume", "trades"]
        if self.funding:
            names.append("funding_rate")
        if self.basis:
            names.append("mark")
        if self.book:
            names += ["bid_price", "ask_price", "bid_qty", "ask_qty"]
        return tuple(names)

    def names(self) -> tuple[str, ...]:
        """The feature names, in the order ``compute`` and ``OnlineFeatures.update`` return them."""
        out = [f"logret_{h}" for h in self.return_horizons]
        out += [f"rvol_{w}" for w in self.vol_windows]
        if self.flow:
            out += ["taker_buy_share", "signed_volume", f"volume_rel_{self.volume_window}"]
            out.append(f"trades_rel_{self.trade_count_window}")
        if self.funding:
            out += ["funding_rate", f"funding_z_{self.funding_z_window}"]
        if self.basis:
            out.append("basis")
        if self.book:
            out += ["book_imbalance", "spread_rel"]
        if self.fractal:
            out += [f"hurst_{self.fractal_window}", f"mf_width_{self.fractal_window}"]
        return tuple(out)

    def compute(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every feature of this set at every bar; value t uses only inputs at bars <= t.

        ``arrays`` maps input names (ts, open, high, low, close, volume, taker_buy_volume, trades,
        funding_rate — NaN where no settlement —, mark, and for the book bid/ask price and qty) to
        equal-length 1-D arrays; inputs this set does not read are ignored.

        Raises:
            FormatError: a needed input is missing or not 1-D.
            ValidationError: an input's length differs, or a price is not positive.
        """
        a = input_arrays(arrays, self.inputs())
        close = a["close"]
        out: dict[str, np.ndarray] = {}
        for h in self.return_horizons:
            out[f"logret_{h}"] = log_returns(close, h)
        for w in self.vol_windows:
            out[f"rvol_{w}"] = realised_vol(close, w)
        if self.flow:
            out["taker_buy_share"] = taker_buy_share(a["volume"], a["taker_buy_volume"])
            out["signed_volume"] = signed_volume(a["volume"], a["taker_buy_volume"])
            out[f"volume_rel_{self.volume_window}"] = ratio_to_mean(a["volume"], self.volume_window)
            out[f"trades_rel_{self.trade_count_window}"] = ratio_to_mean(a["trades"], self.trade_count_window)
        if self.funding:
            out["funding_rate"] = funding_ffill(a["funding_rate"])
            out[f"funding_z_{self.funding_z_window}"] = funding_zscore(
                a["funding_rate"], self.funding_z_window
            )
        if self.basis:
            out["basis"] = mark_basis(a["mark"], close)
        if self.book:
            out["book_imbalance"] = book_imbalance(a["bid_qty"], a["ask_qty"])
            out["spread_rel"] = relative_spread(a["bid_price"], a["ask_price"])
        if self.fractal:
            hurst, width = rolling_mfdfa(close, self.fractal_window, step=self.fractal_step)
            out[f"hurst_{self.fractal_window}"] = hurst
            out[f"mf_width_{self.fractal_window}"] = width
        return out

    def online(self) -> OnlineFeatures:
        """A fresh incremental twin: feed it bars one by one to get exactly ``compute``'s values."""
        return OnlineFeatures(self)


def compute(arrays: Mapping[str, np.ndarray], feature_set: FeatureSet | None = None) -> dict[str, np.ndarray]:
    """``feature_set.compute(arrays)`` with the default :class:`FeatureSet` when none is given."""
    return (feature_set or FeatureSet()).compute(arrays)
