"""PPO on a toy env whose reward is −(action − sign(feature))²: GAE, learning, reproducibility, replay."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from autoperp.brain.observation import Observation
from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.learn.ppo import explained_variance, train_ppo
from autoperp.learn.ppo_config import PPOConfig
from autoperp.learn.rollout import EpisodeLog, RolloutState, collect_rollout, compute_gae

WINDOW = 4


@dataclass
class FakeObs:
    series: np.ndarray
    bar: np.ndarray
    account: np.ndarray


@dataclass
class FakeStats:
    return_: np.ndarray
    n_steps: np.ndarray

    @property
    def sharpe(self) -> np.ndarray:
        return np.zeros_like(self.return_)


@dataclass
class FakeTable:
    funding_eta: np.ndarray


class SignEnv:
    """N paths over S series of ±1 features; reward −(a − feature[bar])²; episodes of ``length`` steps end
    truncated, and a liquidation-like termination when |a| > ``blowup`` (off by default)."""

    def __init__(self, n_envs: int, n_series: int = 3, n_bars: int = 400, length: int = 8, seed: int = 0):
        rng = np.random.default_rng(123)
        self.feature = np.sign(rng.standard_normal((n_series, n_bars))).astype(np.float32)
        self.num_envs = n_envs
        self.length = length
        self.n_bars = n_bars
        self.rng = np.random.default_rng(seed)
        self.series = np.zeros(n_envs, np.int64)
        self.bar = np.zeros(n_envs, np.int64)
        self.t = np.zeros(n_envs, np.int64)
        self.ret = np.zeros(n_envs, np.float64)
        self.account = np.zeros((n_envs, 4), np.float32)
        self.table = FakeTable(np.zeros_like(self.feature))

    @property
    def episode_end(self) -> np.ndarray:
        return self.bar + self.length - self.t

    def _start(self, rows: np.ndarray) -> None:
        self.series[rows] = self.rng.integers(0, self.feature.shape[0], rows.size)
        self.bar[rows] = self.rng.integers(WINDOW, self.n_bars - self.length - 1, rows.size)
        self.t[rows] = 0
        self.ret[rows] = 0.0

    def reset(self, seed: int | None = None) -> FakeObs:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._start(np.arange(self.num_envs))
        return FakeObs(self.series, self.bar, self.account)

    def step(self, actions: np.ndarray) -> tuple[FakeObs, np.ndarray, np.ndarray, np.ndarray, FakeStats]:
        assert actions.dtype == np.float32 and actions.shape == (self.num_envs,)
        target = self.feature[self.series, self.bar]
        reward = -((actions - target) ** 2).astype(np.float32)
        self.ret += reward
        self.bar += 1
        self.t += 1
        self.account[:, 0] = actions
        terminated = np.zeros(self.num_envs, bool)
        truncated = self.t >= self.length
        done = terminated | truncated
        stats = FakeStats(self.ret.copy(), self.t.copy())
        if done.any():
            self._start(np.flatnonzero(done))
        return FakeObs(self.series, self.bar, self.account), reward, terminated, truncated, stats


class SignGather:
    """fast = the last WINDOW features (the last row is the one rewarded), regime zeros."""

    def __init__(self, env: SignEnv, n_regime: int = 2) -> None:
        self.feature = torch.from_numpy(env.feature)
        self.n_regime = n_regime
        self.offsets = torch.arange(-WINDOW + 1, 1)

    def __call__(self, series: torch.Tensor, bar: torch.Tensor, account: torch.Tensor) -> Observation:
        rows = bar[:, None] + self.offsets[None]
        fast = self.feature[series[:, None], rows][..., None]
        return Observation(regime=torch.zeros(series.shape[0], self.n_regime), fast=fast)


def tiny_policy(backbone: str = "hrm", action: str = "gaussian", seed: int = 0) -> Policy:
    cfg = PolicyConfig(
        d_model=16,
        n_heads=2,
        h_layers=1,
        l_layers=1,
        n_cycles=1,
        t_steps=1,
        modalities=("fast",),
        price_features=1,
        fast_window=WINDOW,
        n_regime=2,
        backbone=backbone,
        action=action,
        n_bins=3,
        seed=seed,
    )
    return Policy(cfg).eval()  # as train_ppo runs it: no random ZIRA band masking


def _config(**kw: object) -> PPOConfig:
    base: dict[str, object] = {
        "total_steps": 16 * 8 * 4,
        "n_envs": 16,
        "n_steps": 8,
        "epochs": 2,
        "minibatches": 2,
        "lr": 3e-3,
        "seed": 0,
        "torch_threads": 1,
    }
    return PPOConfig.model_validate({**base, **kw})


# ------------------------------------------------------------------------------------------------ GAE
def test_gae_matches_a_hand_computation_and_cuts_at_episode_ends() -> None:
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[0.5], [0.4], [0.3]])
    dones = torch.tensor([[False], [True], [False]])
    nv = torch.tensor([10.0])
    g, lam = 0.9, 0.8
    adv, ret = compute_gae(r, v, dones, nv, g, lam)
    d2 = 3.0 + g * 10.0 - 0.3
    d1 = 2.0 - 0.4  # episode ended after step 1: no bootstrap from step 2
    d0 = 1.0 + g * 0.4 - 0.5
    expect = torch.tensor([[d0 + g * lam * d1], [d1], [d2]])
    assert torch.allclose(adv, expect)
    assert torch.allclose(ret, expect + v)


def test_lambda_one_gives_discounted_returns_minus_value() -> None:
    r = torch.ones(4, 2)
    v = torch.zeros(4, 2)
    adv, _ = compute_gae(r, v, torch.zeros(4, 2, dtype=torch.bool), torch.zeros(2), 0.5, 1.0)
    assert torch.allclose(adv[:, 0], torch.tensor([1.875, 1.75, 1.5, 1.0]))


def test_explained_variance_is_one_for_a_perfect_fit_and_nan_for_constant_targets() -> None:
    y = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(y, y) == pytest.approx(1.0)
    assert np.isnan(explained_variance(y, torch.ones(3)))


# ------------------------------------------------------------------------------------------------ rollout
def test_rollout_resets_carry_where_episodes_end_and_bootstraps_truncation() -> None:
    torch.manual_seed(0)
    env = SignEnv(4, length=3)
    pol = tiny_policy()
    gather = SignGather(env)
    state = RolloutState(pol, env, gather, seed=0, device=torch.device("cpu"))
    log = EpisodeLog()
    ro = collect_rollout(
        pol, env, gather, state, n_steps=6, gamma=0.9, bootstrap_truncated=True, episodes=log
    )
    # every env ends after steps 2 and 5 (length 3)
    assert ro.dones[:, 0].tolist() == [False, False, True, False, False, True]
    assert log.count == 8
    # the carry after the last step is the initial one (all envs just ended)
    init = pol.initial_carry(4)
    assert state.carry is not None and init is not None
    assert torch.equal(state.carry.z_H, init.z_H)
    # bootstrap: the truncated step's reward exceeds the env's raw reward by γ·V(final)
    raw = -(
        (torch.tanh(ro.samples[2]) - torch.from_numpy(env.feature[ro.series[2].numpy(), ro.bar[2].numpy()]))
        ** 2
    )
    assert not torch.allclose(ro.rewards[2], raw)
    assert torch.allclose(ro.rewards[1], raw * 0 + ro.rewards[1])
    ro2 = collect_rollout(pol, env, gather, state, n_steps=3, gamma=0.9, bootstrap_truncated=False)
    raw2 = -(
        (
            torch.tanh(ro2.samples[2])
            - torch.from_numpy(env.feature[ro2.series[2].numpy(), ro2.bar[2].numpy()])
        )
        ** 2
    )
    assert torch.allclose(ro2.rewards[2], raw2)


def test_first_epoch_ratio_is_one_after_replay() -> None:
    """Replaying the stored carry under unchanged weights reproduces the rollout's log-probs and values."""
    from autoperp.learn.ppo import _evaluate_minibatch

    env = SignEnv(6, length=4)
    pol = tiny_policy()
    gather = SignGather(env)
    state = RolloutState(pol, env, gather, seed=1, device=torch.device("cpu"))
    collect_rollout(pol, env, gather, state, n_steps=5, gamma=0.99)  # start mid-episode next time
    ro = collect_rollout(pol, env, gather, state, n_steps=7, gamma=0.99)
    idx = torch.tensor([4, 1, 3])
    with torch.no_grad():
        logp, _, value = _evaluate_minibatch(pol, gather, ro, idx)
    assert torch.allclose(logp, ro.logprobs[:, idx], atol=1e-5)
    assert torch.allclose(value, ro.values[:, idx], atol=1e-5)


