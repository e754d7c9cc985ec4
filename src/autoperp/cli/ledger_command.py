"""`list-trials`: what the trial ledger holds (every backtest, training run, evolution trial, evaluation)."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoperp.cli.options import CONFIG_OPTION, app_config
from autoperp.core.time import format_ms
from autoperp.metrics.ledger import TrialKind, TrialLedger, TrialRecord

_MAX_SYMBOLS_SHOWN = 2


def _when(ms: int) -> str:
    # dates alone when the bound is a midnight (the usual timerange); minutes are the finest bar traded
    text = format_ms(ms)
    return text[:10] if text.endswith("00:00:00") else text[:16]


def _data_cell(rec: TrialRecord) -> str:
    dr = rec.data_range
    syms = ",".join(dr.symbols[:_MAX_SYMBOLS_SHOWN])
    if len(dr.symbols) > _MAX_SYMBOLS_SHOWN:
        syms += f" +{len(dr.symbols) - _MAX_SYMBOLS_SHOWN}"
    return f"{syms} {dr.timeframe}"


def _range_cell(rec: TrialRecord) -> str:
    return f"{_when(rec.data_range.start_ms)} → {_when(rec.data_range.end_ms)}"


def _sharpe_cell(rec: TrialRecord) -> str:
    v = rec.metrics.get("sharpe")
    return f"{v:.2f}" if v is not None and math.isfinite(v) else "-"


def list_trials(
    family: str | None = typer.Option(None, "--family", help="Only trials of this family."),
    kind: TrialKind | None = typer.Option(None, "--kind", help="Only trials of this kind."),
    userdir: Path | None = typer.Option(
        None, "--userdir", "--user-data-dir", help="user_data directory (default from config)."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Show the recorded trials: id, kind, family, config hash, data range, bars, Sharpe, when."""
    user_data = userdir if userdir is not None else app_config(config).data.user_data_dir
    ledger = TrialLedger.in_user_data(user_data)
    recs = ledger.records(kind, family)
    console = Console()
    if not recs:
        console.print(f"no trials in {escape(str(ledger.root))}", highlight=False)
        return
    t = Table(title=escape(f"trials in {ledger.root}"))
    for c in ("id", "kind", "family", "name", "config", "data", "range", "bars", "sharpe", "created"):
        t.add_column(
            c,
            justify="right" if c in ("bars", "sharpe") else "left",
            no_wrap=c in ("id", "kind", "config", "bars", "sharpe"),
        )
    for rec in recs:
        t.add_row(
            rec.trial_id,
            rec.kind.value,
            escape(rec.family),
            escape(rec.name),
            rec.config_hash,
            escape(_data_cell(rec)),
            _range_cell(rec),
            f"{rec.n_bars:,}",
            _sharpe_cell(rec),
            format_ms(rec.created_ms)[:16],
        )
    console.print(t)
    selection = ledger.n_trials(family) if family is not None else None
    tail = f"; {selection} count toward DSR's N for family '{family}'" if selection is not None else ""
    console.print(escape(f"{len(recs)} trial(s){tail}"), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("list-trials")(list_trials)
