"""Proximal Policy Optimisation (Schulman et al. 2017) for the recurrent trading policy, CleanRL style.

Per update: collect ``n_steps`` decisions from every env (:func:`collect_rollout`), compute GAE(λ), then
``epochs`` passes over the rollout split into env minibatches. A minibatch replays its envs' time sequence
from the HRM carry stored at rollout start, resetting the carry where an episode ended, so each sample's
carry is recomputed under the current weights; the flat backbone (no carry) is evaluated in one call.

Losses (per minibatch, advantages normalised within it): clipped surrogate
``max(-A·r, -A·clip(r, 1±ε))``, value loss ``½·max((V-R)², (V_old + clip(V-V_old, ±ε_v) - R)²)``
(unclipped when ``clip_vf`` is None), entropy bonus; one Adam step after global grad-norm clipping.
``target_kl`` stops the remaining epochs of an update once the approx KL (Schulman's k3 estimator) passes
it. The policy runs in eval mode throughout: ZIRA's random band masking would make the importance ratio
of an unchanged policy differ from 1.

Reproducible: the env, the action noise (a dedicated ``torch.Generator``) and the minibatch order
(``numpy`` ``default_rng``) are all seeded from ``PPOConfig.seed``; on CPU with a fixed thread count the
same seed gives the same weights bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from autoperp.brain.hrm import HRMCarry
from autoperp.brain.policy import Policy
from autoperp.learn.ppo_config import PPOConfig
from autoperp.learn.rollout import (
    EpisodeLog,
    GatherLike,
    Rollout,
    RolloutState,
    VecEnvLike,
    collect_rollout,
    compute_gae,
    sample_log_prob,
    select_carry,
)

__all__ = ["ScalarLogger", "TrainResult", "explained_variance", "ppo_update", "train_ppo"]


class ScalarLogger(Protocol):
    """Receives the scalars of each update (see :class:`autoperp.learn.scalar_log.ScalarLog`)."""

    def log(self, step: int, scalars: Mapping[str, float]) -> None: ...


#: Called every ``checkpoint_every`` updates with (update, env_steps, policy, optimizer).
CheckpointFn = Callable[[int, int, Policy, torch.optim.Optimizer], None]
#: Called every ``eval_every`` updates with (update, env_steps, policy); returns scalars to log.
EvaluateFn = Callable[[int, int, Policy], Mapping[str, float]]


@dataclass
class TrainResult:
    """Outcome of :func:`train_ppo`: counts, speed (env steps/s, wall clock incl. updates) and scalars."""

    updates: int
    env_steps: int
    seconds: float
    steps_per_s: float
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - pred) / Var(target); NaN when the target is constant."""
    var = float(target.var())
    if var == 0.0 or not math.isfinite(var):
        return float("nan")
    return 1.0 - float((target - pred).var()) / var


