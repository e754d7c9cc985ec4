"""`autoperp demo`: the lifecycle end to end on an embedded synthetic market, as far as it has landed."""

from __future__ import annotations

import time

from rich.console import Console

from autoperp.autopilot.backtest_stage import run_backtest_stage
from autoperp.autopilot.brain_stage import run_brain_stage
from autoperp.autopilot.data_stage import run_data_stage
from autoperp.autopilot.rl_stage import run_rl_stage
from autoperp.core.config import AppConfig
from autoperp.core.errors import AutoperpError


class DemoCheckFailed(AutoperpError):
    exit_code = 1


def run_demo(cfg: AppConfig, console: Console | None = None) -> dict[str, bool]:
    """Run every landed stage; raises :class:`DemoCheckFailed` if a stage's self-check fails."""
    console = console or Console()
    t0 = time.perf_counter()
    data = run_data_stage(cfg, console)
    checks = {f"data.{k}": v for k, v in data.checks.items()}
    bt = run_backtest_stage(cfg, data.store, data.symbols, console)
    checks.update({f"backtest.{k}": v for k, v in bt.checks.items()})
    brain = run_brain_stage(data.store, data.symbols, cfg.synthetic.timeframe, console)
    checks.update({f"brain.{k}": v for k, v in brain.checks.items()})
    rl = run_rl_stage(cfg.data.user_data_dir, console)
    checks.update({f"rl.{k}": v for k, v in rl.checks.items()})
    console.rule("[bold]summary")
    for name, ok in checks.items():
        console.print(f"  {'[green]ok[/]' if ok else '[red]FAILED[/]'}  {name}")
    console.print(
        f"data stage: {data.rows:,} rows validated, {data.new_rows:,} new rows stored; backtest stage: "
        f"SMA-trend portfolio final equity {bt.final_equity:,.2f} USDT, report {bt.reports['html']}; "
        f"features and the stage-1 brain ran; RL model {rl.model_id}: held-out Sharpe {rl.oos_sharpe:.2f} "
        f"(oracle {rl.oracle_sharpe:.2f}); next stages (trade, diagnose, heal) land with later issues. "
        f"{time.perf_counter() - t0:.1f} s"
    )
    failed = [k for k, v in checks.items() if not v]
    if failed:
        raise DemoCheckFailed(f"demo self-checks failed: {', '.join(failed)}")
    return checks
