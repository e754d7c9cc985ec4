"""The config of one training run (``autoperp train --config FILE``): a TOML file of its own.

Sections (each optional; every field has a default)::

    [data]     where the series come from: datafile = [...], or pairs = [...] from the store, or
               synthetic = true (generated markets); timeframe, timerange, user_data_dir, exchange
    [env]      EnvConfig (decision interval, episode length, reward, [env.sim] costs, scenarios)
    [table]    TableSpec (feature windows)
    [policy]   preset = "stage1" | "stage2", [policy.overrides] any PolicyConfig field
    [ppo]      PPOConfig
    [split]    validation_fraction, embargo_bars, validation_envs

Environment variables ``AUTOPERP__SECTION__KEY=value`` override the file for these sections (the app
config's own sections ``validation``, ``download``, ``synthetic`` are left to it), so
``AUTOPERP__DATA__USER_DATA_DIR`` means the same here as for every other command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from autoperp.brain import presets
from autoperp.brain.policy import PolicyConfig
from autoperp.core.config import ENV_PREFIX, env_overrides, merge_nested, read_toml
from autoperp.core.errors import ConfigError
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import TableSpec
from autoperp.learn.ppo_config import PPOConfig

__all__ = ["DataSection", "PolicySection", "SplitSection", "TrainConfig", "load_train_config"]

PRESETS = {"stage1": presets.stage1, "stage2": presets.stage2}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(_Section):
    """Training data: files, or pairs from the store, or generated markets."""

    user_data_dir: Path = Path("user_data")
    exchange: str = "binanceusdm"
    datafile: tuple[Path, ...] = Field((), description="candle files (any format the readers know)")
    pairs: tuple[str, ...] = Field((), description="ccxt pairs read from the store")
    timeframe: str = "1m"
    timerange: str | None = Field(None, description="20230401-20230701, 20230401- or -20230701")
    synthetic: bool = Field(False, description="generate markets (data.synthetic) instead of reading any")
    synthetic_kind: Literal["regimes", "planted_edge"] = Field(
        "regimes",
        description="regimes: data.synthetic's realistic market; planted_edge: data.synthetic_edge's learnable trends",
    )
    synthetic_symbols: tuple[str, ...] = ("BTC/USDT:USDT",)
    synthetic_bars: int = Field(20_000, ge=100, description="bars per generated series")
    synthetic_seed: int = 7


class PolicySection(_Section):
    """A named size plus field overrides; the table's widths and the modalities it has are set by the run."""

    preset: Literal["stage1", "stage2"] = "stage1"
    overrides: dict[str, Any] = Field(default_factory=dict)

    def policy_config(self, **fixed: Any) -> PolicyConfig:
        """``preset(**overrides)`` with ``fixed`` (the data-dependent fields) applied last."""
        try:
            return PRESETS[self.preset](**{**self.overrides, **fixed})
        except PydanticValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"policy.overrides.{loc}: {first['msg']}") from None


class SplitSection(_Section):
    """Chronological split of every series: training episodes start in the first part; the last
    ``validation_fraction`` of bars (after ``embargo_bars``) is walked once for validation."""

    validation_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    embargo_bars: int = Field(0, ge=0, description="bars between the training part and validation")


class TrainConfig(_Section):
    """Everything that defines a training run; hashed into the model id."""

    data: DataSection = DataSection()
    env: EnvConfig = EnvConfig()
    table: TableSpec = TableSpec()
    policy: PolicySection = PolicySection()
    ppo: PPOConfig = PPOConfig()
    split: SplitSection = SplitSection()


def load_train_config(
    path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults < the TOML file ``path`` < ``AUTOPERP__SECTION__KEY`` variables < ``overrides`` (the
    command line's, as a nested dict). Raises :class:`ConfigError` naming the file and the key."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = read_toml(path)
    env = env_overrides(os.environ if environ is None else environ)
    ours = {k: v for k, v in env.items() if k in TrainConfig.model_fields}
    # AppConfig's [data] has only user_data_dir and exchange, both ours too; its other sections are its own.
    if ours:
        source += " + environment"
    merged = merge_nested(merge_nested(raw, ours), overrides or {})
    try:
        return TrainConfig.model_validate(merged)
    except PydanticValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{source}: '{key}': {first['msg']} (env override: {ENV_PREFIX}{key.upper().replace('.', '__')})"
        ) from None