def _evaluate_minibatch(
    policy: Policy, gather: GatherLike, ro: Rollout, idx: torch.Tensor, batched: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log-prob, entropy, value), each (T, len(idx)), of the stored actions under the current weights."""
    t_len = ro.n_steps
    if ro.carry0 is None:
        # Stateless backbone: every (t, env) sample is independent, so one batched call does.
        s = ro.series[:, idx].reshape(-1)
        b = ro.bar[:, idx].reshape(-1)
        a = ro.account[:, idx].reshape(-1, ro.account.shape[-1])
        out = policy(gather(s, b, a), None)
        smp = ro.samples[:, idx].reshape(-1)
        shape = (t_len, idx.shape[0])
        return (
            sample_log_prob(policy, out, smp).view(shape),
            policy.entropy(out).view(shape),
            out.value.view(shape),
        )
    carry = select_carry(ro.carry0, idx)
    if batched:
        return _evaluate_batched(policy, gather, ro, idx, carry)
    logps, ents, vals = [], [], []
    for t in range(t_len):
        out = policy(gather(ro.series[t, idx], ro.bar[t, idx], ro.account[t, idx]), carry)
        logps.append(sample_log_prob(policy, out, ro.samples[t, idx]))
        ents.append(policy.entropy(out))
        vals.append(out.value)
        done = ro.dones[t, idx]
        carry = policy.reset_carry(out.carry, done)
    return torch.stack(logps), torch.stack(ents), torch.stack(vals)


def _evaluate_batched(
    policy: Policy, gather: GatherLike, ro: Rollout, idx: torch.Tensor, carry: HRMCarry | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Same result as the sequential replay in two passes: the carries of every step under the current
    weights without a graph, then one differentiated call over all T·B samples. Exact because the HRM
    hands its carry on detached (one-step gradient), so no gradient crosses steps anyway; one large call
    replaces T small forward/backward pairs (far fewer kernel launches on a GPU)."""
    assert carry is not None
    t_len, b = ro.n_steps, idx.shape[0]
    z_h, z_l = [], []
    with torch.no_grad():
        for t in range(t_len):
            assert carry is not None
            z_h.append(carry.z_H)
            z_l.append(carry.z_L)
            if t == t_len - 1:
                break
            out = policy(gather(ro.series[t, idx], ro.bar[t, idx], ro.account[t, idx]), carry)
            carry = policy.reset_carry(out.carry, ro.dones[t, idx])
    stacked = HRMCarry(torch.cat(z_h), torch.cat(z_l))
    a = ro.account[:, idx].reshape(t_len * b, -1)
    out = policy(gather(ro.series[:, idx].reshape(-1), ro.bar[:, idx].reshape(-1), a), stacked)
    shape = (t_len, b)
    logp = sample_log_prob(policy, out, ro.samples[:, idx].reshape(-1)).view(shape)
    return logp, policy.entropy(out).view(shape), out.value.view(shape)


def ppo_update(
    policy: Policy,
    gather: GatherLike,
    ro: Rollout,
    optimizer: torch.optim.Optimizer,
    config: PPOConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    """``epochs`` passes of clipped PPO over ``ro`` (advantages and returns already set); loss scalars."""
    assert ro.advantages is not None and ro.returns is not None
    c = config
    dev = ro.series.device
    n = ro.n_envs
    mb_envs = n // c.minibatches
    stats: dict[str, list[float]] = {
        k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")
    }
    stopped_early = 0.0
    for _epoch in range(c.epochs):
        perm = torch.from_numpy(rng.permutation(n)).to(dev)
        epoch_kl: list[float] = []
        for m in range(c.minibatches):
            idx = perm[m * mb_envs : (m + 1) * mb_envs]
            new_logp, entropy, new_value = _evaluate_minibatch(policy, gather, ro, idx, c.replay == "batched")
            old_logp = ro.logprobs[:, idx]
            adv = ro.advantages[:, idx]
            ret = ro.returns[:, idx]
            old_value = ro.values[:, idx]
            log_ratio = new_logp - old_logp
            ratio = log_ratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1.0) - log_ratio).mean()
                clip_frac = ((ratio - 1.0).abs() > c.clip).float().mean()
            if c.norm_adv and adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1.0 - c.clip, 1.0 + c.clip)).mean()
            if c.clip_vf is not None:
                v_clipped = old_value + (new_value - old_value).clamp(-c.clip_vf, c.clip_vf)
                v_loss = 0.5 * torch.max((new_value - ret) ** 2, (v_clipped - ret) ** 2).mean()
            else:
                v_loss = 0.5 * ((new_value - ret) ** 2).mean()
            ent = entropy.mean()
            loss = pg_loss - c.ent_coef * ent + c.vf_coef * v_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), c.max_grad_norm)
            optimizer.step()
            stats["policy_loss"].append(float(pg_loss.detach()))
            stats["value_loss"].append(float(v_loss.detach()))
            stats["entropy"].append(float(ent.detach()))
            stats["approx_kl"].append(float(approx_kl))
            stats["clip_frac"].append(float(clip_frac))
            epoch_kl.append(float(approx_kl))
        if c.target_kl is not None and float(np.mean(epoch_kl)) > c.target_kl:
            stopped_early = 1.0
            break
    out = {k: float(np.mean(v)) for k, v in stats.items()}
    out["explained_variance"] = explained_variance(ro.values.flatten(), ro.returns.flatten())
    out["kl_stop"] = stopped_early
    return out


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]PPO"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


