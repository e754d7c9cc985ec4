"""The HRM ablation of DESIGN.md item "HRM → a flat transformer with the same parameter count".

A stack of the HRM's own post-norm blocks applied once to the tokens, read out at token 0 (the decision
token). :func:`matched_flat` picks the depth whose parameter count is closest to an HRM's.
"""

from __future__ import annotations

import torch
from torch import nn

from autoperp.brain.hrm import HRM, HRMConfig
from autoperp.brain.layers import BlockStack
from autoperp.core.errors import ConfigError

__all__ = ["FlatTransformer", "matched_flat", "parameter_count"]


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters (buffers such as the HRM's initial states excluded)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class FlatTransformer(nn.Module):
    """``n_layers`` post-norm blocks applied once: (B, S, d_model) tokens → (B, d_model) readout."""

    def __init__(
        self, d_model: int, n_heads: int, n_layers: int, expansion: float, max_tokens: int, seed: int = 0
    ) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stack = BlockStack(d_model, n_heads, n_layers, expansion, max_tokens)
        self.d_model = d_model
        self.n_layers = n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ConfigError(f"brain/flat.py: tokens must be (B, S, {self.d_model}), got {tuple(x.shape)}")
        out: torch.Tensor = self.stack(x)[:, 0]
        return out


def matched_flat(config: HRMConfig) -> FlatTransformer:
    """A :class:`FlatTransformer` with the HRM's width and the depth closest in parameter count."""
    config.check()
    # Meta device: counts parameters without allocating them, so large configs cost nothing.
    with torch.device("meta"):
        target = parameter_count(HRM(config))
        per_block = parameter_count(
            BlockStack(config.d_model, config.n_heads, 1, config.expansion, config.max_tokens)
        )
    depth = max(1, round(target / per_block))
    return FlatTransformer(
        config.d_model, config.n_heads, depth, config.expansion, config.max_tokens, seed=config.seed
    )
