"""`lookahead-analysis`: does a strategy use data from after the bar it decides on? (freqtrade's verb)

    autoperp lookahead-analysis --strategy sma_trend --pairs FIL/USDT:USDT --timerange 20230401-20230501
    autoperp lookahead-analysis --strategy-path my_strategy.py --datafile FILUSDT-1m-2023-04.csv.gz

Targets (and features, when the strategy has ``features(data)``) are recomputed on the history cut after
``--points`` random bars t and compared with the full-history values at every bar ≤ t; ``decide`` is
checked at the same points. Exit code 0: no value changed; 1: lookahead bias (the table says where);
2: bad input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoperp.backtest.lookahead import LookaheadReport, analyse_lookahead
from autoperp.backtest.market_data import market_data_from_sim
from autoperp.cli import backtest_options as opt
from autoperp.cli.model_options import strategy_or_model
from autoperp.cli.options import CONFIG_OPTION
from autoperp.core.errors import UsageError
from autoperp.core.time import TimeRange, format_ms
from autoperp.learn.model_strategy import ModelStrategy


def _value(x: float) -> str:
    return "NaN" if math.isnan(x) else f"{x:.8g}"


def _summary_table(report: LookaheadReport) -> Table:
    t = Table(title=f"Lookahead bias: {report.strategy} on {report.symbol}", box=box.HEAVY_HEAD)
    for c, right in (
        ("check", False),
        ("value", False),
        ("differing", True),
        ("points", True),
        ("first t", False),
        ("max |Δ|", True),
    ):
        t.add_column(c, justify="right" if right else "left", no_wrap=True)
    for s in report.summary():
        t.add_row(
            s.check,
            escape(s.name),
            f"{s.values:,}",
            f"{s.points}/{len(report.points)}",
            format_ms(report.point_ts(s.first_point))[:16],
            _value(s.max_abs_diff),
        )
    return t


def _findings_table(report: LookaheadReport, limit: int) -> Table:
    t = Table(
        title=f"Biased values (first {min(limit, len(report.findings))} of {report.n_differences:,})",
        box=box.SIMPLE_HEAD,
    )
    for c in ("check", "value", "cut after t", "bar", "bar time (UTC)", "full data", "cut at t"):
        t.add_column(
            c,
            justify="right" if c in ("cut after t", "bar", "full data", "cut at t") else "left",
            no_wrap=True,
        )
    for f in report.findings[:limit]:
        t.add_row(
            f.check,
            escape(f.name),
            str(f.point),
            str(f.bar),
            format_ms(f.ts)[:16],
            _value(f.full),
            _value(f.truncated),
        )
    return t


def _print(report: LookaheadReport, console: Console, show: int) -> None:
    feats = f", features {', '.join(report.features_checked)}" if report.features_checked else ""
    head = (
        f"{report.strategy} on {report.symbol} {report.timeframe}: {report.n_bars:,} bars, "
        f"{len(report.points)} truncation points (t ≥ lookback {report.lookback}), decide() at {len(report.decide_points)}, "
        f"{report.values_compared:,} values compared (targets{feats})"
    )
    console.print(escape(head), highlight=False)
    for n in report.notes:
        console.print(f"  note: {escape(n)}", highlight=False)
    if not report.biased:
        console.print(
            "[bold green]no lookahead bias[/]: every value at t was the same with the bars after t removed"
        )
        return
    console.print(_summary_table(report))
    console.print(_findings_table(report, show))
    errors = [f for f in report.findings if f.check == "error"]
    for f in errors[:3]:
        console.print(f"  t={f.point}: {escape(f.message)}", highlight=False)


def lookahead_analysis(
    strategy: opt.StrategyOption = None,
    strategy_path: opt.StrategyPathOption = None,
    model: opt.ModelOption = None,
    params: opt.ParamsOption = None,
    pairs: opt.PairsOption = None,
    timeframe: opt.TimeframeOption = "1m",
    timerange: opt.TimerangeOption = None,
    datafile: opt.DatafileOption = None,
    datafile_mark: opt.DatafileMarkOption = None,
    datafile_funding: opt.DatafileFundingOption = None,
    exchange: opt.ExchangeOption = None,
    points: int = typer.Option(
        50, "--points", help="Random truncation points per pair (at least 50 advised)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the truncation points."),
    no_features: bool = typer.Option(False, "--no-features", help="Skip the strategy's features(data)."),
    show: int = typer.Option(20, "--show", help="Biased values listed per pair."),
    export: Path | None = typer.Option(None, "--export", help="Also write the full report as JSON here."),
    userdir: opt.UserdirOption = None,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Recompute a strategy on history cut at random bars; exit 1 if any value at t changes."""
    cfg = opt.command_config(config, userdir, timeframe)
    if points < 1:
        raise UsageError(f"--points must be at least 1, got {points}")
    files = opt.DataFiles.of(datafile, datafile_mark, datafile_funding)
    files.refuse_vault()
    symbols = opt.parse_pairs(pairs)
    strat, _ = strategy_or_model(
        model, cfg.data.user_data_dir, strategy=strategy, strategy_path=strategy_path, params=params
    )
    data = opt.load_data(cfg, symbols, timeframe, TimeRange.parse(timerange), exchange, files)
    if isinstance(strat, ModelStrategy):
        # a model decides over the whole series (its account is part of what it sees): no decide()
        strat.bind_markets(data.markets)
    console = Console()
    reports = []
    for market in data.markets:
        report = analyse_lookahead(
            strat,
            market_data_from_sim(market),
            points,
            seed,
            features=not no_features,
            decide_points=0 if isinstance(strat, ModelStrategy) else None,
        )
        _print(report, console, show)
        reports.append(report)
    if export is not None:
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(json.dumps([r.to_json() for r in reports], indent=1, default=str), encoding="utf-8")
        console.print(f"report: {escape(str(export))}", highlight=False)
    biased = [r for r in reports if r.biased]
    if biased:
        total = sum(r.n_differences for r in biased)
        console.print(
            f"[bold red]lookahead bias[/]: {total:,} value(s) changed when later bars were removed "
            f"({', '.join(escape(r.symbol) for r in biased)})"
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("lookahead-analysis", cls=opt.BacktestCommand)(lookahead_analysis)
