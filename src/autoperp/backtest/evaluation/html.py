"""The evaluation as one self-contained HTML page: headline figures, tables and plotly plots.

The page shell (CSS, plotly.js inline so it renders offline) is the backtest report's
(:mod:`autoperp.backtest.report.page`).
"""

from __future__ import annotations

from html import escape

from autoperp.backtest.evaluation.figures import dsr_figure, fold_sharpe_figure, oos_equity_figure, pbo_figure
from autoperp.backtest.evaluation.result import Evaluation
from autoperp.backtest.evaluation.tables import baseline_table, fold_table, grid_table, overfitting_table
from autoperp.backtest.report import formatting as f
from autoperp.backtest.report.page import figure_html, html_page, kpi_cards, table_html

__all__ = ["render_evaluation_html"]

# the page's own rule; the shared ones are in :mod:`autoperp.backtest.report.page`
_CSS = """.vault{color:#cf222e;font-weight:700}
"""


def _kpis(ev: Evaluation) -> str:
    s = ev.result.oos
    beats = ev.beats()
    items = [
        ("OOS return", f.pct(s.total_return)),
        ("OOS Sharpe", f.ratio(s.sharpe)),
        ("PSR", f.pct(s.psr, 1)),
        ("DSR", f.pct(ev.dsr.dsr, 1) if ev.dsr else f.DASH),
        ("N trials", f.integer(ev.dsr.n_trials) if ev.dsr else f.DASH),
        ("PBO", f.pct(ev.pbo.pbo, 1) if ev.pbo else f.DASH),
        ("Max drawdown", f.pct(s.max_drawdown)),
        ("Baselines beaten", f"{sum(beats.values())}/{len(beats)}"),
    ]
    return kpi_cards(items)


def render_evaluation_html(ev: Evaluation) -> str:
    """The whole page as a string (several MB: plotly.js is inside)."""
    figures = [
        figure_html(oos_equity_figure(ev, ev.settings.max_plot_points), "fig-oos-equity"),
        figure_html(fold_sharpe_figure(ev), "fig-fold-sharpe"),
        figure_html(pbo_figure(ev), "fig-pbo"),
        figure_html(dsr_figure(ev), "fig-dsr"),
    ]
    tables = [table_html(baseline_table(ev)), table_html(fold_table(ev))]
    side = [table_html(overfitting_table(ev))]
    if ev.grid:
        side.append(table_html(grid_table(ev)))
    span = f"{f.timestamp(ev.start_ms)} → {f.timestamp(ev.end_ms)} UTC"
    title = f"Evaluation {ev.label} {ev.timeframe} {span[:10]}"
    vault = ' · <span class="vault">VAULT (final test set)</span>' if ev.vault else ""
    sources = "".join(f"<li>{escape(s)}</li>" for s in ev.data_sources) or "<li>given markets</li>"
    notes = "".join(f"<li>{escape(n)}</li>" for n in ev.notes) or "<li>none</li>"
    scheme = ev.settings.scheme.value
    body = f"""<h1>Evaluation: {escape(ev.label)}</h1>
<p class="sub">{escape(", ".join(ev.symbols))} · {escape(ev.timeframe)} · {escape(span)} · {escape(scheme)}, {
        len(ev.segments.ranges)
    } segments · ledger {escape(ev.trial_id or "-")}{vault}</p>
{_kpis(ev)}
<h2>Against the baselines, after costs</h2>
{"".join(tables)}
<div class="grid">{"".join(side)}</div>
<h2>Charts</h2>
{"".join(figures)}
<h2>Data</h2>
<ul>{sources}</ul>
<h2>Notes</h2>
<ul>{notes}</ul>
"""
    return html_page(title, body, css=_CSS)
