"""What the HTML pages (backtest report, evaluation) share: the page shell with its CSS and plotly.js,
figure divs, headline cards and tables.

plotly.js is embedded once in the page head, so a page renders offline (no script is loaded from
anywhere); each figure is a div plus a ``Plotly.newPlot`` call on its JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import plotly.io as pio
from plotly.offline import get_plotlyjs

from autoperp.backtest.report import formatting as f
from autoperp.backtest.report.tables import TableSpec

__all__ = ["cell_html", "figure_html", "html_page", "kpi_cards", "table_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1400px;
color:#1d2330;padding:0 16px}
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #dde;padding-bottom:4px}
.sub{color:#667;margin-top:0}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.kpi{border:1px solid #dde;border-radius:6px;padding:8px 14px;min-width:120px}
.kpi .v{font-size:1.3em;font-weight:600}.kpi .l{color:#667;font-size:.85em}
table{border-collapse:collapse;margin:12px 0;font-size:.9em}
caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e5e8ef;padding:4px 10px;vertical-align:top}
th{background:#f3f5f9;text-align:left}td.num,th.num{text-align:right;white-space:nowrap}
tr.total td{font-weight:600;border-top:2px solid #99a}
.pos{color:#1a7f37}.neg{color:#cf222e}
.grid{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start}
.fig{margin:16px 0}.note{color:#667;font-size:.85em}
"""


def html_page(title: str, body: str, *, css: str = "") -> str:
    """A whole page around ``body`` (HTML, already escaped): the shared CSS plus ``css``, and plotly.js
    inline in the head (several MB)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}{css}</style>
<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
{body}</body>
</html>
"""


def figure_html(fig: object, div_id: str) -> str:
    """A plotly figure as a responsive div with the id ``div_id`` (the library itself is in the head)."""
    snippet = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"responsive": True, "displaylogo": False},
    )
    return f'<div class="fig">{snippet}</div>'


def kpi_cards(items: Sequence[tuple[str, str]]) -> str:
    """Headline figures as cards: ``(label, value)`` pairs, value shown large above its label."""
    cards = "".join(
        f'<div class="kpi"><div class="v">{escape(v)}</div><div class="l">{escape(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="kpis">{cards}</div>'


def cell_html(text: str, numeric: bool, signed: bool) -> str:
    """A ``<td>``: ``numeric`` right-aligned, ``signed`` coloured by the sign of the text."""
    cls = ["num"] if numeric else []
    if signed and text not in (f.DASH, "") and text.lstrip("-").strip("0.,%") != "":
        cls.append("neg" if text.startswith("-") else "pos")
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{escape(text)}</td>"


def table_html(spec: TableSpec) -> str:
    """A :class:`TableSpec` as an HTML table (TOTAL row bold, signed cells coloured)."""
    head = "".join(f"<th{' class=num' if c.numeric else ''}>{escape(c.header)}</th>" for c in spec.columns)
    body = []
    for row in spec.rows:
        body.append(
            "<tr>"
            + "".join(cell_html(t, c.numeric, c.signed) for t, c in zip(row, spec.columns, strict=True))
            + "</tr>"
        )
    if spec.total is not None:
        cells = "".join(
            cell_html(t, c.numeric, c.signed) for t, c in zip(spec.total, spec.columns, strict=True)
        )
        body.append(f'<tr class="total">{cells}</tr>')
    caption = f'<p class="note">{escape(spec.caption)}</p>' if spec.caption else ""
    return (f'<div><table id="table-{escape(spec.key)}"><caption>{escape(spec.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{caption}</div>")  # fmt: skip
