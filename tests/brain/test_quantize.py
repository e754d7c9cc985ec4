"""int8 dynamic quantisation (DESIGN.md §4): the copy is quantised, the original is not, decisions agree."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from autoperp.brain.policy import Policy, PolicyConfig, random_observation
from autoperp.brain.quantize import action_agreement, quantize_dynamic

SMALL: dict[str, Any] = {
    "d_model": 64,
    "n_heads": 4,
    "h_layers": 1,
    "l_layers": 1,
    "n_cycles": 1,
    "t_steps": 2,
    "fast_window": 16,
    "slow_window": 8,
    "day_window": 8,
    "chart_channels": (4, 8),
    "chart_height": 32,
    "chart_width": 30,
}


def _dynamic_linears(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]


@pytest.mark.parametrize("action", ["gaussian", "categorical"])
def test_int8_agrees_with_fp32(action: str) -> None:
    cfg = PolicyConfig(**SMALL, action=action)
    fp32 = Policy(cfg).eval()
    if action == "categorical":
        # At init the logits are near-uniform (small actor weights), so the argmax is a near-tie that any
        # rounding flips; a decided policy, as after training, has separated logits.
        with torch.no_grad():
            fp32.actor.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(1))
    int8 = quantize_dynamic(fp32)
    quantized = _dynamic_linears(int8)
    assert any(n.startswith("hrm.") for n in quantized)
    assert not any(n.endswith(".gain") or n in ("actor", "critic") for n in quantized)
    assert _dynamic_linears(fp32) == []  # the original stays float
    gen = torch.Generator().manual_seed(0)
    obs = [random_observation(cfg, 100, gen) for _ in range(2)]
    assert action_agreement(fp32, int8, obs) >= 0.99


def test_agreement_counts_disagreements() -> None:
    cfg = PolicyConfig(**SMALL)
    a, b = Policy(cfg).eval(), Policy(PolicyConfig(**SMALL, seed=1)).eval()
    with torch.no_grad():
        b.actor.bias.fill_(0.5)  # shifts every deterministic action by far more than the tolerance
    obs = [random_observation(cfg, 20, torch.Generator().manual_seed(2))]
    assert action_agreement(a, b, obs) < 0.5
    assert action_agreement(a, a, obs) == 1.0
