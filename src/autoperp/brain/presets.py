"""Named policy sizes (DESIGN.md §4): ``stage1`` for fast CPU iteration, ``stage2`` for the larger model.

Parameter counts (trainable, checked by tests): stage1 ≈ 1.1 M, stage1_rl ≈ 0.76 M (fewer encoders
switched on), stage2 ≈ 22 M. Stage 1 runs one high cycle of two low steps per decision with one block per
HRM module (three block applications at batch 1): the carry persists across decisions when streaming, so
the reasoning state is refined over time instead of from scratch each bar, and a 10-token sequence keeps
each block cheap.
"""

from __future__ import annotations

from typing import Any

from autoperp.brain.policy import PolicyConfig

__all__ = ["stage1", "stage1_rl", "stage2"]


def stage1(**overrides: Any) -> PolicyConfig:
    """≈ 1–3 M parameters; per-decision latency of a few ms on CPU at batch 1."""
    base: dict[str, Any] = {
        "d_model": 160,
        "n_heads": 4,
        "h_layers": 1,
        "l_layers": 1,
        "n_cycles": 1,
        "t_steps": 2,
        "chart_channels": (8, 16, 32),
    }
    return PolicyConfig(**{**base, **overrides})


def stage1_rl(**overrides: Any) -> PolicyConfig:
    """The default policy for RL training: :func:`stage1` on the modalities the RL feature table provides
    (fast 1m window of 32 bars, slow window of 24 completed 1h bars, order flow, alternative data and the
    account), the others switched off (their absent tokens are constant)."""
    base: dict[str, Any] = {
        "modalities": ("fast", "slow", "flow", "alt", "account"),
        "fast_window": 32,
        "slow_window": 24,
    }
    return stage1(**{**base, **overrides})


def stage2(**overrides: Any) -> PolicyConfig:
    """≈ 20–30 M parameters; meant for int8 dynamic quantisation at inference (see ``brain/quantize.py``)."""
    base: dict[str, Any] = {
        "d_model": 448,
        "n_heads": 8,
        "h_layers": 4,
        "l_layers": 4,
        "n_cycles": 2,
        "t_steps": 2,
        "chart_channels": (16, 32, 64),
    }
    return PolicyConfig(**{**base, **overrides})
