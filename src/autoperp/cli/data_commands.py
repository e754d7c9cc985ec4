"""`import-data` and `list-data`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from autoperp.cli.options import CONFIG_OPTION, app_config, open_store
from autoperp.core.sizes import human_bytes
from autoperp.core.symbols import Symbol
from autoperp.core.time import format_ms
from autoperp.core.types import DataKind
from autoperp.data.import_view import print_import_report
from autoperp.data.importer import expand_paths, import_files
from autoperp.data.readers import is_supported


def import_data(
    paths: list[Path] = typer.Argument(..., help="Files or directories to import."),
    repair: bool = typer.Option(False, "--repair", help="Fix what is fixable (logged beside the data)."),
    kind: DataKind | None = typer.Option(None, "--kind", help="Data kind, when the file name does not say."),
    pair: str | None = typer.Option(None, "--pair", help="ccxt pair, when the file name does not say."),
    timeframe: str | None = typer.Option(None, "--timeframe", help="Bar timeframe, when not in the name."),
    exchange: str | None = typer.Option(None, "--exchange", help="Exchange id (default from config)."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Validate files and add them to the store. Refuses (exit 2, nothing written) on any bad row."""
    cfg = app_config(config)
    files = expand_paths(paths, is_supported)
    symbol = Symbol.parse(pair) if pair else None
    store = open_store(cfg)
    report = import_files(
        files,
        store,
        cfg.validation,
        repair=repair,
        kind=kind,
        symbol=symbol,
        timeframe=timeframe,
        exchange=exchange,
    )
    console = Console()
    print_import_report(report, console)
    console.print(
        f"{len(files)} file(s), {report.rows:,} rows valid, {report.added:,} new rows stored in {cfg.data.data_dir}"
    )


def list_data(
    pairs: list[str] | None = typer.Option(None, "--pairs", help="Only these pairs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Show what the store holds: series, time span, rows, holes."""
    cfg = app_config(config)
    infos = open_store(cfg).list_series()
    if pairs:
        wanted = {Symbol.parse(p) for p in pairs}
        infos = [i for i in infos if i.key.symbol in wanted]
    if as_json:
        rows = [
            {
                "exchange": i.key.exchange,
                "market": i.key.market,
                "pair": i.key.symbol.ccxt,
                "kind": i.key.kind.value,
                "timeframe": i.key.timeframe,
                "rows": i.rows,
                "start_ms": i.start_ms,
                "end_ms": i.end_ms,
                "holes": i.gaps,
                "bytes": i.bytes,
            }
            for i in infos
        ]
        typer.echo(json.dumps(rows, indent=1))
        return
    console = Console()
    if not infos:
        console.print(
            f"no data in {cfg.data.data_dir}: use `autoperp import-data` or `autoperp download-data`"
        )
        return
    t = Table(title=f"data in {cfg.data.data_dir}")
    for c in ("exchange", "market", "pair", "kind", "timeframe", "from", "to", "rows", "holes", "size"):
        t.add_column(c, justify="right" if c in ("rows", "holes", "size") else "left")
    for i in infos:
        t.add_row(
            i.key.exchange,
            i.key.market,
            i.key.symbol.ccxt,
            i.key.kind.value,
            i.key.timeframe,
            format_ms(i.start_ms) if i.start_ms is not None else "-",
            format_ms(i.end_ms) if i.end_ms is not None else "-",
            f"{i.rows:,}",
            str(i.gaps),
            human_bytes(i.bytes),
        )
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("import-data")(import_data)
    app.command("list-data")(list_data)
