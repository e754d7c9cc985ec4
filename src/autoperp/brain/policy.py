"""The trading policy: encoders → token sequence → HRM (or flat) → actor and critic heads (DESIGN.md §4–5).

Token sequence, in order (one token each unless noted)::

    [decision; day, slow, regime, alt (slow context); fast (+ n_recent_tokens), flow (fast); chart; sentiment;
     account]

Each token gets a token-type embedding; a modality that is absent in a row, or switched off in the config,
is replaced by its learned absent embedding. The backbone is read out at the decision token.

Constant tokens (the decision token, absent embeddings of switched-off or missing modalities) get their
type embedding once per call on a (1, d) row and are broadcast, and an encoder runs only where its field is
given; the result equals building every token then adding type embeddings, element for element.

Actions are target positions in [-1, 1] as a fraction of the allowed leverage (the caller multiplies by
``max_leverage``):

* ``"gaussian"``: a = tanh(u), u ~ N(mean, std). ``log_prob`` includes the change-of-variables term
  ``-log(1 - tanh(u)^2)``, computed as ``2·(log 2 - u - softplus(-2u))`` for stability; an action given
  from outside is clamped to ±(1 - 1e-6) before ``atanh``. ``entropy`` is that of the base Gaussian (the
  squashed one has no closed form), as is usual for PPO with tanh squashing.
* ``"categorical"``: a uniform grid of ``n_bins`` target positions from -1 to 1; an outside action is
  mapped to its nearest bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from autoperp.brain.encoders import (
    AbsentEmbedding,
    AccountEncoder,
    AltEncoder,
    ChartEncoder,
    FlowEncoder,
    PriceEncoder,
    SentimentEncoder,
    TokenTypeEmbedding,
)
from autoperp.brain.flat import matched_flat
from autoperp.brain.hrm import HRM, HRMCarry, HRMConfig
from autoperp.brain.observation import MODALITIES, Observation
from autoperp.brain.zira import ZiraMode
from autoperp.core.errors import ConfigError

__all__ = [
    "Modality",
    "Policy",
    "PolicyCarry",
    "PolicyConfig",
    "PolicyOutput",
    "pick_device",
    "random_observation",
]

Modality = Literal["day", "slow", "alt", "fast", "flow", "chart", "sentiment", "account"]

#: HRM carry when the backbone is "hrm"; None for the stateless flat backbone.
PolicyCarry = HRMCarry | None

#: Bound of a tanh-squashed action fed back to ``log_prob`` (atanh(±1) is infinite).
ACTION_CLAMP = 1.0 - 1e-6


def pick_device(prefer: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; otherwise the named device."""
    if prefer == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(prefer)


class PolicyConfig(BaseModel):
    """Shape, switches and action space of a :class:`Policy`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_model: int = Field(128, gt=0, description="token width")
    n_heads: int = Field(4, gt=0)
    h_layers: int = Field(2, gt=0, description="blocks in the HRM's slow module f_H")
    l_layers: int = Field(2, gt=0, description="blocks in the HRM's fast module f_L")
    n_cycles: int = Field(2, gt=0, description="HRM high cycles per decision")
    t_steps: int = Field(2, gt=0, description="HRM low steps per high cycle")
    expansion: float = Field(4.0, gt=0, description="SwiGLU width multiple")
    backbone: Literal["hrm", "flat"] = "hrm"
    zira_mode: ZiraMode = "zira"
    modalities: tuple[Modality, ...] = Field(default=tuple(MODALITIES), description="modalities switched on")  # type: ignore[arg-type]
    price_features: int = Field(5, gt=0, description="features per bar (e.g. OHLCV returns)")
    fast_window: int = Field(64, ge=2, description="1m bars in the fast window")
    slow_window: int = Field(48, ge=2, description="hourly bars in the slow window")
    day_window: int = Field(30, ge=2, description="daily bars in the day window")
    n_recent_tokens: int = Field(0, ge=0, description="extra fast tokens from the last rows' projections")
    n_regime: int = Field(5, gt=0)
    flow_features: int = Field(6, gt=0)
    alt_features: int = Field(4, gt=0)
    sentiment_features: int = Field(4, gt=0)
    account_features: int = Field(
        4, gt=0, description="account vector: exposure, uPnL, margin ratio, funding eta"
    )
    chart_channels: tuple[int, ...] = (8, 16, 32)
    chart_height: int = Field(64, gt=0)
    chart_width: int = Field(60, gt=0)
    action: Literal["gaussian", "categorical"] = "gaussian"
    n_bins: int = Field(21, ge=2, description="grid points of the categorical action")
    max_leverage: float = Field(1.0, gt=0, description="the caller's scale of an action of 1")
    init_log_std: float = Field(-0.5, description="initial log std of the Gaussian's base")
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`ConfigError` for combinations the field bounds cannot express."""
        unknown = set(self.modalities) - set(MODALITIES)
        if unknown:
            raise ConfigError(f"brain/policy.py: field 'modalities' has unknown {sorted(unknown)}")
        self.hrm_config().check()

    def n_tokens(self) -> int:
        """Length of the token sequence (switched-off modalities keep their absent tokens)."""
        return 10 + self.n_recent_tokens

    def hrm_config(self) -> HRMConfig:
        return HRMConfig(
            d_model=self.d_model,
            n_heads=self.n_heads,
            h_layers=self.h_layers,
            l_layers=self.l_layers,
            n_cycles=self.n_cycles,
            t_steps=self.t_steps,
            expansion=self.expansion,
            max_tokens=max(16, self.n_tokens()),
            seed=self.seed,
        )


