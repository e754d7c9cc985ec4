"""The backtest report in the terminal: rich tables after freqtrade's backtest summary, and a notes panel."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from autoperp.backtest.report.formatting import DASH
from autoperp.backtest.report.stats import RunStats, run_stats
from autoperp.backtest.report.tables import (
    TableSpec,
    exit_reason_table,
    monthly_table,
    pair_table,
    summary_table,
)
from autoperp.backtest.run_result import BacktestRun

__all__ = ["print_report", "rich_table"]


def _styled(text: str, signed: bool) -> Text:
    if not signed or text in (DASH, "") or text.lstrip("-").strip("0.,%") == "":
        return Text(text)
    return Text(text, style="red" if text.startswith("-") else "green")


def rich_table(spec: TableSpec) -> Table:
    """A :class:`TableSpec` as a rich table (TOTAL row set apart, signed cells coloured)."""
    table = Table(title=spec.title, box=box.HEAVY_HEAD, title_style="bold", caption=spec.caption or None)
    for i, col in enumerate(spec.columns):
        # the first column names the row (a pair, a month): keep it whole, it is what the eye looks up
        width = (
            max((len(r[i]) for r in [*spec.rows, spec.total or []] if len(r) > i), default=0)
            if i == 0
            else None
        )
        table.add_column(
            col.header, justify="right" if col.numeric else "left", no_wrap=col.numeric, min_width=width
        )
    for i, row in enumerate(spec.rows):
        last = i == len(spec.rows) - 1 and spec.total is not None
        table.add_row(
            *(_styled(c, col.signed) for c, col in zip(row, spec.columns, strict=True)), end_section=last
        )
    if spec.total is not None:
        table.add_row(
            *(_styled(c, col.signed) for c, col in zip(spec.total, spec.columns, strict=True)), style="bold"
        )
    return table


def print_report(run: BacktestRun, console: Console, *, stats: RunStats | None = None) -> None:
    """Print the report of ``run``: per-pair, exit-reason, summary and monthly tables and the notes.

    ``stats`` may be passed when already computed (:func:`~autoperp.backtest.report.stats.run_stats`).
    """
    stats = stats or run_stats(run)
    console.print(rich_table(pair_table(stats)))
    if len(stats.round_trips):
        console.print(rich_table(exit_reason_table(stats.round_trips)))
    console.print(rich_table(summary_table(run, stats)))
    if stats.portfolio.monthly:
        console.print(rich_table(monthly_table(stats.portfolio)))
    notes = stats.portfolio.notes
    if notes:
        body = Text("\n".join(f"• {n}" for n in notes))
        console.print(Panel(body, title="Notes", title_align="left", border_style="yellow", expand=False))
