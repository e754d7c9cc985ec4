"""`autoperp demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from autoperp.autopilot.demo import run_demo
from autoperp.cli.options import CONFIG_OPTION, app_config


def demo(
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the synthetic market (default from config)."
    ),
    days: float | None = typer.Option(
        None, "--days", help="Days of synthetic 1m bars (default from config)."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Run the lifecycle end to end on a synthetic market (no internet, no ../shared needed)."""
    cfg = app_config(config)
    if seed is not None:
        cfg.synthetic.seed = seed
    if days is not None:
        cfg.synthetic.days = days
    run_demo(cfg)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
