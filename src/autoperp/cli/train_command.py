"""`train`: train the trading policy with PPO in the simulator, validate it, save it and record it.

    autoperp train --config train.toml --preset stage1 --steps 200000 --device cuda

The config file holds the run (see :mod:`autoperp.learn.train_config`); command-line options override
it, and ``AUTOPERP__SECTION__KEY`` variables override the file. Without ``--config`` a run trains on
generated markets (``[data] synthetic = true``), which is the quickest way to see it work. The model
lands in ``user_data/models/<id>/``; the validation returns go into the trial ledger (kind ``train``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoperp.core.errors import UsageError
from autoperp.data.scenarios import SCENARIOS
from autoperp.learn.train import run_train
from autoperp.learn.train_config import PRESETS, load_train_config

#: Share of episodes started on a scenario series when ``--scenarios`` is given and the config sets none.
DEFAULT_SCENARIO_PROB = 0.25


def _overrides(
    preset: str | None,
    scenarios: bool,
    device: str | None,
    user_data: Path | None,
    steps: int | None,
    seed: int | None,
    synthetic: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise UsageError(f"--preset {preset!r}: known presets are {', '.join(PRESETS)}")
        out["policy"] = {"preset": preset}
    if device is not None:
        if device not in ("cpu", "cuda"):
            raise UsageError(f"--device {device!r}: use cpu or cuda")
        out.setdefault("ppo", {})["device"] = device
    if steps is not None:
        if steps <= 0:
            raise UsageError(f"--steps {steps}: must be positive")
        out.setdefault("ppo", {})["total_steps"] = steps
    if seed is not None:
        out.setdefault("ppo", {})["seed"] = seed
    if user_data is not None:
        out.setdefault("data", {})["user_data_dir"] = str(user_data)
    if synthetic:
        out.setdefault("data", {})["synthetic"] = True
    if scenarios:
        out["env"] = {"scenarios": sorted(SCENARIOS)}
    return out


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "-"
    if v == int(v) or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4f}"


def train(
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML file of the training run."),
    preset: str | None = typer.Option(None, "--preset", help="Policy size: stage1 or stage2."),
    scenarios: bool = typer.Option(
        False, "--scenarios", help="Mix every stress scenario (flash crash, drought, ...) into training."
    ),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda."),
    user_data: Path | None = typer.Option(
        None, "--user-data", "--userdir", "--user-data-dir", help="user_data directory."
    ),
    steps: int | None = typer.Option(None, "--steps", help="Total env steps (decisions over all envs)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of weights, env starts and action noise."),
    synthetic: bool = typer.Option(False, "--synthetic", help="Train on generated markets."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Train the policy with PPO; print validation metrics; save to user_data/models/<id>/."""
    over = _overrides(preset, scenarios, device, user_data, steps, seed, synthetic or config is None)
    cfg = load_train_config(config, overrides=over)
    if scenarios and cfg.env.scenario_prob == 0.0:
        cfg = cfg.model_copy(
            update={"env": cfg.env.model_copy(update={"scenario_prob": DEFAULT_SCENARIO_PROB})}
        )
    console = Console()
    run = run_train(cfg, progress=not no_progress, say=lambda m: console.print(escape(m), highlight=False))
    t = Table(title=f"Model {run.model_id}", box=box.HEAVY_HEAD)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in run.metrics.items():
        t.add_row(escape(k), _fmt(v))
    console.print(t)
    console.print(f"model: {escape(str(run.path))}", highlight=False)
    if run.trial_id:
        console.print(f"ledger trial: {run.trial_id} (kind train)", highlight=False)
    for note in run.notes:
        console.print(f"note: {escape(note)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
