"""Backtest reports: rich tables in the terminal, one self-contained HTML page with plots, and JSON.

``print_report(run, console)`` prints freqtrade-style tables; ``write_reports(run, out_dir)`` writes
``backtest-<run id or strategy>.html`` and ``.json`` and returns their paths. Both compute the
statistics with :func:`run_stats` unless given them.
"""

from __future__ import annotations

import re
from pathlib import Path

from autoperp.backtest.report.files import report_dir, write_atomic
from autoperp.backtest.report.html import render_html
from autoperp.backtest.report.json_report import SCHEMA_VERSION, report_dict, report_json
from autoperp.backtest.report.stats import BacktestStats, MonthlyReturn, RunStats, run_stats
from autoperp.backtest.report.terminal import print_report
from autoperp.backtest.report.trades import round_trips
from autoperp.backtest.run_result import BacktestRun

__all__ = [
    "SCHEMA_VERSION",
    "BacktestStats",
    "MonthlyReturn",
    "RunStats",
    "print_report",
    "report_dict",
    "report_file_stem",
    "round_trips",
    "run_stats",
    "write_reports",
]


def report_file_stem(run: BacktestRun) -> str:
    """``backtest-<run id or strategy>`` with anything but letters, digits, ``._-`` replaced by ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", run.run_id or run.strategy).strip("._") or "run"
    return f"backtest-{name}"


def write_reports(
    run: BacktestRun, out_dir: Path, *, stats: RunStats | None = None, html: bool = True
) -> dict[str, Path]:
    """Write the HTML page (unless ``html`` is false) and the JSON report of ``run`` into ``out_dir``
    (created if missing).

    Returns ``{"html": path, "json": path}`` (no ``"html"`` without the page). Each file appears whole or
    not at all.
    """
    out = report_dir(out_dir)
    stats = stats or run_stats(run)
    stem = report_file_stem(run)
    paths = {"html": out / f"{stem}.html"} if html else {}
    paths["json"] = out / f"{stem}.json"
    write_atomic(paths["json"], report_json(run, stats))
    if html:
        write_atomic(paths["html"], render_html(run, stats))
    return paths
