"""The backtest report as one self-contained HTML page: tables, plotly figures, run metadata, notes.

The page shell (CSS, plotly.js inline so it renders offline) comes from :mod:`autoperp.backtest.report.page`.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from autoperp.backtest.report import formatting as f
from autoperp.backtest.report.figures import equity_figure, position_figure, price_figure
from autoperp.backtest.report.page import cell_html, figure_html, html_page, kpi_cards, table_html
from autoperp.backtest.report.stats import RunStats
from autoperp.backtest.report.tables import (
    exit_reason_table,
    metadata_rows,
    monthly_table,
    pair_table,
    summary_table,
)
from autoperp.backtest.run_result import BacktestRun

__all__ = ["MAX_PAIR_FIGURES", "MAX_TRIPS_IN_PAGE", "render_html"]

MAX_PAIR_FIGURES = 12  # price charts; the position chart has one row per pair up to the same cap
MAX_TRIPS_IN_PAGE = 500

# the page's own rules; the shared ones are in :mod:`autoperp.backtest.report.page`
_CSS = """pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:.9em}
ul.notes li{margin:4px 0}
"""


def _kpis(stats: RunStats) -> str:
    p = stats.portfolio
    items = [
        ("Total return", f.pct(p.total_return)), ("CAGR", f.pct(p.cagr)), ("Sharpe", f.ratio(p.sharpe)),
        ("Sortino", f.ratio(p.sortino)), ("Max drawdown", f.pct(p.max_drawdown)), ("Trades", f.integer(p.trades)),
        ("Win rate", f.pct(p.win_rate)), ("Profit factor", f.ratio(p.profit_factor)),
        ("Fees", f"{f.money(p.fees)} USDT"), ("Funding net", f"{f.money(p.funding_net)} USDT"),
        ("Liquidations", f.integer(p.liquidations)),
    ]  # fmt: skip
    return kpi_cards(items)


def _trips_html(trips: pd.DataFrame) -> str:
    if not len(trips):
        return "<p>No round trips.</p>"
    shown = trips.head(MAX_TRIPS_IN_PAGE)
    head = ("Pair", "Side", "Entry (UTC)", "Exit (UTC)", "Bars", "Qty", "Entry", "Exit", "Fees", "Funding", "PnL USDT",
            "Return", "Exit reason")  # fmt: skip
    rows = []
    for t in shown.to_dict("records"):
        cells = [
            (str(t["symbol"]), False, False), (str(t["side"]), False, False),
            (f.timestamp(t["entry_ts"]), False, False), (f.timestamp(t["exit_ts"]), False, False),
            (f.integer(int(t["bars_held"])), True, False), (f"{t['qty']:.6g}", True, False),
            (f"{t['entry_price']:.6g}", True, False), (f"{t['exit_price']:.6g}", True, False),
            (f.money(t["fees"]), True, False), (f.money(t["funding"]), True, False),
            (f.money(t["pnl"]), True, True), (f.pct(t["return"]), True, True),
            (str(t["exit_reason"]), False, False),
        ]  # fmt: skip
        rows.append("<tr>" + "".join(cell_html(*c) for c in cells) + "</tr>")
    more = (
        f" (the first {len(shown):,} of {len(trips):,}; the JSON report has more)"
        if len(trips) > len(shown)
        else ""
    )
    ths = "".join(f"<th>{h}</th>" for h in head)
    return (f"<details><summary>{len(trips):,} round trips{escape(more)}</summary>"
            f'<table id="table-trips"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table></details>')  # fmt: skip


def render_html(run: BacktestRun, stats: RunStats) -> str:
    """The whole page as a string (several MB: plotly.js is inside)."""
    p = stats.portfolio
    notes = list(p.notes)
    figures = [figure_html(equity_figure(run), "fig-equity")]
    shown = run.pairs[:MAX_PAIR_FIGURES]
    if len(run.pairs) > len(shown):
        notes.append(f"charts show the first {len(shown)} of {len(run.pairs)} pairs; the tables show all")
    if shown:
        figures.append(figure_html(position_figure(shown), "fig-position"))
    for i, pair in enumerate(shown):
        fig, note = price_figure(pair)
        figures.append(figure_html(fig, f"fig-price-{i}"))
        if note:
            notes.append(note)
    meta = "".join(
        f"<tr><th>{escape(k)}</th><td><pre>{escape(v)}</pre></td></tr>" for k, v in metadata_rows(run, stats)
    )
    tables = [table_html(pair_table(stats))]
    side = [table_html(summary_table(run, stats))]
    if p.monthly:
        side.append(table_html(monthly_table(p)))
    if len(stats.round_trips):
        side.append(table_html(exit_reason_table(stats.round_trips)))
    title = f"Backtest {run.strategy} {run.timeframe} {f.timestamp(p.start_ms)[:10]} → {f.timestamp(p.end_ms)[:10]}"
    pairs = ", ".join(pr.symbol for pr in run.pairs)
    notes_html = "".join(f"<li>{escape(n)}</li>" for n in notes) or "<li>none</li>"
    body = f"""<h1>Backtest: {escape(run.strategy)}</h1>
<p class="sub">{escape(pairs)} · {escape(run.timeframe)} · {escape(f.timestamp(p.start_ms))} → {
        escape(f.timestamp(p.end_ms))
    } UTC{" · run " + escape(run.run_id) if run.run_id else ""}</p>
{_kpis(stats)}
<h2>Results</h2>
{"".join(tables)}
<div class="grid">{"".join(side)}</div>
<h2>Charts</h2>
{"".join(figures)}
<h2>Round trips</h2>
{_trips_html(stats.round_trips)}
<h2>Run</h2>
<table id="table-meta"><tbody>{meta}</tbody></table>
<h2>Notes</h2>
<ul class="notes">{notes_html}</ul>
"""
    return html_page(title, body, css=_CSS)