def train_ppo(
    policy: Policy,
    env: VecEnvLike,
    gather: GatherLike,
    config: PPOConfig,
    *,
    logger: ScalarLogger | None = None,
    checkpoint: CheckpointFn | None = None,
    evaluate: EvaluateFn | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``policy`` in place on ``env`` for ``config.total_steps`` env steps (rounded up to updates).

    ``env.num_envs`` must equal ``config.n_envs``. ``gather`` builds the policy's observations from the
    env's (series, bar, account) on ``config.device``. Scalars per update go to ``logger``;
    ``checkpoint`` is called every ``checkpoint_every`` updates (the caller saves the final model);
    ``evaluate`` every ``eval_every`` updates (its scalars are logged with an ``eval_`` prefix).
    """
    c = config
    if env.num_envs != c.n_envs:
        raise ValueError(f"env has {env.num_envs} envs, PPOConfig.n_envs is {c.n_envs}")
    if c.torch_threads is not None:
        torch.set_num_threads(c.torch_threads)
    dev = torch.device(c.device)
    policy.to(dev)
    policy.eval()
    optimizer = torch.optim.Adam(policy.parameters(), lr=c.lr, eps=c.adam_eps)
    rng = np.random.default_rng(c.seed)
    state = RolloutState(policy, env, gather, c.seed, dev)
    n_updates = c.n_updates
    history: list[dict[str, float]] = []
    env_steps = 0
    t_start = time.perf_counter()
    with _progress(progress) as bar:
        task = bar.add_task("ppo", total=n_updates, info="")
        for update in range(1, n_updates + 1):
            frac = 1.0 - (update - 1) / n_updates if c.lr_schedule == "linear" else 1.0
            lr = c.lr * frac
            for group in optimizer.param_groups:
                group["lr"] = lr
            t0 = time.perf_counter()
            episodes = EpisodeLog()
            ro = collect_rollout(
                policy,
                env,
                gather,
                state,
                c.n_steps,
                c.gamma,
                c.bootstrap_truncated,
                episodes,
                c.reward_scale,
            )
            t_roll = time.perf_counter() - t0
            ro.advantages, ro.returns = compute_gae(
                ro.rewards, ro.values, ro.dones, ro.next_value, c.gamma, c.gae_lambda
            )
            losses = ppo_update(policy, gather, ro, optimizer, c, rng)
            dt = time.perf_counter() - t0
            env_steps += c.batch_size
            scalars: dict[str, float] = {
                "update": float(update),
                "env_steps": float(env_steps),
                "steps_per_s": c.batch_size / dt,
                "rollout_steps_per_s": c.batch_size / max(t_roll, 1e-9),
                "lr": lr,
                "reward_mean": float(ro.rewards.mean()),
                **losses,
                **episodes.means(),
            }
            if evaluate is not None and c.eval_every and update % c.eval_every == 0:
                scalars.update(
                    {f"eval_{k}": float(v) for k, v in evaluate(update, env_steps, policy).items()}
                )
            history.append(scalars)
            if logger is not None:
                logger.log(env_steps, scalars)
            if checkpoint is not None and c.checkpoint_every and update % c.checkpoint_every == 0:
                checkpoint(update, env_steps, policy, optimizer)
            ret = scalars["episode_return"]
            info = f"{scalars['steps_per_s']:,.0f} steps/s  ep.return {ret:+.4f}" if ret == ret else ""
            bar.update(task, advance=1, info=info)
    seconds = time.perf_counter() - t_start
    return TrainResult(n_updates, env_steps, seconds, env_steps / max(seconds, 1e-9), history)
