"""Settings of an evaluation (pydantic): how the history is cut into out-of-sample segments, how PBO is
computed and which baselines are run beside the strategy."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_BASELINES", "EvaluationSettings", "Scheme"]

#: The baselines of the promotion gate (DESIGN.md §6): a candidate must beat them after costs.
DEFAULT_BASELINES: tuple[str, ...] = ("flat", "buy_and_hold", "sma_trend", "funding_carry")


class Scheme(StrEnum):
    """How the history is cut into out-of-sample segments."""

    WALK_FORWARD = "walk-forward"  # folds test windows after a first window that only warms up
    CPCV = "cpcv"  # combinatorial purged CV: every group is out of sample on some path


class EvaluationSettings(BaseModel):
    """``folds``: walk-forward test windows (the history is cut into ``folds + 1`` equal windows, the
    first being the training/warm-up window) or CPCV groups. ``anchored``: walk-forward training windows
    grow from the start (else they roll). ``test_groups``: CPCV groups tested per split.
    ``pbo_partitions``: CSCV blocks S (even). ``max_plot_points``: points per line in the HTML plots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Scheme = Scheme.WALK_FORWARD
    folds: int = Field(5, ge=2, le=64)
    anchored: bool = True
    test_groups: int = Field(2, ge=1)
    pbo_partitions: int = Field(16, ge=2, le=24)
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    max_plot_points: int = Field(4000, ge=100)

    @model_validator(mode="after")
    def _check(self) -> EvaluationSettings:
        if self.pbo_partitions % 2:
            raise ValueError(f"pbo_partitions must be even, got {self.pbo_partitions}")
        if self.scheme is Scheme.CPCV and not 0 < self.test_groups < self.folds:
            raise ValueError(f"cpcv needs 0 < test_groups < folds, got {self.test_groups} of {self.folds}")
        return self
