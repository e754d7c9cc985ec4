"""Lifecycle stage 3 — features and brain: features of the stored synthetic market (the live, one-bar-at-a-
time path must equal the batch path), a short supervised pre-training of the stage-1 policy on
triple-barrier labels against a logistic baseline, and streaming decisions with the HRM carry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from autoperp.brain.policy import Policy, random_observation
from autoperp.brain.presets import stage1
from autoperp.core.symbols import Symbol
from autoperp.data.store.parquet import ParquetStore
from autoperp.features.pipeline import FeatureSet
from autoperp.learn.pretrain import PretrainConfig, run_pretrain

EXCHANGE = "synthetic"
_CHECK_BARS = 3_000  # bars fed one at a time to the live feature path


@dataclass
class BrainStageResult:
    checks: dict[str, bool] = field(default_factory=dict)


def _arrays(store: ParquetStore, symbol: Symbol, timeframe: str) -> dict[str, np.ndarray]:
    df = store.read_candles(EXCHANGE, symbol, timeframe)
    cols = ("open", "high", "low", "close", "volume", "taker_buy_volume", "trades")
    return {c: df[c].to_numpy(np.float64) for c in cols if c in df.columns}


def _features_match(arrays: dict[str, np.ndarray], console: Console) -> bool:
    fs = FeatureSet(funding=False, basis=False)
    head = {k: v[:_CHECK_BARS] for k, v in arrays.items()}
    t0 = time.perf_counter()
    batch = fs.compute(arrays)
    dt = time.perf_counter() - t0
    online = fs.online()
    worst = 0.0
    for i in range(_CHECK_BARS):
        live = online.update({k: float(v[i]) for k, v in head.items() if k in fs.inputs()})
        for name, value in live.items():
            ref = batch[name][i]
            if np.isnan(ref) != np.isnan(value):
                worst = np.inf
            elif not np.isnan(ref):
                worst = max(worst, abs(value - ref) / max(abs(ref), 1e-12))
    console.print(
        f"features: {len(batch)} series × {len(arrays['close']):,} bars in {dt * 1e3:.0f} ms; live one-bar "
        f"updates over {_CHECK_BARS:,} bars equal the batch values (max relative difference {worst:.1e})"
    )
    return worst < 1e-9


def _pretrain(arrays: dict[str, np.ndarray], console: Console) -> bool:
    config = PretrainConfig(stride=10, max_samples=1_500, epochs=2, budget_s=30.0, batch_size=128)
    report = run_pretrain(arrays, config, stage1(), device="cpu")
    t = Table(title="pre-training on triple-barrier labels: out-of-sample (purged, embargoed)")
    for c in ("predictor", "log-loss", "accuracy"):
        t.add_column(c, justify="left" if c == "predictor" else "right")
    for row in report.rows:
        t.add_row(row.name, f"{row.log_loss:.4f}", f"{row.accuracy:.3f}")
    console.print(t)
    return all(np.isfinite(r.log_loss) and 0.0 <= r.accuracy <= 1.0 for r in report.rows)


def _streaming(console: Console) -> bool:
    config = stage1()
    policy = Policy(config).eval()
    gen = torch.Generator().manual_seed(0)
    carry = policy.initial_carry(1)
    times, actions = [], []
    with torch.no_grad():
        for _ in range(60):
            obs = random_observation(config, 1, gen)
            t0 = time.perf_counter()
            action, _logp, _value, carry = policy.act(obs, carry, deterministic=True)
            times.append(time.perf_counter() - t0)
            actions.append(float(action[0]))
    lat = np.array(times[10:]) * 1e3
    n_params = sum(p.numel() for p in policy.parameters())
    console.print(
        f"stage-1 policy ({n_params / 1e6:.2f} M parameters, ZIRA + HRM): streaming decisions at batch 1, "
        f"p50 {np.median(lat):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms; actions in [-1, 1]"
    )
    return bool(np.all(np.abs(actions) <= 1.0) and np.all(np.isfinite(actions)))


def run_brain_stage(
    store: ParquetStore, symbols: list[Symbol], timeframe: str, console: Console
) -> BrainStageResult:
    """Features (batch == live) → pre-training vs a logistic baseline → streaming policy decisions."""
    console.rule("[bold]3. features and brain")
    torch.manual_seed(0)
    arrays = _arrays(store, symbols[0], timeframe)
    result = BrainStageResult()
    result.checks["features_live_equals_batch"] = _features_match(arrays, console)
    result.checks["pretrain"] = _pretrain(arrays, console)
    result.checks["streaming_policy"] = _streaming(console)
    return result
