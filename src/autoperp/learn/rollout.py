"""Rollout collection for recurrent PPO: one batched policy call per step over all envs, the HRM carry kept
per env and reset where an episode ended, and GAE(λ) over the collected sequence.

What is stored per step is the *index* of the observation (series, decision bar, account vector), not the
observation itself: the update re-gathers the windows from the FeatureTable, which costs a few µs per row
and keeps a 256 × 32 rollout at a few MB instead of hundreds. The carry at rollout start is stored so the
update can replay each env's time sequence under the current weights (CleanRL's LSTM-PPO scheme).

Truncation: an episode that ends by its step limit or by the data's end (not by liquidation) is bootstrapped
with γ·V(s_final) added to its last reward (the SB3/CleanRL time-limit fix), where s_final is the flat
account at the episode's last bar (the env force-closes there): it is built from ``env.episode_end`` read
before the step and ``env.table.funding_eta``, and V is evaluated with the carry after that step. An env
without those attributes gets truncation treated as terminal, which is defensible because the account
really does end flat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from autoperp.brain.hrm import HRMCarry
from autoperp.brain.observation import Observation
from autoperp.brain.policy import Policy, PolicyCarry, PolicyOutput

__all__ = [
    "EpisodeLog",
    "GatherLike",
    "Rollout",
    "VecEnvLike",
    "collect_rollout",
    "compute_gae",
    "sample_action",
    "sample_log_prob",
    "select_carry",
]

#: EpisodeStats fields averaged into the per-update scalars (``episode_<name>``).
EPISODE_FIELDS = ("return", "sharpe", "calmar", "consistency", "liquidated", "n_steps", "final_equity")
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: Attribute names tried for a field (``return`` is a Python keyword, so a dataclass must spell it otherwise).
_ALIASES = {"return": ("return_", "return", "returns", "episode_return")}


class VecObsLike(Protocol):
    series: np.ndarray
    bar: np.ndarray
    account: np.ndarray


class VecEnvLike(Protocol):
    """What PPO needs of :class:`autoperp.learn.vec_env.VecTradingEnv`.

    Optional: ``episode_end`` ((N,) last bar of each env's current episode) and ``table`` (with
    ``funding_eta`` (S, n_bars)) enable truncation bootstrapping.
    """

    num_envs: int

    def reset(self, seed: int | None = None) -> Any: ...

    def step(self, actions: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, Any]: ...


class GatherLike(Protocol):
    """:class:`autoperp.learn.gather.ObservationGather`: (series, bar, account) → Observation."""

    def __call__(self, series: torch.Tensor, bar: torch.Tensor, account: torch.Tensor) -> Observation: ...


@dataclass
class EpisodeLog:
    """EpisodeStats values of the episodes that ended during one rollout (one list per field)."""

    values: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in EPISODE_FIELDS})

    def add(self, stats: Any, done: np.ndarray) -> None:
        idx = np.flatnonzero(done)
        if idx.size == 0 or stats is None:
            return
        for k in EPISODE_FIELDS:
            arr = None
            for name in _ALIASES.get(k, (k,)):
                arr = stats.get(name) if isinstance(stats, dict) else getattr(stats, name, None)
                if arr is not None:
                    break
            if arr is not None:
                self.values[k].extend(np.asarray(arr, dtype=np.float64)[idx].tolist())

    @property
    def count(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)

    def means(self) -> dict[str, float]:
        """``{"episode_<field>": mean}`` (NaN where no episode ended) plus ``episodes`` (count)."""
        out = {f"episode_{k}": (float(np.mean(v)) if v else float("nan")) for k, v in self.values.items()}
        out["episodes"] = float(self.count)
        return out


@dataclass
class Rollout:
    """One rollout of ``n_steps`` (T) decisions by ``n_envs`` (N) envs, tensors on the policy's device.

    ``dones[t]`` marks envs whose episode ended *after* step t (the carry is reset before step t+1);
    ``rewards`` already include the truncation bootstrap where applied.
    """

    series: torch.Tensor  # (T, N) int64
    bar: torch.Tensor  # (T, N) int64
    account: torch.Tensor  # (T, N, A) float32
    samples: torch.Tensor  # (T, N) float32: pre-tanh u (Gaussian) or grid value (categorical)
    logprobs: torch.Tensor  # (T, N)
    values: torch.Tensor  # (T, N)
    rewards: torch.Tensor  # (T, N)
    dones: torch.Tensor  # (T, N) bool
    carry0: PolicyCarry  # carry at rollout start, (N, ...)
    next_value: torch.Tensor  # (N,) value of the observation after the last step
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None

    @property
    def n_steps(self) -> int:
        return int(self.series.shape[0])

    @property
    def n_envs(self) -> int:
        return int(self.series.shape[1])


def select_carry(carry: PolicyCarry, idx: torch.Tensor) -> PolicyCarry:
    """Rows ``idx`` of a carry (None stays None)."""
    if carry is None:
        return None
    return HRMCarry(carry.z_H[idx], carry.z_L[idx])


def _clone_carry(carry: PolicyCarry) -> PolicyCarry:
    if carry is None:
        return None
    return HRMCarry(carry.z_H.clone(), carry.z_L.clone())


def sample_action(
    policy: Policy, out: PolicyOutput, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sample, action in [-1, 1] for the env, log-probability of the sample), each (B,), drawn with
    ``generator``. See :func:`sample_log_prob` for what a sample is."""
    if out.mean is not None and out.log_std is not None:
        noise = torch.randn(out.mean.shape, generator=generator, device=out.mean.device, dtype=out.mean.dtype)
        sample = out.mean + out.log_std.exp() * noise
        action = torch.tanh(sample)
    else:
        assert out.logits is not None
        probs = F.softmax(out.logits, dim=-1)
        idx = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        sample = action = policy.grid.to(out.logits.dtype)[idx]
    return sample, action, sample_log_prob(policy, out, sample)


