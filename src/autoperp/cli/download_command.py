"""`download-data`: fetch Binance USD-M history (public archive, then the exchange API) and import it.

    autoperp download-data --exchange binanceusdm --pairs BTC/USDT:USDT ETH/USDT:USDT \\
        --timeframes 1m 1h --timerange 20240101-20240301 [--candle-types futures mark funding_rate] \\
        [--dl-trades] [--config FILE] [--repair] [--no-import]

``--pairs``, ``--timeframes`` and ``--candle-types`` take several values after one flag (freqtrade style),
repeated flags, or comma-separated lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from autoperp.cli.options import CONFIG_OPTION, app_config, open_store
from autoperp.core.sizes import human_bytes
from autoperp.core.time import format_ms, now_ms
from autoperp.data.download.downloader import Downloader, DownloadReport, build_request

#: Options that take every following value up to the next option (argparse ``nargs='+'``).
MULTI_VALUE_OPTIONS = frozenset({"--pairs", "-p", "--timeframes", "-t", "--candle-types"})


def expand_multi_values(args: Sequence[str], names: frozenset[str] = MULTI_VALUE_OPTIONS) -> list[str]:
    """Rewrite ``--pairs A B --timeframes 1m 1h`` as ``--pairs A --pairs B --timeframes 1m --timeframes 1h``
    so click, which gives an option one value per occurrence, accepts the freqtrade spelling."""
    out: list[str] = []
    current: str | None = None  # the multi-value option whose values are being read
    have_value = False
    rest = False
    for tok in args:
        if rest:
            out.append(tok)
            continue
        if tok == "--":
            rest = True
            out.append(tok)
            continue
        if tok in names:
            current, have_value = tok, False
            out.append(tok)
            continue
        if tok.startswith("-"):
            current = None
            for n in names:
                if n.startswith("--") and tok.startswith(n + "="):
                    current, have_value = n, True
            out.append(tok)
            continue
        if current is not None:
            if have_value:
                out.append(current)
            out.append(tok)
            have_value = True
            continue
        out.append(tok)
    return out


class MultiValueCommand(TyperCommand):
    """A command whose list options accept several values after one flag."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_values(args))


def print_report(report: DownloadReport, console: Console, data_dir: Path | None = None) -> None:
    """The summary table: per pair/kind/timeframe, what was fetched, reused, missing and imported."""
    req = report.request
    t = Table(title=f"download-data {req.exchange} {format_ms(req.start_ms)} to {format_ms(req.end_ms)}")
    cols = (
        "pair",
        "kind",
        "timeframe",
        "downloaded",
        "cached",
        "404",
        "API rows",
        "rows",
        "new rows",
        "status",
    )
    for c in cols:
        t.add_column(c, justify="left" if c in ("pair", "kind", "timeframe", "status") else "right")
    for r in report.results:
        status = r.status if r.error is None else f"[red]{r.status}[/]"
        t.add_row(
            r.spec.symbol.ccxt,
            r.spec.kind.value,
            r.spec.timeframe,
            str(r.count("downloaded")),
            str(r.count("cached")),
            str(r.count("missing")),
            f"{r.api_rows:,}" if r.api_ranges else "-",
            f"{r.rows:,}" if r.rows is not None else "-",
            f"{r.added:,}" if r.added is not None else "-",
            status,
        )
    console.print(t)
    for r in report.results:
        for lo, hi in r.uncovered:
            console.print(f"[yellow]missing[/] {r.spec}: no source had {format_ms(lo)} to {format_ms(hi)}")
        for note in r.notes:
            console.print(f"note: {r.spec}: {escape(note)}")
        if r.error is not None:
            console.print(f"[red]error[/] {r.spec}: {escape(r.error.one_line())}")
    where = " (not imported)" if not report.imported else f"; store {data_dir}" if data_dir else ""
    console.print(f"{human_bytes(report.bytes_received)} downloaded, archive cache {report.cache_dir}{where}")


def download_data(
    pairs: list[str] | None = typer.Option(
        None, "--pairs", "-p", help="ccxt pairs, e.g. BTC/USDT:USDT ETH/USDT:USDT (space or comma separated)."
    ),
    timeframes: list[str] | None = typer.Option(
        None, "--timeframes", "-t", help="Bar timeframes, e.g. 1m 1h (default 1m)."
    ),
    timerange: str | None = typer.Option(
        None, "--timerange", help="START-END as YYYYMMDD-YYYYMMDD, end exclusive; START- runs to now."
    ),
    days: int | None = typer.Option(
        None, "--days", help="Without --timerange: the last N days (default 30)."
    ),
    candle_types: list[str] | None = typer.Option(
        None,
        "--candle-types",
        help="futures, mark, index, premium, funding_rate (default: futures mark funding_rate).",
    ),
    dl_trades: bool = typer.Option(False, "--dl-trades", help="Also download aggregated trades (large)."),
    exchange: str | None = typer.Option(None, "--exchange", "-e", help="Exchange id (default from config)."),
    repair: bool = typer.Option(False, "--repair", help="Fix what is fixable while importing (logged)."),
    no_import: bool = typer.Option(False, "--no-import", help="Only fill the download cache."),
    config: Path | None = CONFIG_OPTION,
    api_url: str | None = typer.Option(
        None, "--api-url", hidden=True, help="Exchange REST base URL (tests)."
    ),
) -> None:
    """Download Binance USD-M history (archive first, exchange API for the newest part) and import it."""
    cfg = app_config(config)
    now = now_ms()
    req = build_request(
        pairs=pairs,
        exchange=exchange or cfg.data.exchange,
        timeframes=timeframes,
        timerange=timerange,
        days=days,
        candle_types=candle_types,
        dl_trades=dl_trades,
        now=now,
    )
    store = None if no_import else open_store(cfg)
    downloader = Downloader(cfg, store=store, api_url=api_url, now=now)
    report = downloader.run(req, import_data=not no_import, repair=repair)
    print_report(report, Console(), cfg.data.data_dir)
    if report.errors:
        raise report.errors[0]


def register(app: typer.Typer) -> None:
    app.command("download-data", cls=MultiValueCommand)(download_data)
