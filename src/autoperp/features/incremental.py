"""The live twin of a feature set: one new bar in, that bar's features out, equal to the batch values.

All state lives in the :class:`OnlineFeatures` object the caller owns; nothing is global.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from autoperp.features.basis import basis_one
from autoperp.features.book import imbalance_one, spread_one
from autoperp.features.flow import RatioToMeanState, share_one, signed_one
from autoperp.features.fractal import MfdfaState
from autoperp.features.funding import FundingState
from autoperp.features.inputs import bar_values
from autoperp.features.returns import LogReturnState
from autoperp.features.volatility import RealisedVolState

if TYPE_CHECKING:
    from autoperp.features.pipeline import FeatureSet


class OnlineFeatures:
    """Incremental state of one :class:`~autoperp.features.pipeline.FeatureSet`.

    ``update(bar)`` must be called once per bar, in order, starting from the first bar the batch
    computation would see; the values then equal ``FeatureSet.compute`` at that bar to rounding.
    """

    def __init__(self, feature_set: FeatureSet) -> None:
        self.feature_set = feature_set
        self._inputs = feature_set.inputs()
        self._returns = {h: LogReturnState(h) for h in feature_set.return_horizons}
        self._vols = {w: RealisedVolState(w) for w in feature_set.vol_windows}
        self._volume = RatioToMeanState(feature_set.volume_window)
        self._trades = RatioToMeanState(feature_set.trade_count_window)
        self._funding = FundingState(feature_set.funding_z_window)
        self._fractal = MfdfaState(feature_set.fractal_window, step=feature_set.fractal_step)
        self.bars_seen = 0

    def update(self, bar: Mapping[str, float]) -> dict[str, float]:
        """Push one bar (a mapping with the fields of ``FeatureSet.inputs()``); its features by name.

        Raises:
            FormatError: a needed field is missing.
            ValidationError: a price is not positive.
        """
        fs = self.feature_set
        b = bar_values(bar, self._inputs, self.bars_seen)
        close = b["close"]
        out: dict[str, float] = {}
        for h, r in self._returns.items():
            out[f"logret_{h}"] = r.update(close)
        for w, v in self._vols.items():
            out[f"rvol_{w}"] = v.update(close)
        if fs.flow:
            out["taker_buy_share"] = share_one(b["volume"], b["taker_buy_volume"])
            out["signed_volume"] = signed_one(b["volume"], b["taker_buy_volume"])
            out[f"volume_rel_{fs.volume_window}"] = self._volume.update(b["volume"])
            out[f"trades_rel_{fs.trade_count_window}"] = self._trades.update(b["trades"])
        if fs.funding:
            rate, z = self._funding.update(b["funding_rate"])
            out["funding_rate"] = rate
            out[f"funding_z_{fs.funding_z_window}"] = z
        if fs.basis:
            out["basis"] = basis_one(b["mark"], close)
        if fs.book:
            out["book_imbalance"] = imbalance_one(b["bid_qty"], b["ask_qty"])
            out["spread_rel"] = spread_one(b["bid_price"], b["ask_price"])
        if fs.fractal:
            hurst, width = self._fractal.update(close)
            out[f"hurst_{fs.fractal_window}"] = hurst
            out[f"mf_width_{fs.fractal_window}"] = width
        self.bars_seen += 1
        return out
