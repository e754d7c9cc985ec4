"""Hierarchical Reasoning Model (after Wang et al. 2025), DESIGN.md §4.

Two recurrent transformer modules: a fast low-level ``f_L`` and a slow high-level ``f_H`` with states
``z_L`` and ``z_H`` of shape (B, S, d). One *segment* is ``N`` high cycles of ``T`` low steps::

    for each of N·T low steps:   z_L ← f_L(z_L + z_H + x̃)       (additive input injection)
    after every T low steps:     z_H ← f_H(z_H + z_L)

The decision is read out from ``z_H`` at token 0 (the decision token).

* One-step gradient: with ``one_step_grad`` every update but the last L and the last H update runs under
  ``torch.no_grad()``, so backprop costs one L and one H application whatever N and T are.
* Deep supervision: :meth:`HRM.segments` runs M segments with the carry detached between them; a loss
  is applied to each segment's readout.
* Adaptive computation time (``act``): a Q-head on ``z_H[:, 0]`` gives (halt, continue) logits;
  :meth:`HRM.act_segments` halts a row when ``q_halt > q_continue`` or at ``act_max_segments``; in
  training, with probability ``act_explore_prob`` a row first has to run a random minimum number of
  segments. :func:`act_targets` builds the Q-learning targets.

The carry returned by every call is detached: it persists across decisions when streaming, and
:meth:`HRM.reset` puts chosen rows (episode ends) back to the initial state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from autoperp.brain.layers import BlockStack
from autoperp.core.errors import ConfigError

__all__ = ["HRM", "ACTResult", "HRMCarry", "HRMConfig", "HRMStep", "act_targets"]


class HRMConfig(BaseModel):
    """Shape and schedule of an :class:`HRM`. Defaults are a stage-1 size (≈ 0.2 M parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_model: int = Field(64, gt=0, description="width of tokens and states")
    n_heads: int = Field(4, gt=0, description="attention heads; d_model / n_heads must be even")
    h_layers: int = Field(2, gt=0, description="post-norm blocks in f_H")
    l_layers: int = Field(2, gt=0, description="post-norm blocks in f_L")
    n_cycles: int = Field(2, gt=0, description="N: high-level updates per segment")
    t_steps: int = Field(2, gt=0, description="T: low-level steps per high-level update")
    expansion: float = Field(4.0, gt=0, description="SwiGLU width as a multiple of d_model (before ·2/3)")
    max_tokens: int = Field(256, gt=0, description="longest token sequence (rotary table size)")
    one_step_grad: bool = Field(True, description="backprop through the last L and H update only")
    act: bool = Field(False, description="add the halt/continue Q-head")
    act_max_segments: int = Field(4, gt=0, description="segments after which every row halts")
    act_explore_prob: float = Field(0.1, ge=0, le=1, description="fraction of rows given a random minimum")
    seed: int = Field(0, description="seed of parameter and initial-state initialisation")

    def check(self) -> None:
        """Raise :class:`ConfigError` for combinations the field bounds cannot express."""
        if self.d_model % self.n_heads != 0 or (self.d_model // self.n_heads) % 2 != 0:
            raise ConfigError(
                f"brain/hrm.py: d_model={self.d_model} / n_heads={self.n_heads} must be an even integer "
                "(rotary attention rotates pairs)"
            )


@dataclass
class HRMCarry:
    """Recurrent state between segments: ``z_H`` and ``z_L``, each (B, S, d)."""

    z_H: torch.Tensor
    z_L: torch.Tensor

    def detach(self) -> HRMCarry:
        return HRMCarry(self.z_H.detach(), self.z_L.detach())


class HRMStep(NamedTuple):
    """Result of one segment: detached carry, readout ``z_H[:, 0]`` (B, d), Q logits (B, 2) or None."""

    carry: HRMCarry
    readout: torch.Tensor
    q_logits: torch.Tensor | None


@dataclass
class ACTResult:
    """Result of :meth:`HRM.act_segments`.

    ``readout`` (B, d) and ``carry`` are each row's values at the segment where it halted;
    ``n_segments`` (B,) counts the segments each row ran. The per-segment lists (one entry per segment
    run by any row) feed deep supervision and Q-learning; ``active[k]`` (B,) bool marks the rows still
    running in segment k — losses should be masked with it.
    """

    carry: HRMCarry
    readout: torch.Tensor
    n_segments: torch.Tensor
    readouts: list[torch.Tensor]
    q_logits: list[torch.Tensor]
    active: list[torch.Tensor]


class HRM(nn.Module):
    """Hierarchical Reasoning Model on token sequences (B, S, d_model); see the module docstring."""

    z_H_init: torch.Tensor
    z_L_init: torch.Tensor

    def __init__(self, config: HRMConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        c = config
        # fork_rng: the seed fixes this model's initialisation without disturbing the caller's RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.f_L = BlockStack(c.d_model, c.n_heads, c.l_layers, c.expansion, c.max_tokens)
            self.f_H = BlockStack(c.d_model, c.n_heads, c.h_layers, c.expansion, c.max_tokens)
            # Fixed (not learned) initial states, unit-scale like every post-norm output, as in the paper;
            # persistent buffers so a saved model resets to the same states.
            self.register_buffer(
                "z_H_init", nn.init.trunc_normal_(torch.empty(c.d_model), std=1.0, a=-2, b=2)
            )
            self.register_buffer(
                "z_L_init", nn.init.trunc_normal_(torch.empty(c.d_model), std=1.0, a=-2, b=2)
            )
            self.q_head: nn.Linear | None = None
            if c.act:
                self.q_head = nn.Linear(c.d_model, 2)
                # Zero weights and a strongly negative bias: Q starts flat, so early training neither
                # halts at once nor learns from noise in the Q estimates (paper's initialisation).
                nn.init.zeros_(self.q_head.weight)
                nn.init.constant_(self.q_head.bias, -5.0)

    def initial_carry(self, batch: int, seq_len: int, device: torch.device | str | None = None) -> HRMCarry:
        """The fixed initial states broadcast to (batch, seq_len, d_model)."""
        dev = self.z_H_init.device if device is None else torch.device(device)
        shape = (batch, seq_len, self.config.d_model)
        return HRMCarry(
            self.z_H_init.to(dev).expand(shape).clone(), self.z_L_init.to(dev).expand(shape).clone()
        )

    def reset(self, carry: HRMCarry, mask: torch.Tensor) -> HRMCarry:
        """Rows where ``mask`` (B,) bool is True go back to the initial state; the others are kept."""
        if mask.shape != (carry.z_H.shape[0],):
            raise ConfigError(
                f"brain/hrm.py: reset mask has shape {tuple(mask.shape)}, expected ({carry.z_H.shape[0]},)"
            )
        m = mask.to(device=carry.z_H.device, dtype=torch.bool)[:, None, None]
        h0 = self.z_H_init.to(carry.z_H.device, carry.z_H.dtype)
        l0 = self.z_L_init.to(carry.z_L.device, carry.z_L.dtype)
        return HRMCarry(torch.where(m, h0, carry.z_H), torch.where(m, l0, carry.z_L))

    def _check_input(self, carry: HRMCarry, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.config.d_model:
            raise ConfigError(
                f"brain/hrm.py: tokens must be (B, S, {self.config.d_model}), got {tuple(x.shape)}"
            )
        if carry.z_H.shape != x.shape or carry.z_L.shape != x.shape:
            raise ConfigError(
                f"brain/hrm.py: carry {tuple(carry.z_H.shape)} does not match tokens {tuple(x.shape)}"
            )

    def forward(self, carry: HRMCarry, x: torch.Tensor) -> HRMStep:
        """One segment: N cycles of T low steps from ``carry`` on tokens ``x`` (B, S, d_model)."""
        self._check_input(carry, x)
        c = self.config
        z_H, z_L = carry.z_H, carry.z_L
        n_low = c.n_cycles * c.t_steps
        grad_from = n_low - 1 if c.one_step_grad else 0  # first low step that is differentiated
        with torch.no_grad():
            for i in range(grad_from):
                z_L = self.f_L(z_L + z_H + x)
                if (i + 1) % c.t_steps == 0:
                    z_H = self.f_H(z_H + z_L)
        for i in range(grad_from, n_low):
            z_L = self.f_L(z_L + z_H + x)
            if (i + 1) % c.t_steps == 0:
                z_H = self.f_H(z_H + z_L)
        readout = z_H[:, 0]
        q_logits = self.q_head(readout) if self.q_head is not None else None
        return HRMStep(HRMCarry(z_H.detach(), z_L.detach()), readout, q_logits)

    def segments(self, carry: HRMCarry, x: torch.Tensor, n_segments: int) -> tuple[HRMCarry, list[HRMStep]]:
        """Deep supervision: ``n_segments`` segments, carry detached between them.

        Returns the final carry and every segment's :class:`HRMStep`; apply a loss to each readout (the
        gradient of segment k stops at the carry it started from).
        """
        if n_segments <= 0:
            raise ConfigError(f"brain/hrm.py: n_segments must be positive, got {n_segments}")
        steps: list[HRMStep] = []
        for _ in range(n_segments):
            step = self(carry, x)
            steps.append(step)
            carry = step.carry
        return carry, steps

    def min_segments(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exploration: (B,) minimum segment counts — with prob ``act_explore_prob`` uniform on
        [2, act_max_segments], else 1. Drawn on the CPU so a generator gives the same draws on any device."""
        c = self.config
        explore = torch.rand(batch, generator=generator) < c.act_explore_prob
        low = min(2, c.act_max_segments)
        draws = torch.randint(low, c.act_max_segments + 1, (batch,), generator=generator)
        return torch.where(explore, draws, torch.ones_like(draws))

    def act_segments(
        self, carry: HRMCarry, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> ACTResult:
        """Run segments until every row halts (Q-head rule; exploration in training mode only).

        A row halts after segment k when ``k == act_max_segments`` or when ``q_halt > q_continue`` and
        ``k >= min_segments`` (1 in eval, see :meth:`min_segments` in training). A halted row's carry and
        readout stay frozen while the others run on.
        """
        if self.q_head is None:
            raise ConfigError("brain/hrm.py: act_segments needs HRMConfig(act=True)")
        c = self.config
        b = x.shape[0]
        dev = x.device
        if self.training:
            min_seg = self.min_segments(b, generator).to(dev)
        else:
            min_seg = torch.ones(b, dtype=torch.long, device=dev)
        running = torch.ones(b, dtype=torch.bool, device=dev)
        n_seg = torch.zeros(b, dtype=torch.long, device=dev)
        readout: torch.Tensor | None = None
        readouts: list[torch.Tensor] = []
        q_list: list[torch.Tensor] = []
        active: list[torch.Tensor] = []
        for k in range(1, c.act_max_segments + 1):
            step = self(carry, x)
            assert step.q_logits is not None
            m3 = running[:, None, None]
            carry = HRMCarry(
                torch.where(m3, step.carry.z_H, carry.z_H), torch.where(m3, step.carry.z_L, carry.z_L)
            )
            readout = (
                step.readout if readout is None else torch.where(running[:, None], step.readout, readout)
            )
            readouts.append(step.readout)
            q_list.append(step.q_logits)
            active.append(running.clone())
            n_seg = n_seg + running.long()
            wants_halt = (step.q_logits[:, 0] > step.q_logits[:, 1]) & (k >= min_seg)
            running = running & ~(wants_halt | (k >= c.act_max_segments))
            if not bool(running.any()):
                break
        assert readout is not None
        return ACTResult(carry, readout, n_seg, readouts, q_list, active)


def act_targets(halt_reward: torch.Tensor, next_q_logits: torch.Tensor, at_max: torch.Tensor) -> torch.Tensor:
    """Q-learning targets (B, 2) in [0, 1] for the (halt, continue) logits of one segment.

    * halt target: ``halt_reward`` (B,), the value in [0, 1] of stopping now (the paper uses 1 when the
      answer is correct; a trading learner supplies e.g. a squashed reward of acting on this readout);
    * continue target: the value of the next segment, ``sigmoid(next q_halt)`` when the next segment is
      the last one allowed (``at_max`` (B,) bool) and ``sigmoid(max(next q_halt, next q_continue))``
      otherwise. ``next_q_logits`` should come from the next segment under ``torch.no_grad()``.

    Train the Q-head with ``binary_cross_entropy_with_logits(q_logits, act_targets(...))``.
    """
    nxt = next_q_logits.detach()
    cont = torch.sigmoid(torch.where(at_max.to(torch.bool), nxt[:, 0], nxt.max(dim=-1).values))
    return torch.stack((halt_reward.to(cont.dtype), cont), dim=-1)
