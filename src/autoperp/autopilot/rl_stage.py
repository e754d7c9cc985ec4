"""Demo stage 4: a PPO training of about two minutes on a planted-edge synthetic market, then an out-of-sample
evaluation of the saved model against the baselines (the path of ``autoperp train`` and
``autoperp evaluate --model``).

The market (``data.synthetic_edge``) has persistent trends readable from the taker-buy share, so a small
policy can learn something real in well under a minute; the held-out series has a seed training never
saw. The self-checks: the model directory reloads to the same decisions, the environment's reward sums
to the log growth of equity, the model's held-out Sharpe after costs is positive, and training and
evaluation are recorded in the trial ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape

from autoperp.backtest.evaluation import EvaluationSettings, evaluate_strategy, print_evaluation
from autoperp.backtest.market_data import market_data_from_sim
from autoperp.data.synthetic_edge import generate_edge, oracle_targets
from autoperp.learn.env_config import EnvConfig, RewardConfig
from autoperp.learn.feature_table import TableSpec, build_feature_table
from autoperp.learn.model_store import load_model
from autoperp.learn.model_strategy import ModelStrategy
from autoperp.learn.ppo_config import PPOConfig
from autoperp.learn.train import run_train
from autoperp.learn.train_config import DataSection, PolicySection, SplitSection, TrainConfig
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.metrics.ledger import TrialLedger
from autoperp.metrics.performance import performance
from autoperp.sim import SimConfig, build_market, simulate

__all__ = ["RLStageResult", "run_rl_stage"]

#: 2 bp taker fee, 1 bp half-spread, 1x leverage.
COSTS = SimConfig(taker_fee=2e-4, half_spread=1e-4, leverage=1.0)
#: Windows short enough that a 12k-bar series warms up in a few hundred bars.
SPEC = TableSpec(
    vol_windows=(30, 120, 240), norm_window=240, volume_window=240, slow_window=2, funding_z_window=240
)
HELD_OUT_SEED = 9_001


@dataclass
class RLStageResult:
    model_id: str = ""
    val_sharpe: float = float("nan")
    oos_sharpe: float = float("nan")
    oracle_sharpe: float = float("nan")
    checks: dict[str, bool] = field(default_factory=dict)


def demo_train_config(user_data: Path, steps: int = 102_400) -> TrainConfig:
    """The demo's training run: 8 planted-edge series, 15m decisions, a small stage-1 policy (flat
    backbone, short/flat/long), with the learning proof's settings (tests/learn/test_learning_proof.py);
    shorter runs often settle on staying flat."""
    return TrainConfig(
        data=DataSection(
            user_data_dir=user_data,
            synthetic=True,
            synthetic_kind="planted_edge",
            synthetic_symbols=tuple(f"EDG{c}/USDT:USDT" for c in "ABCDEFGH"),
            synthetic_bars=20_000,
            synthetic_seed=0,
        ),
        env=EnvConfig(
            decision_interval="15m", episode_steps=64, reward=RewardConfig(lambda_dd=0.1), sim=COSTS
        ),
        table=SPEC,
        policy=PolicySection(
            preset="stage1",
            overrides={
                "d_model": 64,
                "n_heads": 4,
                "modalities": ["fast", "flow", "account"],
                "backbone": "flat",
                "action": "categorical",
                "n_bins": 3,
            },
        ),
        ppo=PPOConfig(
            total_steps=steps,
            n_envs=64,
            n_steps=32,
            epochs=4,
            minibatches=4,
            gamma=0.5,
            gae_lambda=0.5,
            reward_scale=300.0,
            clip_vf=None,
            lr=1e-3,
            ent_coef=0.01,
            seed=0,
            torch_threads=1,
            checkpoint_every=0,
        ),
        split=SplitSection(validation_fraction=0.2),
    )


def _sharpe(market_returns: np.ndarray, bar_ms: int) -> float:
    return float(performance(market_returns, bar_ms=bar_ms).sharpe)


def _reward_is_log_growth(config: TrainConfig) -> bool:
    """A random policy's summed Δlog-equity rewards equal log(final/initial) of the env's own account."""
    e = generate_edge(3_000, seed=5)
    m = build_market(e.candles, symbol="EDG", timeframe="1m")
    env_cfg = config.env.model_copy(update={"reward": RewardConfig(lambda_dd=0.0), "episode_steps": 40})
    env = VecTradingEnv([m], build_feature_table([m], None, config.table), env_cfg, n_envs=1, seed=3)
    env.reset()
    rng = np.random.default_rng(0)
    total = 0.0
    while True:
        _, r, term, trunc, stats = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        total += float(r[0])
        if term[0] or trunc[0]:
            final = float(stats.final_equity[0])
            break
    return bool(abs(total - np.log(final / env_cfg.sim.initial_cash)) < 1e-5)


def run_rl_stage(user_data: Path, console: Console) -> RLStageResult:
    """Train → save → reload → evaluate out of sample against the baselines and the oracle."""
    console.rule("[bold]4. reinforcement learning: train, save, evaluate out of sample")
    result = RLStageResult()
    config = demo_train_config(user_data)
    threads = torch.get_num_threads()
    try:
        run = run_train(config, progress=False, say=lambda m: console.print(f"[dim]{escape(m)}[/]"))
    finally:
        torch.set_num_threads(threads)
    result.model_id = run.model_id
    result.val_sharpe = run.metrics.get("val_sharpe", float("nan"))
    console.print(
        f"trained {run.train.env_steps:,} env steps in {run.train.seconds:.1f} s "
        f"({run.train.steps_per_s:,.0f} steps/s); validation Sharpe {result.val_sharpe:.2f}"
    )
    held = generate_edge(12_000, seed=HELD_OUT_SEED)
    market = build_market(held.candles, symbol="EDGE/USDT:USDT", timeframe="1m")
    loaded = load_model(user_data, run.model_id)
    strat = ModelStrategy(
        loaded.policy, loaded.env_config(), loaded.table_spec(), [market], model_id=run.model_id
    )
    again = ModelStrategy(run.policy, config.env, config.table, [market]).targets(
        market_data_from_sim(market)
    )
    targets = strat.targets(market_data_from_sim(market))
    result.checks["model_reloads_to_the_same_decisions"] = bool(
        np.array_equal(np.isnan(targets), np.isnan(again))
        and np.allclose(targets[~np.isnan(targets)], again[~np.isnan(again)])
    )
    result.checks["reward_sums_to_log_equity_growth"] = _reward_is_log_growth(config)
    ledger = TrialLedger.in_user_data(user_data)
    ev = evaluate_strategy(
        strat,
        [market],
        ledger=ledger,
        settings=EvaluationSettings(folds=3),
        sim_config=loaded.env_config().sim,
    )
    print_evaluation(ev, console)
    bar_ms = 60_000
    first = int(np.argmax(np.isfinite(targets)))
    oracle = oracle_targets(held)
    oracle[:first] = 0.0
    result.oracle_sharpe = _sharpe(simulate(market, oracle, COSTS).returns()[first:], bar_ms)
    result.oos_sharpe = _sharpe(simulate(market, targets, COSTS).returns()[first:], bar_ms)
    console.print(
        f"held-out series (seed {HELD_OUT_SEED}), whole span after warm-up: model Sharpe "
        f"{result.oos_sharpe:.2f}, oracle (knows the latent regime) {result.oracle_sharpe:.2f}"
    )
    # a positive held-out Sharpe after costs: the planted edge was learned, not just the pipeline run
    result.checks["learned_an_edge_out_of_sample"] = bool(result.oos_sharpe > 0.0)
    kinds = [(r.kind.value, r.model_id) for r in ledger.records()]
    result.checks["train_and_evaluation_in_the_ledger"] = ("train", run.model_id) in kinds and any(
        k == "evaluate" for k, _ in kinds
    )
    return result
