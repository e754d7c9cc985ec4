"""One training run: data → FeatureTable → VecTradingEnv → policy → PPO → validation → model directory →
trial ledger (kind ``train``).

Split: every series is cut chronologically. Training episodes run only on the first part (up to
``validation_fraction`` of the bars before its end, less ``embargo_bars``); the validation part is walked
once by the trained policy (deterministic actions, carry kept, :func:`~autoperp.learn.model_strategy.
model_targets`) and the targets re-simulated by the sim kernel, so the validation returns are exactly
what a backtest of the model on those bars reports. The validation slice starts ``table.warmup`` bars
early so every feature window is full at its first bar; those warm-up bars are not scored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from autoperp.backtest.data_source import load_from_files, load_from_store
from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.core.config import ValidationConfig
from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.timeframes import timeframe_ms
from autoperp.data.store.parquet import ParquetStore
from autoperp.data.synthetic import generate_series
from autoperp.data.synthetic_edge import generate_edge
from autoperp.learn.feature_table import FeatureTable, build_feature_table
from autoperp.learn.gather import ObservationGather
from autoperp.learn.model_store import data_manifest, make_model_id, model_dir, save_checkpoint, save_model
from autoperp.learn.model_strategy import model_targets
from autoperp.learn.ppo import TrainResult, train_ppo
from autoperp.learn.scalar_log import ScalarLog
from autoperp.learn.train_config import TrainConfig
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.metrics.ledger import DataRange, TrialLedger
from autoperp.metrics.performance import performance
from autoperp.sim.market import SimMarket, build_market
from autoperp.sim.simulate import simulate

__all__ = ["TrainRun", "load_markets", "policy_config_for", "run_train", "split_markets"]

#: Modalities the feature table can feed; the others (day, chart, sentiment) have no inputs here.
TABLE_MODALITIES = ("slow", "alt", "fast", "flow", "account")


@dataclass
class TrainRun:
    """What :func:`run_train` produced: the model, where it is, its validation metrics and ledger trial."""

    model_id: str
    path: Path
    policy: Policy
    train: TrainResult
    metrics: dict[str, float]
    trial_id: str | None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ data
def load_markets(config: TrainConfig) -> tuple[list[SimMarket], list[str]]:
    """(markets, sources) from ``config.data``: generated, from files, or from the store."""
    d = config.data
    tf = d.timeframe
    timeframe_ms(tf)
    if d.synthetic:
        markets = []
        for i, sym in enumerate(d.synthetic_symbols):
            if d.synthetic_kind == "planted_edge":
                e = generate_edge(d.synthetic_bars, seed=d.synthetic_seed + i, timeframe=tf)
                markets.append(build_market(e.candles, symbol=str(sym), timeframe=tf))
                continue
            s = generate_series(d.synthetic_bars, symbol=sym, timeframe=tf, seed=d.synthetic_seed + i)
            mark, funding = s.mark.frame, s.funding.frame
            markets.append(
                build_market(s.candles.frame, mark=mark, funding=funding, symbol=str(sym), timeframe=tf)
            )
        return markets, [f"synthetic ({d.synthetic_kind}) seed {d.synthetic_seed}"]
    timerange = TimeRange.parse(d.timerange)
    symbols = [Symbol.parse(p) for p in d.pairs]
    if d.datafile:
        loaded = load_from_files(
            list(d.datafile), tf, timerange, symbols=symbols, validation=ValidationConfig()
        )
    elif symbols:
        loaded = load_from_store(ParquetStore(d.user_data_dir / "data"), d.exchange, symbols, tf, timerange)
    else:
        raise UsageError("no training data: set [data] datafile, pairs or synthetic = true (or --scenarios)")
    return loaded.markets, loaded.sources


def split_markets(
    markets: list[SimMarket], validation_fraction: float, embargo: int, warmup: int
) -> tuple[list[SimMarket], list[SimMarket], list[int]]:
    """(train parts, validation parts incl. ``warmup`` leading bars, first scored bar of each part)."""
    train, val, first = [], [], []
    for m in markets:
        n = len(m)
        if validation_fraction <= 0:
            train.append(m)
            continue
        v0 = int(n * (1.0 - validation_fraction))
        cut = v0 - embargo
        if cut <= warmup + 1 or n - v0 < 2:
            raise UsageError(
                f"{m.symbol or 'series'}: {n} bars are too few for a {validation_fraction:.0%} validation "
                f"split with {warmup} warm-up bars: give more data or lower split.validation_fraction"
            )
        train.append(m.slice(0, cut))
        lo = max(0, v0 - warmup)
        val.append(m.slice(lo, n))
        first.append(v0 - lo)
    return train, val, first


def policy_config_for(config: TrainConfig, table: FeatureTable) -> PolicyConfig:
    """The preset with overrides, its input widths set from ``table`` and its modalities cut to those the
    table feeds (flow only when the data has taker-buy volume and trade counts)."""
    base = config.policy.policy_config()
    on = [m for m in base.modalities if m in TABLE_MODALITIES and (m != "flow" or table.has_flow)]
    if "fast" not in on:
        on.append("fast")
    spec = table.spec or config.table
    return config.policy.policy_config(
        fast_window=spec.fast_window,
        slow_window=spec.slow_window,
        price_features=len(table.groups["price"]),
        n_regime=len(table.groups["regime"]),
        flow_features=len(table.groups["flow"]),
        alt_features=len(table.groups["alt"]),
        modalities=tuple(on),
        max_leverage=config.env.max_leverage,
        seed=config.ppo.seed,
    )


# ------------------------------------------------------------------------------------------------ validation
def validate_policy(
    policy: Policy, config: TrainConfig, val: list[SimMarket], first: list[int], device: torch.device | str
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """(metrics, ts, per-bar returns): each validation part walked by the policy and re-simulated; the
    returns of several series are averaged per timestamp (an equal-weight book)."""
    series = []
    for m, f in zip(val, first, strict=True):
        targets = model_targets(policy, m, config.env, config.table, device)
        res = simulate(m, targets, config.env.sim)
        r = res.returns()[f:]
        series.append(pd.Series(r, index=m.ts[f:]))
    joined = pd.concat(series, axis=1).sort_index().mean(axis=1)
    ts = joined.index.to_numpy(dtype=np.int64)
    r = joined.to_numpy(dtype=np.float64)
    bar_ms = timeframe_ms(val[0].timeframe or config.data.timeframe)
    rep = performance(r, bar_ms=bar_ms, timestamps_ms=ts)
    metrics = {
        "val_sharpe": rep.sharpe,
        "val_total_return": rep.total_return,
        "val_max_drawdown": rep.max_drawdown,
        "val_calmar": rep.calmar,
        "val_bars": float(rep.bars),
    }
    return {k: float(v) for k, v in metrics.items()}, ts, r


# ------------------------------------------------------------------------------------------------ run
def run_train(
    config: TrainConfig,
    *,
    progress: bool = True,
    record: bool = True,
    say: Callable[[str], None] | None = None,
) -> TrainRun:
    """Train, validate, save to ``user_data/models/<id>/`` and record the run in the trial ledger."""
    out = say or (lambda _msg: None)
    ppo = config.ppo
    if ppo.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    t0 = time.perf_counter()
    markets, sources = load_markets(config)
    if not markets:
        raise UsageError("no training series were loaded")
    probe = build_feature_table(markets, None, config.table)
    train_m, val_m, first = split_markets(
        markets, config.split.validation_fraction, config.split.embargo_bars, probe.warmup
    )
    table = build_feature_table(train_m, None, config.table)
    pcfg = policy_config_for(config, table)
    env = VecTradingEnv(train_m, table, config.env, n_envs=ppo.n_envs, seed=ppo.seed)
    gather = ObservationGather(env.table, pcfg, ppo.device)
    policy = Policy(pcfg)
    model_id = make_model_id(config.policy.preset, config)
    mdir = model_dir(config.data.user_data_dir, model_id)
    mdir.mkdir(parents=True, exist_ok=True)
    n_params = sum(p.numel() for p in policy.parameters())
    out(
        f"model {model_id}: {n_params:,} parameters, modalities {', '.join(pcfg.modalities)}; "
        f"{len(train_m)} series ({sum(len(m) for m in train_m):,} training bars"
        f"{f', {env.table.n_series - len(train_m)} scenario series' if env.table.n_series > len(train_m) else ''}), "
        f"{ppo.n_updates} updates of {ppo.batch_size:,} steps on {ppo.device}"
    )

    def checkpoint(update: int, steps: int, pol: Policy, opt: torch.optim.Optimizer) -> None:
        save_checkpoint(mdir, update, steps, pol, opt)

    evaluate = None
    if val_m and ppo.eval_every:

        def evaluate(update: int, steps: int, pol: Policy) -> Mapping[str, float]:
            return validate_policy(pol, config, val_m, first, ppo.device)[0]

    with ScalarLog(mdir / "scalars.csv", mdir / "tensorboard") as log:
        result = train_ppo(
            policy, env, gather, ppo, logger=log, checkpoint=checkpoint, evaluate=evaluate, progress=progress
        )
    save_checkpoint(mdir, result.updates, result.env_steps, policy, None)
    metrics: dict[str, float] = {
        "env_steps": float(result.env_steps),
        "train_seconds": result.seconds,
        "steps_per_s": result.steps_per_s,
    }
    last = result.last
    for k in (
        "episode_return",
        "episode_sharpe",
        "episode_calmar",
        "episode_consistency",
        "explained_variance",
    ):
        if k in last:
            metrics[f"train_{k}"] = last[k]
    ts = r = None
    if val_m:
        vm, ts, r = validate_policy(policy, config, val_m, first, ppo.device)
        metrics.update(vm)
    manifest_hash, entries = data_manifest(markets)
    manifest: dict[str, Any] = {
        "seed": ppo.seed,
        "preset": config.policy.preset,
        "data_manifest_hash": manifest_hash,
        "series": entries,
        "sources": sources,
        "env_steps": result.env_steps,
    }
    configs = {
        "policy": pcfg,
        "env": config.env,
        "table": config.table,
        "ppo": ppo,
        "data": config.data,
        "split": config.split,
        "train": config,
    }
    save_model(config.data.user_data_dir, model_id, policy, configs, manifest, metrics)
    trial_id = None
    notes: list[str] = []
    if record and ts is not None and r is not None and ts.size:
        bar_ms = timeframe_ms(val_m[0].timeframe or config.data.timeframe)
        symbols = sorted({m.symbol or "?" for m in markets})
        rng = DataRange(symbols, config.data.timeframe, int(ts[0]), int(ts[-1]) + bar_ms, manifest_hash)
        finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
        if "val_sharpe" in finite:
            finite["sharpe"] = finite["val_sharpe"]  # the ledger's listing reads "sharpe"
        rec = TrialLedger.in_user_data(config.data.user_data_dir).record(
            "train",
            model_id,
            f"rl-{config.policy.preset}",
            config,
            rng,
            ts,
            r,
            metrics=finite,
            model_id=model_id,
        )
        trial_id = rec.trial_id
    elif not val_m:
        notes.append("no validation split (split.validation_fraction = 0): nothing recorded in the ledger")
    out(f"done in {time.perf_counter() - t0:.1f} s: {mdir}")
    return TrainRun(model_id, mdir, policy, result, metrics, trial_id, notes)
