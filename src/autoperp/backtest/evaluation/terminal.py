"""The evaluation in the terminal: rich tables (baselines, folds, grid, DSR/PBO) and a notes panel."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from autoperp.backtest.evaluation.result import Evaluation
from autoperp.backtest.evaluation.tables import baseline_table, fold_table, grid_table, overfitting_table
from autoperp.backtest.report.terminal import rich_table

__all__ = ["print_evaluation"]


def print_evaluation(ev: Evaluation, console: Console) -> None:
    """Print every table of ``ev`` and its notes."""
    head = f"{ev.label} on {', '.join(ev.symbols)} {ev.timeframe}" + ("  [VAULT]" if ev.vault else "")
    console.print(Text(head, style="bold"))
    console.print(rich_table(baseline_table(ev)))
    console.print(rich_table(fold_table(ev)))
    if ev.grid:
        console.print(rich_table(grid_table(ev)))
    console.print(rich_table(overfitting_table(ev)))
    if ev.notes:
        body = Text("\n".join(f"• {n}" for n in ev.notes))
        console.print(Panel(body, title="Notes", title_align="left", border_style="yellow", expand=False))