# ------------------------------------------------------------------------------------------------ learning
@pytest.mark.parametrize(("backbone", "action"), [("hrm", "gaussian"), ("flat", "categorical")])
def test_ppo_learns_the_sign_task(backbone: str, action: str) -> None:
    env = SignEnv(64, length=8)
    pol = tiny_policy(backbone, action)
    # γ = 0.5: the reward depends on the current action only, so a short horizon keeps the advantage
    # noise from later steps low and the test fast.
    cfg = _config(total_steps=64 * 8 * 16, n_envs=64, minibatches=2, epochs=3, lr=6e-3, gamma=0.5)
    res = train_ppo(pol, env, SignGather(env), cfg, progress=False)
    first = res.history[0]["reward_mean"]
    last = np.mean([h["reward_mean"] for h in res.history[-3:]])
    assert first < -0.8, first
    assert last > -0.2, (first, last)
    assert res.env_steps == cfg.n_updates * cfg.batch_size
    assert res.history[-1]["episodes"] > 0
    assert np.isfinite(res.history[-1]["episode_return"])


def test_same_seed_gives_identical_weights_and_another_seed_does_not() -> None:
    def run(seed: int) -> dict[str, torch.Tensor]:
        env = SignEnv(8, length=5)
        pol = tiny_policy()
        train_ppo(pol, env, SignGather(env), _config(n_envs=8, seed=seed), progress=False)
        return {k: v.clone() for k, v in pol.state_dict().items()}

    a, b, c = run(3), run(3), run(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_target_kl_stops_epochs_and_scalars_are_logged() -> None:
    class Log:
        def __init__(self) -> None:
            self.rows: list[tuple[int, dict[str, float]]] = []

        def log(self, step: int, scalars: Mapping[str, float]) -> None:
            self.rows.append((step, dict(scalars)))

    env = SignEnv(8)
    log = Log()
    cfg = _config(n_envs=8, total_steps=256, epochs=8, lr=5e-2, target_kl=1e-6, lr_schedule="linear")
    checkpoints: list[int] = []
    res = train_ppo(
        tiny_policy(),
        env,
        SignGather(env),
        cfg.model_copy(update={"checkpoint_every": 2}),
        logger=log,
        checkpoint=lambda u, s, p, o: checkpoints.append(u),
        progress=False,
    )
    assert [s for s, _ in log.rows] == [64, 128, 192, 256]
    assert checkpoints == [2, 4]
    assert res.history[0]["kl_stop"] == 1.0
    lrs = [r["lr"] for _, r in log.rows]
    assert lrs[0] == pytest.approx(5e-2) and lrs[-1] == pytest.approx(5e-2 / 4)
    for key in (
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_frac",
        "explained_variance",
        "steps_per_s",
        "episode_return",
        "episode_sharpe",
    ):
        assert key in log.rows[0][1]


def test_config_refuses_minibatches_that_do_not_divide_the_envs() -> None:
    with pytest.raises(ValueError, match="divisible"):
        PPOConfig(n_envs=10, minibatches=4)


def test_env_count_must_match_the_config() -> None:
    env = SignEnv(4)
    with pytest.raises(ValueError, match="n_envs"):
        train_ppo(tiny_policy(), env, SignGather(env), _config(n_envs=8), progress=False)


def test_fake_env_throughput_is_reported() -> None:
    env = SignEnv(64)
    t0 = time.perf_counter()
    res = train_ppo(
        tiny_policy(),
        env,
        SignGather(env),
        _config(n_envs=64, n_steps=16, total_steps=64 * 16 * 2),
        progress=False,
    )
    assert res.steps_per_s > 0 and time.perf_counter() - t0 < 60


def test_batched_replay_matches_the_sequential_one_in_outputs_and_gradients() -> None:
    from autoperp.learn.ppo import _evaluate_minibatch

    env = SignEnv(6, length=4)
    pol = tiny_policy()
    gather = SignGather(env)
    state = RolloutState(pol, env, gather, seed=2, device=torch.device("cpu"))
    collect_rollout(pol, env, gather, state, n_steps=3, gamma=0.99)
    ro = collect_rollout(pol, env, gather, state, n_steps=7, gamma=0.99)
    idx = torch.tensor([5, 0, 2])
    grads = []
    outs = []
    for batched in (False, True):
        pol.zero_grad()
        logp, _ent, value = _evaluate_minibatch(pol, gather, ro, idx, batched)
        (logp.sum() + value.square().sum()).backward()
        outs.append((logp.detach(), value.detach()))
        grads.append([p.grad.clone() for p in pol.parameters() if p.grad is not None])
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5) and torch.allclose(
        outs[0][1], outs[1][1], atol=1e-5
    )
    assert len(grads[0]) == len(grads[1]) > 0
    assert all(torch.allclose(a, b, atol=1e-4, rtol=1e-4) for a, b in zip(grads[0], grads[1], strict=True))
