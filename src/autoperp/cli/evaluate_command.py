"""`evaluate`: out-of-sample evaluation of a strategy against the baselines, with DSR and PBO.

    autoperp evaluate --strategy sma_trend --pairs FIL/USDT:USDT --timerange 20230401-20230601
    autoperp evaluate --strategy sma_trend --datafile FILUSDT-1m-2023-0{4,5}.csv.gz --scheme cpcv --folds 6
    autoperp evaluate --strategy sma_trend --pairs FIL/USDT:USDT --vault [DIR] [--force]

Walk-forward (default) or CPCV segments are simulated after costs for the strategy, the baselines (flat,
buy-and-hold, SMA trend, funding carry) and the strategy's parameter grid; PBO comes from CSCV over the
grid, DSR from the strategy's out-of-sample returns with N = the trials the ledger counts for its family
(this evaluation included: it is recorded, kind ``evaluate``). Tables are printed; HTML and JSON are
written under ``user_data/evaluation_results/`` (or ``--export-dir``).

``--vault`` evaluates on the final test set (``$AUTOPERP_SHARED/data/vault``, else
``../shared/data/vault``, or ``--vault DIR`` / ``--vault-dir DIR``): the only way any command reads it.
Each strategy configuration gets one look, recorded in the ledger as kind ``vault``; a second is refused
unless ``--force`` (then recorded as one more selection trial).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.markup import escape

from autoperp.backtest.evaluation import (
    EvaluationSettings,
    Scheme,
    evaluate_strategy,
    print_evaluation,
    write_evaluation,
)
from autoperp.backtest.evaluation.ledger_entry import check_vault_unused, strategy_model_id
from autoperp.backtest.evaluation.vault import default_vault_dir, load_vault
from autoperp.cli import backtest_options as opt
from autoperp.cli.model_options import strategy_or_model
from autoperp.cli.options import CONFIG_OPTION
from autoperp.core.errors import UsageError
from autoperp.core.time import TimeRange
from autoperp.learn.model_strategy import MODEL_NOTES, ModelStrategy
from autoperp.metrics.ledger import TrialLedger


def vault_value(args: list[str]) -> list[str]:
    """``--vault DIR`` as ``--vault --vault-dir DIR``: the flag takes an optional value (the command has no
    positional arguments, so a bare word after it can only be the directory)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            return out + args[i:]
        if tok.startswith("--vault="):
            out += ["--vault", "--vault-dir", tok.partition("=")[2]]
        elif tok == "--vault" and i + 1 < len(args) and not args[i + 1].startswith("-"):
            out += ["--vault", "--vault-dir", args[i + 1]]
            i += 1
        else:
            out.append(tok)
        i += 1
    return out


