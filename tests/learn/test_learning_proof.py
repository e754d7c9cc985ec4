"""The learning proof: PPO learns a planted edge and keeps most of the oracle's Sharpe on held-out seeds.

Market: ``data.synthetic_edge`` (persistent up/down trends separated by chop, with the regime readable
from the taker-buy share). Training: 8 series of 20k 1m bars, a small stage-1 policy (flat backbone,
d_model 64, modalities fast/flow/account, short/flat/long), PPO for :data:`TRAIN_STEPS` decisions of 15m.
Evaluation: deterministic actions on 3 held-out seeds, priced by ``sim.simulate`` at 2 bp taker fee and
1 bp half-spread, against the oracle that knows the latent regime, on the same bars.

Budget: at most :data:`CPU_BUDGET_S` CPU seconds in all (data, training, evaluation; measured ~120 s),
i.e. under 3 minutes on 2 cores (torch runs one thread); the test asserts it as this process's CPU time so
a busy machine does not fail it. PPO discounts steeply (gamma = GAE lambda = 0.5): the best action depends
on the current regime only, and a short horizon keeps the other steps' return noise out of each advantage
(with 0.9/0.9 the outcome swung between 0.6 and 0.95 of the oracle across PPO seeds; with 0.5/0.5 it was
0.87-0.93 on seeds 0, 1, 3).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from autoperp.data.synthetic_edge import oracle_targets
from autoperp.learn.ppo_config import PPOConfig
from tests.learn.edge_harness import (
    HELD_OUT_SEEDS,
    TRAIN_SEEDS,
    edge_data,
    env_config,
    policy_targets,
    sharpe,
    train,
)

TRAIN_STEPS = 102_400
CPU_BUDGET_S = 180.0


@pytest.mark.slow
def test_ppo_learns_the_planted_edge_to_80_percent_of_the_oracle() -> None:
    t0 = time.process_time()
    train_data, held_out = edge_data(TRAIN_SEEDS), edge_data(HELD_OUT_SEEDS)
    cfg = env_config()
    ppo = PPOConfig(total_steps=TRAIN_STEPS, n_envs=64, n_steps=32, epochs=4, minibatches=4, gamma=0.5,
                    gae_lambda=0.5, clip_vf=None, lr=1e-3, ent_coef=0.01, seed=0, torch_threads=1,
                    checkpoint_every=0)  # fmt: skip
    policy, result = train(train_data, cfg, ppo)
    targets, first = policy_targets(policy, held_out, cfg)
    learned, oracle = [], []
    for i, (s, m) in enumerate(zip(held_out.series, held_out.markets, strict=True)):
        o = oracle_targets(s)
        o[: first[i]] = 0.0  # the same bars as the agent: nothing before its first decision
        oracle.append(sharpe(m, o))
        learned.append(sharpe(m, targets[i]))
    cpu = time.process_time() - t0
    report = f"learned {np.round(learned, 1)}, oracle {np.round(oracle, 1)}, cpu {cpu:.0f} s, {result.env_steps} steps"
    assert min(oracle) > 20.0, report
    # both directions are used: a long-only agent tops out near 1/sqrt(2) of the oracle
    decided = np.concatenate([t[f:][~np.isnan(t[f:])] for t, f in zip(targets, first, strict=True)])
    assert (decided > 0.5).mean() > 0.15 and (decided < -0.5).mean() > 0.15, report
    assert np.mean(learned) >= 0.8 * np.mean(oracle), report
    assert cpu < CPU_BUDGET_S, report
