"""`backtesting`: run a strategy over history through the simulator and report it (freqtrade's verb).

    autoperp backtesting --strategy sma_trend --pairs FIL/USDT:USDT --timeframe 1m \\
        --timerange 20230401-20230701 [--leverage 2] [--fee 0.0004] [--margin-mode isolated]
    autoperp backtesting --strategy-path my_strategy.py [--strategy MyStrategy] --pairs ...
    autoperp backtesting --strategy sma_trend --datafile FILUSDT-1m-2023-*.csv.gz   # no import needed

Data comes from the store (``user_data/data``) or, with ``--datafile``, straight from files. The run is
recorded in the trial ledger; the report is printed and written as JSON and HTML under
``user_data/backtest_results/<run_id>/`` (or ``--export-dir``). Bad input: one line, exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from autoperp.backtest.report import print_report, run_stats, write_reports
from autoperp.backtest.runner import run_backtest
from autoperp.cli import backtest_options as opt
from autoperp.cli.options import CONFIG_OPTION
from autoperp.core.time import TimeRange
from autoperp.metrics.ledger import TrialLedger


def backtesting(
    strategy: opt.StrategyOption = None,
    strategy_path: Path | None = typer.Option(
        None, "--strategy-path", help="Python file holding a strategy class (decide(window) -> target)."
    ),
    pairs: opt.PairsOption = None,
    timeframe: opt.TimeframeOption = "1m",
    timerange: opt.TimerangeOption = None,
    leverage: opt.LeverageOption = None,
    fee: opt.FeeOption = None,
    margin_mode: opt.MarginModeOption = None,
    initial_cash: opt.InitialCashOption = None,
    delay_bars: opt.DelayBarsOption = None,
    params: opt.ParamsOption = None,
    datafile: list[Path] | None = typer.Option(
        None, "--datafile", help="Backtest straight from candle files (CSV/feather/...), no import."
    ),
    datafile_mark: opt.DatafileMarkOption = None,
    datafile_funding: opt.DatafileFundingOption = None,
    brackets: Path | None = typer.Option(
        None, "--brackets", help="Binance leverageBracket JSON overriding the bundled margin tiers."
    ),
    exchange: opt.ExchangeOption = None,
    export_dir: Path | None = typer.Option(
        None,
        "--export-dir",
        help="Where to write the reports (default user_data/backtest_results/<run_id>/).",
    ),
    no_html: opt.NoHtmlOption = False,
    userdir: opt.UserdirOption = None,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Backtest a strategy on stored data (or --datafile files) and write the report."""
    cfg = opt.command_config(config, userdir, timeframe)
    tr = TimeRange.parse(timerange)
    symbols = opt.parse_pairs(pairs)
    sim = opt.sim_config(
        leverage=leverage, fee=fee, margin_mode=margin_mode, initial_cash=initial_cash, delay_bars=delay_bars
    )
    strat = opt.resolve_strategy(strategy, strategy_path, params)
    files = opt.DataFiles.of(datafile, datafile_mark, datafile_funding)
    data = opt.load_data(cfg, symbols, timeframe, tr, exchange, files)
    ledger = TrialLedger.in_user_data(cfg.data.user_data_dir)
    run = run_backtest(
        strat,
        data.markets,
        sim,
        brackets_file=brackets,
        ledger=ledger,
        data_sources=data.sources,
        notes=data.notes,
    )
    console = Console()
    stats = run_stats(run)
    print_report(run, console, stats=stats)
    out_dir = (
        export_dir if export_dir is not None else cfg.data.user_data_dir / "backtest_results" / run.run_id
    )
    for kind, path in write_reports(run, out_dir, stats=stats, html=not no_html).items():
        console.print(f"{kind} report: {escape(str(path))}", highlight=False)
    console.print(f"trial {run.trial_id} recorded in {escape(str(ledger.root))}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("backtesting", cls=opt.BacktestCommand)(backtesting)
