"""Causal, lookahead-free feature kernels shared by training and live trading (DESIGN.md §2, layer 1).

Batch: ``FeatureSet(...).compute(arrays)``; live: ``FeatureSet(...).online().update(bar)`` gives the
same values bar by bar. The kernels are also usable one by one (``log_returns``, ``realised_vol``...).
"""

from autoperp.features.basis import mark_basis
from autoperp.features.book import book_imbalance, relative_spread
from autoperp.features.flow import ratio_to_mean, signed_volume, taker_buy_share
from autoperp.features.fractal import rolling_mfdfa
from autoperp.features.funding import funding_ffill, funding_zscore
from autoperp.features.incremental import OnlineFeatures
from autoperp.features.pipeline import FeatureSet, compute
from autoperp.features.returns import log_returns
from autoperp.features.rolling import rolling_sum, rolling_zscore
from autoperp.features.volatility import realised_vol

__all__ = [
    "FeatureSet",
    "OnlineFeatures",
    "book_imbalance",
    "compute",
    "funding_ffill",
    "funding_zscore",
    "log_returns",
    "mark_basis",
    "ratio_to_mean",
    "realised_vol",
    "relative_spread",
    "rolling_mfdfa",
    "rolling_sum",
    "rolling_zscore",
    "signed_volume",
    "taker_buy_share",
]
