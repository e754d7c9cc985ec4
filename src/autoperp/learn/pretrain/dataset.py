"""Decision samples from 1m candles: Observation tensors, flat features and triple-barrier labels.

Modalities built here: ``fast`` (the last ``fast_window`` bars, 5 features each), ``regime`` (log per-bar
vol at three windows, then zeros for the Hurst exponent and funding z-score, which need inputs the
candles lack) and ``flow`` (only when taker-buy volume and trade counts are given). The rest are left
absent, so the policy uses its learned absent embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from autoperp.brain.observation import Observation
from autoperp.core.errors import ValidationError
from autoperp.features.labels import triple_barrier
from autoperp.features.pipeline import FeatureSet
from autoperp.features.volatility import realised_vol
from autoperp.learn.pretrain.config import PretrainConfig

#: Price features per fast-window bar: log(open, high, low, close / previous close) in units of the
#: decision-time per-bar vol, and log1p(volume / its 1440-bar mean).
PRICE_FEATURES = 5
_CLIP = 10.0


@dataclass
class PretrainDataset:
    """Time-ordered samples. ``t0``/``t1``: decision bar and event end bar (for purging)."""

    t0: np.ndarray
    t1: np.ndarray
    labels: np.ndarray  # int64 class ids 0, 1, 2 for −1, 0, +1
    fast: np.ndarray  # (N, fast_window, 5) float32
    regime: np.ndarray  # (N, 5) float32
    flow: np.ndarray | None  # (N, F_flow) float32
    flat: np.ndarray  # (N, F) float32: the feature vector at t0 (logistic baseline)
    flat_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.t0.shape[0])

    def observation(self, idx: np.ndarray, mean: np.ndarray, std: np.ndarray) -> Observation:
        """Rows ``idx``; regime and flow standardised by ``mean``/``std`` over [regime, flow] columns."""
        r = self.regime.shape[1]
        side = (
            self.regime[idx] if self.flow is None else np.concatenate([self.regime[idx], self.flow[idx]], 1)
        )
        z = np.clip((side - mean) / std, -_CLIP, _CLIP).astype(np.float32)
        return Observation(
            regime=torch.from_numpy(np.ascontiguousarray(z[:, :r])),
            fast=torch.from_numpy(self.fast[idx]),
            flow=None if self.flow is None else torch.from_numpy(np.ascontiguousarray(z[:, r:])),
        )

    def side_stats(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (std ≥ 1e-8) of the [regime, flow] columns over rows ``idx``."""
        side = (
            self.regime[idx] if self.flow is None else np.concatenate([self.regime[idx], self.flow[idx]], 1)
        )
        return side.mean(0), np.maximum(side.std(0), 1e-8)


def _log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.log(a / b)
    return out


def build_dataset(arrays: Mapping[str, np.ndarray], config: PretrainConfig) -> PretrainDataset:
    """Samples every ``config.stride`` bars once all windows are warm, thinned to ``max_samples``.

    ``arrays`` holds equal-length 1-D ``open, high, low, close, volume`` (and optionally
    ``taker_buy_volume`` and ``trades``, which switch the flow modality on).

    Raises:
        ValidationError: an input is missing, or no bar can be labelled.
    """
    for name in ("open", "high", "low", "close", "volume"):
        if name not in arrays:
            raise ValidationError(f"learn/pretrain/dataset.py: input '{name}' is missing")
    o, h, lo, c, v = (
        np.asarray(arrays[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume")
    )
    n = c.shape[0]
    has_flow = "taker_buy_volume" in arrays and "trades" in arrays
    fs = FeatureSet(
        return_horizons=config.return_horizons,
        vol_windows=config.vol_windows,
        flow=has_flow,
        funding=False,
        basis=False,
        trade_count_window=config.vol_windows[-1],
        volume_window=config.vol_windows[-1],
    )
    feats = fs.compute({**{k: np.asarray(x) for k, x in arrays.items()}, "close": c, "volume": v})
    names = fs.names()
    bar_vol = {w: feats[f"rvol_{w}"] / np.sqrt(w) for w in config.vol_windows}
    # per-bar vol of log returns (fraction), scaled by sqrt(horizon) for the barrier width
    sigma = realised_vol(c, config.barrier_vol_window) / np.sqrt(config.barrier_vol_window)
    labels, ends = triple_barrier(
        c, sigma * np.sqrt(config.horizon), config.horizon, config.k_up, config.k_down
    )

    prev = np.concatenate([[np.nan], c[:-1]])
    vmean = np.convolve(v, np.ones(config.vol_windows[-1]) / config.vol_windows[-1])[:n]
    price = np.stack(
        [
            _log_ratio(o, prev),
            _log_ratio(h, prev),
            _log_ratio(lo, prev),
            _log_ratio(c, prev),
            np.log1p(v / vmean),
        ],
        axis=1,
    )
    warm = max(max(config.vol_windows), config.fast_window, max(config.return_horizons)) + 1
    t = np.arange(warm, n, config.stride)
    flat_all = np.stack([feats[k] for k in names], axis=1)
    ok = (ends[t] >= 0) & np.all(np.isfinite(flat_all[t]), axis=1) & (sigma[t] > 0)
    t = t[ok]
    if t.shape[0] > config.max_samples:
        t = t[np.unique(np.linspace(0, t.shape[0] - 1, config.max_samples).round().astype(np.int64))]
    if t.shape[0] < 10:
        raise ValidationError(
            f"learn/pretrain/dataset.py: only {t.shape[0]} labelled decision bars in {n} bars "
            f"(need ≥ 10; warm-up {warm} bars, horizon {config.horizon})"
        )
    rows = t[:, None] - np.arange(config.fast_window - 1, -1, -1)[None, :]
    fast = price[rows]
    fast[:, :, :4] /= sigma[t][:, None, None]
    fast = np.nan_to_num(np.clip(fast, -_CLIP, _CLIP), nan=0.0).astype(np.float32)
    regime = np.zeros((t.shape[0], 5))
    for i, w in enumerate(config.vol_windows):
        regime[:, i] = np.log(np.maximum(bar_vol[w][t], 1e-12))
    flow = None
    if has_flow:
        cols = [
            "taker_buy_share",
            "signed_volume",
            f"volume_rel_{fs.volume_window}",
            f"trades_rel_{fs.trade_count_window}",
        ]
        cols += [f"logret_{config.return_horizons[1]}", f"logret_{config.return_horizons[-1]}"]
        flow = np.nan_to_num(np.stack([feats[k][t] for k in cols], axis=1)).astype(np.float32)
    return PretrainDataset(
        t0=t.astype(np.int64),
        t1=ends[t],
        labels=(labels[t].astype(np.int64) + 1),
        fast=np.ascontiguousarray(fast),
        regime=regime.astype(np.float32),
        flow=flow,
        flat=flat_all[t].astype(np.float32),
        flat_names=names,
    )
