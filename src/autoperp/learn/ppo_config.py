"""Settings of one PPO run (:func:`autoperp.learn.ppo.train_ppo`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PPOConfig(BaseModel):
    """Rollout size, PPO losses, optimiser and schedule.

    One update consumes ``n_envs × n_steps`` env steps; ``total_steps`` is rounded up to whole updates.
    Minibatches split the *envs* (each minibatch replays its envs' whole time sequence from the carry
    stored at rollout start), so ``n_envs`` must be divisible by ``minibatches``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    total_steps: int = Field(1_000_000, gt=0, description="env steps (decisions summed over envs)")
    n_envs: int = Field(256, gt=0, description="parallel paths of the vector env")
    n_steps: int = Field(32, gt=0, description="decisions per env per rollout")
    epochs: int = Field(2, gt=0, description="passes over each rollout")
    minibatches: int = Field(4, gt=0, description="env minibatches per epoch")
    gamma: float = Field(0.99, gt=0, le=1)
    gae_lambda: float = Field(0.95, ge=0, le=1)
    clip: float = Field(0.2, gt=0, description="policy ratio clip ε")
    clip_vf: float | None = Field(0.2, gt=0, description="value clip around the old value; None = unclipped")
    ent_coef: float = Field(0.0, ge=0)
    vf_coef: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    lr: float = Field(3e-4, gt=0)
    lr_schedule: Literal["constant", "linear"] = "linear"
    adam_eps: float = Field(1e-5, gt=0)
    target_kl: float | None = Field(None, gt=0, description="stop an update's epochs past this approx KL")
    norm_adv: bool = True
    reward_scale: float = Field(
        1.0,
        gt=0,
        description="multiplies every reward before GAE: a 15m Δ log equity is ~1e-3, and at that size the "
        "fresh critic's O(1) values swamp the advantages (the env's own rewards are unchanged)",
    )
    bootstrap_truncated: bool = Field(
        True, description="bootstrap a truncated (not terminated) episode with the value of its last state"
    )
    replay: Literal["sequential", "batched"] = Field(
        "batched",
        description="recurrent replay: T differentiated calls, or no-grad carries then one call (same result)",
    )
    seed: int = 0
    device: str = "cpu"
    torch_threads: int | None = Field(None, gt=0, description="torch CPU threads; None = torch's default")
    checkpoint_every: int = Field(50, ge=0, description="updates between checkpoints; 0 = only at the end")
    eval_every: int = Field(0, ge=0, description="updates between validation runs; 0 = only at the end")

    @model_validator(mode="after")
    def _divisible(self) -> PPOConfig:
        if self.n_envs % self.minibatches:
            raise ValueError(f"n_envs {self.n_envs} is not divisible by minibatches {self.minibatches}")
        return self

    @property
    def batch_size(self) -> int:
        """Env steps per update."""
        return self.n_envs * self.n_steps

    @property
    def n_updates(self) -> int:
        """Updates needed for ``total_steps`` (rounded up)."""
        return max(1, -(-self.total_steps // self.batch_size))