def sample_log_prob(policy: Policy, out: PolicyOutput, sample: torch.Tensor) -> torch.Tensor:
    """(B,) log-probability PPO's importance ratio is taken on.

    Gaussian: the sample is the pre-tanh u and this is log N(u; mean, std). The tanh Jacobian term of
    :meth:`Policy.log_prob` does not depend on the weights, so it cancels in the ratio; leaving it out and
    keeping u avoids ``atanh`` of a saturated action: a float32 tanh rounds to ±(1 − 1e-6) or ±1 for
    |u| ≳ 7, and the clamped atanh there would make the ratio of an unchanged-ish policy explode exactly
    when it learns to hold a full position. Categorical: the sample is the grid value, the exact
    log-probability of its bin.
    """
    if out.mean is not None and out.log_std is not None:
        z = (sample - out.mean) * torch.exp(-out.log_std)
        return -0.5 * z * z - out.log_std - _HALF_LOG_2PI
    return policy.log_prob(out, sample)


def _to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def _gather_obs(obs: VecObsLike, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    s = _to_device(obs.series, device).long()
    b = _to_device(obs.bar, device).long()
    a = _to_device(obs.account, device).float()
    return s, b, a


class RolloutState:
    """What carries over between rollouts: the env's current observation, the carry, the episode log."""

    def __init__(
        self, policy: Policy, env: VecEnvLike, gather: GatherLike, seed: int, device: torch.device
    ) -> None:
        self.obs = env.reset(seed=seed)
        self.carry: PolicyCarry = policy.initial_carry(env.num_envs, device)
        self.device = device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        # One call outside inference mode first: constants a module builds lazily and caches (the FFT
        # bases of brain/encoders.py) would otherwise be inference tensors, unusable in the update's graph.
        with torch.no_grad():
            policy(gather(*_gather_obs(self.obs, device)), self.carry)


def _episode_end(env: VecEnvLike) -> np.ndarray | None:
    """A copy of the env's (N,) last bar of each current episode, None when the env does not say."""
    end = getattr(env, "episode_end", None)
    return None if end is None or getattr(env, "table", None) is None else np.array(end, dtype=np.int64)


def _final_obs(
    env: VecEnvLike, series: np.ndarray, end: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(series, bar, account) of the last state of the episodes of envs ``rows``. The VecTradingEnv
    force-closes the position on an episode's last bar, so that state is flat: account =
    [0, 0, 0, funding_eta at that bar]."""
    s, b = series[rows], end[rows]
    account = np.zeros((rows.size, 4), dtype=np.float32)
    account[:, 3] = env.table.funding_eta[s, b]  # type: ignore[attr-defined]
    return s, b, account


def collect_rollout(
    policy: Policy,
    env: VecEnvLike,
    gather: GatherLike,
    state: RolloutState,
    n_steps: int,
    gamma: float,
    bootstrap_truncated: bool = True,
    episodes: EpisodeLog | None = None,
    reward_scale: float = 1.0,
) -> Rollout:
    """Step every env ``n_steps`` times with actions sampled from ``policy`` (in inference mode)."""
    dev = state.device
    n = env.num_envs
    s0, b0, a0 = _gather_obs(state.obs, dev)
    series = torch.empty((n_steps, n), dtype=torch.long, device=dev)
    bar = torch.empty_like(series)
    account = torch.empty((n_steps, n, a0.shape[-1]), dtype=torch.float32, device=dev)
    samples = torch.empty((n_steps, n), dtype=torch.float32, device=dev)
    logprobs = torch.empty_like(samples)
    values = torch.empty_like(samples)
    rewards = torch.empty_like(samples)
    dones = torch.empty((n_steps, n), dtype=torch.bool, device=dev)
    carry0 = _clone_carry(state.carry)
    carry = state.carry
    obs = state.obs
    s, b, a = s0, b0, a0
    with torch.inference_mode():
        for t in range(n_steps):
            series[t], bar[t], account[t] = s, b, a
            out = policy(gather(s, b, a), carry)
            smp, act, logp = sample_action(policy, out, state.generator)
            samples[t], logprobs[t], values[t] = smp, logp, out.value
            end = _episode_end(env) if bootstrap_truncated else None
            prev_series = np.array(obs.series) if end is not None else None
            obs, rew, term, trunc, stats = env.step(act.float().cpu().numpy())
            done = np.logical_or(term, trunc)
            # a copy: the env owns `rew`
            r = torch.tensor(np.asarray(rew, dtype=np.float32) * np.float32(reward_scale), device=dev)
            cut = np.logical_and(trunc, np.logical_not(term))
            if end is not None and prev_series is not None and cut.any():
                idx = np.flatnonzero(cut)
                fs, fb, fa = (_to_device(x, dev) for x in _final_obs(env, prev_series, end, idx))
                rows = _to_device(idx, dev)
                tail = policy(gather(fs.long(), fb.long(), fa.float()), select_carry(out.carry, rows))
                r[rows] += gamma * tail.value.float()
            rewards[t] = r
            done_t = torch.from_numpy(done).to(dev)
            dones[t] = done_t
            if episodes is not None:
                episodes.add(stats, done)
            carry = policy.reset_carry(out.carry, done_t) if done.any() else out.carry
            s, b, a = _gather_obs(obs, dev)
        next_value = policy(gather(s, b, a), carry).value.float()
    state.obs, state.carry = obs, carry
    return Rollout(series, bar, account, samples, logprobs, values, rewards, dones, carry0, next_value)


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), each (T, N): GAE(λ) with the recursion cut after steps where ``dones``."""
    t_len = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(t_len)):
        nxt = next_value if t == t_len - 1 else values[t + 1]
        live = (~dones[t]).to(rewards.dtype)
        delta = rewards[t] + gamma * nxt * live - values[t]
        last = delta + gamma * lam * live * last
        adv[t] = last
    return adv, adv + values


def episode_means(logs: Sequence[EpisodeLog]) -> dict[str, float]:
    """Merge several rollouts' episode logs into one set of means."""
    merged = EpisodeLog()
    for log in logs:
        for k, v in log.values.items():
            merged.values[k].extend(v)
    return merged.means()