@dataclass
class PolicyOutput:
    """Distribution parameters, value (B,) and the new carry.

    Gaussian: ``mean`` (B,) and ``log_std`` (B,) of the pre-tanh base; categorical: ``logits`` (B, n_bins).
    """

    value: torch.Tensor
    carry: PolicyCarry
    mean: torch.Tensor | None = None
    log_std: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class Policy(nn.Module):
    """Actor-critic over :class:`Observation` batches; see the module docstring."""

    grid: torch.Tensor
    type_ids: torch.Tensor

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        config.check()
        self.config = c = config
        d = c.d_model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            on = set(c.modalities)
            windows = {"fast": c.fast_window, "slow": c.slow_window, "day": c.day_window}
            self.encoders = nn.ModuleDict()
            for name in ("day", "slow", "fast"):
                if name in on:
                    recent = c.n_recent_tokens if name == "fast" else 0
                    self.encoders[name] = PriceEncoder(
                        name, c.price_features, d, windows[name], c.zira_mode, c.n_regime, recent
                    )
            if "alt" in on:
                self.encoders["alt"] = AltEncoder(c.alt_features, d)
            if "flow" in on:
                self.encoders["flow"] = FlowEncoder(c.flow_features, d)
            if "chart" in on:
                self.encoders["chart"] = ChartEncoder(d, c.chart_channels, c.chart_height, c.chart_width)
            if "sentiment" in on:
                self.encoders["sentiment"] = SentimentEncoder(c.sentiment_features, d)
            if "account" in on:
                self.encoders["account"] = AccountEncoder(c.account_features, d)
            self.absent = nn.ModuleDict({m: AbsentEmbedding(self._tokens_of(m), d) for m in MODALITIES})
            self.decision = nn.Parameter(torch.randn(1, 1, d) * 0.5)
            self.regime_proj = nn.Linear(c.n_regime, d)
            # Type ids follow the token order of the module docstring: one type per slot kind.
            ids = [0, 1, 2, 3, 4, 5] + [6] * c.n_recent_tokens + [7, 8, 9, 10]
            self.register_buffer("type_ids", torch.tensor(ids, dtype=torch.long), persistent=False)
            self.types = TokenTypeEmbedding(11, d)
            self.hrm: HRM | None = None
            self.flat: nn.Module | None = None
            if c.backbone == "hrm":
                self.hrm = HRM(c.hrm_config())
            else:
                self.flat = matched_flat(c.hrm_config())
            self.norm = nn.RMSNorm(d)
            out = 1 if c.action == "gaussian" else c.n_bins
            self.actor = nn.Linear(d, out)
            # Small actor weights (PPO practice): the first policy is near-uniform / near-zero mean.
            nn.init.normal_(self.actor.weight, std=0.01)
            nn.init.zeros_(self.actor.bias)
            self.critic = nn.Linear(d, 1)
            nn.init.normal_(self.critic.weight, std=1.0 / math.sqrt(d))
            nn.init.zeros_(self.critic.bias)
            self.log_std = nn.Parameter(torch.full((1,), c.init_log_std))
        self.register_buffer("grid", torch.linspace(-1.0, 1.0, c.n_bins), persistent=False)

    def _tokens_of(self, modality: str) -> int:
        return 1 + self.config.n_recent_tokens if modality == "fast" else 1

    # -- tokens ------------------------------------------------------------------------------------------

    def _modality_tokens(self, obs: Observation, name: str, type_vec: torch.Tensor) -> torch.Tensor:
        """Tokens of one modality (B, n, d) with its type embedding ``type_vec`` (n, d) added."""
        b = obs.batch
        value = getattr(obs, name)
        encoder = self.encoders[name] if name in self.encoders else None  # noqa: SIM401 (ModuleDict)
        absent_weight: torch.Tensor = self.absent[name].weight  # type: ignore[assignment]
        absent = absent_weight + type_vec  # (n, d)
        if encoder is None or value is None:
            return absent[None].expand(b, -1, -1)
        mask = obs.presence.get(name)
        if mask is None:
            # Present in every row: no masking, so the encoder sees the field as given.
            return self._encode(encoder, value, obs.regime) + type_vec
        present = mask.to(value.device)
        # Absent rows are encoded from zeros: NaNs there must not reach the gradients of shared weights.
        clean = torch.where(
            present.view(-1, *([1] * (value.dim() - 1))),
            value,
            torch.zeros((), dtype=value.dtype, device=value.device),
        )
        tokens = self._encode(encoder, clean, obs.regime) + type_vec
        # torch.where, not a blend: an absent row's input values cannot leak into its tokens.
        return torch.where(present[:, None, None], tokens, absent.to(tokens.dtype))

    @staticmethod
    def _encode(encoder: nn.Module, value: torch.Tensor, regime: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = encoder(value, regime) if isinstance(encoder, PriceEncoder) else encoder(value)
        return out

    def tokens(self, obs: Observation) -> torch.Tensor:
        """The token sequence (B, S, d_model) with token-type embeddings added."""
        c = self.config
        if obs.regime.shape[1] != c.n_regime:
            raise ConfigError(
                f"brain/policy.py: field 'regime' has {obs.regime.shape[1]} features, expected {c.n_regime}"
            )
        b = obs.batch
        emb = self.types.table(self.type_ids)  # (S, d): the type embedding of every slot
        f = 6 + c.n_recent_tokens  # slot after the fast tokens
        parts = [
            (self.decision + emb[0]).expand(b, -1, -1),
            self._modality_tokens(obs, "day", emb[1:2]),
            self._modality_tokens(obs, "slow", emb[2:3]),
            (self.regime_proj(obs.regime) + emb[3])[:, None, :],
            self._modality_tokens(obs, "alt", emb[4:5]),
            self._modality_tokens(obs, "fast", emb[5:f]),
            self._modality_tokens(obs, "flow", emb[f : f + 1]),
            self._modality_tokens(obs, "chart", emb[f + 1 : f + 2]),
            self._modality_tokens(obs, "sentiment", emb[f + 2 : f + 3]),
            self._modality_tokens(obs, "account", emb[f + 3 : f + 4]),
        ]
        return torch.cat(parts, dim=1)

    # -- carry -------------------------------------------------------------------------------------------

    def initial_carry(self, batch: int, device: torch.device | str | None = None) -> PolicyCarry:
        """The backbone's initial state for ``batch`` rows (None for the flat backbone)."""
        if self.hrm is None:
            return None
        return self.hrm.initial_carry(batch, self.config.n_tokens(), device)

    def reset_carry(self, carry: PolicyCarry, mask: torch.Tensor) -> PolicyCarry:
        """Rows where ``mask`` (B,) is True (episode ends) go back to the initial state."""
        if self.hrm is None or carry is None:
            return carry
        return self.hrm.reset(carry, mask)

    # -- forward -----------------------------------------------------------------------------------------

    def forward(self, obs: Observation, carry: PolicyCarry = None) -> PolicyOutput:
        """One decision per row. ``carry=None`` with the HRM backbone starts from the initial state."""
        x = self.tokens(obs)
        if self.hrm is not None:
            if carry is None:
                carry = self.initial_carry(obs.batch, x.device)
            assert carry is not None
            step = self.hrm(carry, x)
            readout, new_carry = step.readout, step.carry
        else:
            assert self.flat is not None
            readout, new_carry = self.flat(x), None
        h = self.norm(readout)
        value = self.critic(h).squeeze(-1)
        head = self.actor(h)
        if self.config.action == "gaussian":
            mean = head.squeeze(-1)
            return PolicyOutput(value, new_carry, mean=mean, log_std=self.log_std.expand_as(mean))
        return PolicyOutput(value, new_carry, logits=head)

    # -- distribution ------------------------------------------------------------------------------------

    def log_prob(self, out: PolicyOutput, action: torch.Tensor) -> torch.Tensor:
        """log density (Gaussian, w.r.t. the action in [-1, 1]) or log probability (categorical), (B,)."""
        if out.mean is not None and out.log_std is not None:
            a = action.clamp(-ACTION_CLAMP, ACTION_CLAMP)
            u = torch.atanh(a)
            return _squashed_log_prob(u, out.mean, out.log_std)
        assert out.logits is not None
        idx = self.bin_of(action)
        return F.log_softmax(out.logits, dim=-1).gather(-1, idx[:, None]).squeeze(-1)

    def entropy(self, out: PolicyOutput) -> torch.Tensor:
        """(B,) entropy: the base Gaussian's for ``"gaussian"``, the exact one for ``"categorical"``."""
        if out.log_std is not None:
            return out.log_std + 0.5 * (1.0 + math.log(2 * math.pi))
        assert out.logits is not None
        logp = F.log_softmax(out.logits, dim=-1)
        return -(logp.exp() * logp).sum(-1)

    def bin_of(self, action: torch.Tensor) -> torch.Tensor:
        """(B,) index of the grid point nearest to each action."""
        return (action[:, None] - self.grid.to(action.dtype)[None]).abs().argmin(dim=-1)

    def act(
        self, obs: Observation, carry: PolicyCarry = None, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, PolicyCarry]:
        """(action in [-1, 1] (B,), log_prob (B,), value (B,), new carry).

        Deterministic: tanh(mean) or the most likely bin; otherwise a sample (torch's global RNG).
        """
        out = self(obs, carry)
        if out.mean is not None and out.log_std is not None:
            u = out.mean if deterministic else out.mean + out.log_std.exp() * torch.randn_like(out.mean)
            action = torch.tanh(u)
            logp = _squashed_log_prob(u, out.mean, out.log_std)
        else:
            assert out.logits is not None
            if deterministic:
                idx = out.logits.argmax(dim=-1)
            else:
                idx = torch.distributions.Categorical(logits=out.logits).sample()
            action = self.grid.to(out.logits.dtype)[idx]
            logp = F.log_softmax(out.logits, dim=-1).gather(-1, idx[:, None]).squeeze(-1)
        return action, logp, out.value, out.carry


def _squashed_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log p(tanh(u)) = log N(u; mean, std) - log(1 - tanh(u)^2)."""
    z = (u - mean) * torch.exp(-log_std)
    base = -0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)
    log_det = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    return base - log_det


def random_observation(
    config: PolicyConfig, batch: int, generator: torch.Generator | None = None
) -> Observation:
    """An :class:`Observation` of standard-normal features (chart pixels uniform on [0, 1]) shaped for
    ``config``, every modality present. For tests, benchmarks and smoke runs only."""
    c = config

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    return Observation(
        regime=normal(batch, c.n_regime),
        fast=normal(batch, c.fast_window, c.price_features),
        slow=normal(batch, c.slow_window, c.price_features),
        day=normal(batch, c.day_window, c.price_features),
        flow=normal(batch, c.flow_features),
        alt=normal(batch, c.alt_features),
        chart=torch.rand(batch, 1, c.chart_height, c.chart_width, generator=generator),
        sentiment=normal(batch, c.sentiment_features),
        account=normal(batch, c.account_features),
    )
