"""Settings of the RL trading environment (pydantic): decision interval, episode length, action, reward."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autoperp.core.errors import UsageError
from autoperp.core.timeframes import timeframe_ms
from autoperp.data.scenarios import SCENARIOS
from autoperp.sim.config import SimConfig

__all__ = ["EnvConfig", "RewardConfig"]


class RewardConfig(BaseModel):
    """r_t = Δ log equity − lambda_dd · (increase of drawdown) + kappa_dsr · differential Sharpe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lambda_dd: float = Field(0.5, ge=0.0, description="weight of the drawdown increase (fraction of peak)")
    kappa_dsr: float = Field(0.0, ge=0.0, description="weight of the differential Sharpe ratio")
    dsr_eta: float = Field(0.01, gt=0.0, lt=1.0, description="EMA rate of the differential Sharpe moments")


class EnvConfig(BaseModel):
    """One environment: how often the agent decides, how long an episode lasts, what an action means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision_interval: str = "1m"
    episode_steps: int = Field(512, ge=1, description="decisions per episode (truncation)")
    max_leverage: float = Field(1.0, gt=0.0, description="action 1.0 = exposure of max_leverage × equity")
    action: Literal["continuous", "discrete"] = "continuous"
    n_bins: int = Field(21, ge=2, description="discrete actions: evenly spaced targets on [-1, 1]")
    reward: RewardConfig = RewardConfig()
    sim: SimConfig = SimConfig()
    scenarios: tuple[str, ...] = ()
    scenario_prob: float = Field(0.0, ge=0.0, le=1.0)
    obs: Literal["indices", "window"] = "indices"
    window: int = Field(10, ge=1)
    window_group: str = "raw"

    @field_validator("decision_interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        timeframe_ms(v)  # raises UsageError naming the allowed timeframes
        return v

    @field_validator("scenarios")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in v if s not in SCENARIOS]
        if bad:
            raise ValueError(f"unknown scenario(s) {bad}: choose from {sorted(SCENARIOS)}")
        return v

    @model_validator(mode="after")
    def _leverage(self) -> EnvConfig:
        if self.sim.leverage < self.max_leverage:
            raise ValueError(
                f"sim.leverage ({self.sim.leverage}) must be >= max_leverage ({self.max_leverage}): the "
                "kernel caps exposure at sim.leverage, so a larger action would be silently clipped"
            )
        if self.scenario_prob > 0.0 and not self.scenarios:
            raise ValueError("scenario_prob > 0 needs at least one name in scenarios")
        return self

    def bars_per_step(self, timeframe: str) -> int:
        """k = decision interval / the market timeframe; raises UsageError when it does not divide."""
        step = timeframe_ms(self.decision_interval)
        bar = timeframe_ms(timeframe)
        if step % bar != 0:
            raise UsageError(
                f"decision_interval {self.decision_interval} is not a whole number of {timeframe} bars"
            )
        return step // bar
