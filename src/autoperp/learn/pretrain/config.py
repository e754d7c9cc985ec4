"""Settings of one pre-training run (all windows and horizons in bars)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PretrainConfig(BaseModel):
    """Labels, sampling, split and optimiser settings of :func:`run_pretrain`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon: int = Field(60, ge=1, description="vertical barrier, bars after the decision")
    k_up: float = Field(1.0, gt=0, description="upper barrier in units of the horizon vol")
    k_down: float = Field(1.0, gt=0, description="lower barrier in units of the horizon vol")
    barrier_vol_window: int = Field(240, ge=2, description="bars of the per-bar vol scaled to the horizon")
    vol_windows: tuple[int, int, int] = (30, 240, 1440)
    return_horizons: tuple[int, ...] = (1, 5, 15, 60)
    fast_window: int = Field(64, ge=2, description="1m bars the fast encoder sees")
    stride: int = Field(15, ge=1, description="bars between decision times")
    max_samples: int = Field(20_000, ge=10, description="evenly thinned to at most this many")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="last fraction of samples held out")
    val_fraction: float = Field(0.15, gt=0, lt=1, description="last fraction of the train part (early stop)")
    embargo: int = Field(60, ge=0, description="bars after a held-out block not used for training")
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    patience: int = Field(2, ge=1, description="epochs without validation improvement before stopping")
    budget_s: float = Field(600.0, gt=0, description="wall-clock budget per model, seconds")
    seed: int = 0