class _EvaluateCommand(opt.BacktestCommand):
    """The shared multi-value parsing, plus ``--vault [DIR]``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, vault_value(list(args)))


_OPTION_OF = {"folds": "--folds", "test_groups": "--test-groups", "pbo_partitions": "--pbo-partitions"}


def _settings(**given: Any) -> EvaluationSettings:
    try:
        return EvaluationSettings(**given)
    except PydanticValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        for name, option in _OPTION_OF.items():  # cross-field checks name fields in their message
            msg = msg.replace(name, option)
        where = _OPTION_OF.get(field, field)
        raise UsageError(f"{where}: {msg}" if where else msg) from None


def evaluate(
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
    scheme: Scheme = typer.Option(Scheme.WALK_FORWARD, "--scheme", help="walk-forward or cpcv."),
    folds: int = typer.Option(5, "--folds", help="Walk-forward test windows, or CPCV groups."),
    rolling: bool = typer.Option(
        False, "--rolling", help="Walk-forward with rolling (not anchored) training windows."
    ),
    test_groups: int = typer.Option(2, "--test-groups", help="CPCV groups tested per split."),
    pbo_partitions: int = typer.Option(16, "--pbo-partitions", help="CSCV blocks for PBO (even)."),
    leverage: opt.LeverageOption = None,
    fee: opt.FeeOption = None,
    margin_mode: opt.MarginModeOption = None,
    initial_cash: opt.InitialCashOption = None,
    delay_bars: opt.DelayBarsOption = None,
    vault: bool = typer.Option(
        False, "--vault", help="Evaluate on the vault (final test set), or --vault DIR: one look per config."
    ),
    vault_dir: Path | None = typer.Option(
        None,
        "--vault-dir",
        help="Vault directory (default $AUTOPERP_SHARED/data/vault or ../shared/data/vault).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Look at the vault again (recorded as a selection trial)."
    ),
    export_dir: Path | None = typer.Option(
        None, "--export-dir", help="Where to write the reports (default user_data/evaluation_results/)."
    ),
    no_html: opt.NoHtmlOption = False,
    userdir: opt.UserdirOption = None,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Walk-forward / CPCV evaluation after costs with DSR, PBO and the baselines; writes HTML and JSON."""
    cfg = opt.command_config(config, userdir, timeframe)
    if vault_dir is not None and not vault:
        raise UsageError("--vault-dir is only read with --vault")
    if force and not vault:
        raise UsageError("--force only applies to --vault")
    files = opt.DataFiles.of(datafile, datafile_mark, datafile_funding)
    if vault and files.any():
        raise UsageError(
            "--vault reads the vault's own files: drop --datafile/--datafile-mark/--datafile-funding"
        )
    files.refuse_vault()
    settings = _settings(
        scheme=scheme,
        folds=folds,
        anchored=not rolling,
        test_groups=test_groups,
        pbo_partitions=pbo_partitions,
    )
    symbols = opt.parse_pairs(pairs)
    strat, loaded = strategy_or_model(
        model, cfg.data.user_data_dir, strategy=strategy, strategy_path=strategy_path, params=params
    )
    # a model is evaluated under the costs it was trained with, unless the options say otherwise
    sim = opt.sim_config(
        base=loaded.env_config().sim if loaded else None,
        leverage=leverage,
        fee=fee,
        margin_mode=margin_mode,
        initial_cash=initial_cash,
        delay_bars=delay_bars,
    )
    ledger = TrialLedger.in_user_data(cfg.data.user_data_dir)
    tr = TimeRange.parse(timerange)
    console = Console()
    if vault:
        # refused before the vault is opened: a second look must not even read it
        check_vault_unused(ledger, strategy_model_id(strat), force)
        where = (vault_dir or default_vault_dir()).resolve()
        console.print(f"[bold red]VAULT[/]: evaluating on the final test set in {escape(str(where))}")
        data = load_vault(where, symbols, timeframe, tr, cfg.validation)
    else:
        data = opt.load_data(cfg, symbols, timeframe, tr, exchange, files)
    if isinstance(strat, ModelStrategy):
        strat.bind_markets(data.markets)
    ev = evaluate_strategy(
        strat,
        data.markets,
        ledger=ledger,
        settings=settings,
        sim_config=sim,
        vault=vault,
        force=force,
        data_sources=data.sources,
        progress=lambda msg: console.print(f"[dim]{escape(msg)}[/]"),
    )
    ev.notes.extend(n for n in data.notes if n not in ev.notes)
    if isinstance(strat, ModelStrategy):
        ev.notes.extend(MODEL_NOTES)
    print_evaluation(ev, console)
    out_dir = export_dir if export_dir is not None else cfg.data.user_data_dir / "evaluation_results"
    for kind, path in write_evaluation(ev, out_dir, html=not no_html).items():
        console.print(f"{kind} report: {escape(str(path))}", highlight=False)
    console.print(
        f"trial {ev.trial_id} ({ev.ledger_kind}) recorded in {escape(str(ledger.root))}", highlight=False
    )


def register(app: typer.Typer) -> None:
    app.command("evaluate", cls=_EvaluateCommand)(evaluate)
