"""The report's plotly figures: equity with drawdown, position per pair, price with fills.

Times go to plotly as UTC wall-clock strings: plotly.js reads epoch-ms numbers on a date axis in
the browser's local time zone, strings as written, and the report is in UTC. Lines are thinned to
``max_points`` per trace by per-bucket min/max (:mod:`.downsample`); fills are drawn up to
``max_fills`` per pair, liquidations and force-closes always, and a note says when fills were thinned.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoperp.backtest.report.downsample import evenly_spaced, minmax_indices
from autoperp.backtest.report.stats import held_position
from autoperp.backtest.run_result import BacktestRun, PairRun
from autoperp.metrics.drawdown import drawdown_series
from autoperp.sim import layout as L

__all__ = ["MAX_FILLS", "MAX_POINTS", "equity_figure", "position_figure", "price_figure", "utc_strings"]

MAX_POINTS = 5_000  # per trace
MAX_FILLS = 5_000  # markers per pair
TEMPLATE = "plotly_white"
PORTFOLIO_COLOR = "#222222"
_MARKERS = {  # kind: (label, symbol, colour)
    "buy": ("buy", "triangle-up", "#1a9850"),
    "sell": ("sell", "triangle-down", "#d73027"),
    "liquidation": ("liquidation", "x", "#7b3294"),
    "force_close": ("force close", "square", "#636363"),
}


def utc_strings(ts: np.ndarray) -> np.ndarray:
    """ms UTC as 'YYYY-MM-DDTHH:MM' (with seconds or ms only when the times need them), for a date axis."""
    ms = np.asarray(ts, dtype=np.int64)
    unit: Literal["m", "s", "ms"] = (
        "m" if not (ms % 60_000).any() else "s" if not (ms % 1_000).any() else "ms"
    )
    out: np.ndarray = np.datetime_as_string(ms.astype("datetime64[ms]"), unit=unit)
    return out


def _line(ts: np.ndarray, y: np.ndarray, max_points: int, **kwargs: object) -> go.Scatter:
    keep = minmax_indices(y, max_points)
    return go.Scatter(x=utc_strings(ts[keep]), y=np.asarray(y, np.float64)[keep], mode="lines", **kwargs)


def _date_axes(fig: go.Figure) -> None:
    fig.update_xaxes(type="date")
    fig.update_layout(template=TEMPLATE, hovermode="x unified", margin={"l": 60, "r": 20, "t": 50, "b": 40})


def equity_figure(run: BacktestRun, max_points: int | None = None) -> go.Figure:
    """Portfolio and per-pair equity (USDT) on top, their drawdowns (%) underneath; a pair's legend
    entry toggles both of its lines."""
    max_points = max_points or MAX_POINTS
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    curves: list[tuple[str, np.ndarray, np.ndarray, float, str | None]] = [
        (
            "portfolio",
            np.asarray(run.ts),
            np.asarray(run.equity, np.float64),
            run.initial_cash,
            PORTFOLIO_COLOR,
        )
    ]
    if len(run.pairs) > 1:
        curves += [
            (p.symbol, p.result.ts, p.result.equity, p.result.summary.initial_cash, None) for p in run.pairs
        ]
    for name, ts, equity, initial, color in curves:
        line = {"width": 2 if color else 1.2, **({"color": color} if color else {})}
        fig.add_trace(_line(ts, equity, max_points, name=name, legendgroup=name, line=line), row=1, col=1)
        # from the initial cash, as the stats measure it
        dd = -100.0 * drawdown_series(np.maximum(np.r_[initial, equity], 0.0))[1:]
        fig.add_trace(
            _line(ts, dd, max_points, name=name, legendgroup=name, showlegend=False, line=line,
                  fill="tozeroy" if color else None),
            row=2, col=1,
        )  # fmt: skip
    fig.update_yaxes(title_text="equity, USDT", row=1, col=1)
    fig.update_yaxes(title_text="drawdown, %", row=2, col=1)
    fig.update_layout(title="Equity and drawdown", height=620)
    _date_axes(fig)
    return fig


def _exposure(pair: PairRun) -> np.ndarray:
    res = pair.result
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(res.equity > 0, held_position(res) * res.mark / res.equity, 0.0)


def position_figure(pairs: list[PairRun], max_points: int | None = None) -> go.Figure:
    """Signed position of each pair as exposure (notional / the pair's equity), one row per pair."""
    max_points = max_points or MAX_POINTS
    rows = max(len(pairs), 1)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=min(0.04, 0.3 / rows),
                        subplot_titles=[p.symbol for p in pairs] or None)  # fmt: skip
    for i, pair in enumerate(pairs, start=1):
        fig.add_trace(
            _line(pair.result.ts, _exposure(pair), max_points, name=pair.symbol, line={"shape": "hv", "width": 1.2},
                  fill="tozeroy"),
            row=i, col=1,
        )  # fmt: skip
        fig.update_yaxes(title_text="× equity", row=i, col=1)
    fig.update_layout(title="Position (signed notional / equity; + long, − short)", height=180 + 160 * rows,
                      showlegend=False)  # fmt: skip
    _date_axes(fig)
    return fig


def _fill_groups(pair: PairRun, max_fills: int) -> tuple[dict[str, np.ndarray], str | None]:
    """Event-row indices per marker kind, and a note when fills had to be thinned."""
    ev_i, ev_f = pair.result.events_int, pair.result.events_float
    kind = ev_i[:, L.E_KIND]
    fills = np.flatnonzero(kind == L.EV_FILL)
    groups = {
        "liquidation": np.flatnonzero(kind == L.EV_LIQUIDATION),
        "force_close": np.flatnonzero(kind == L.EV_FORCE_CLOSE),
    }
    note = None
    room = max(max_fills - groups["liquidation"].size - groups["force_close"].size, 0)
    if fills.size > room:
        note = (f"{pair.symbol}: the price chart shows {room:,} of {fills.size:,} fills (evenly spaced); "
                "every liquidation and force-close is shown")  # fmt: skip
        fills = fills[evenly_spaced(fills.size, room)]
    groups["buy"] = fills[ev_f[fills, L.E_QTY] > 0]
    groups["sell"] = fills[ev_f[fills, L.E_QTY] < 0]
    return groups, note


def price_figure(
    pair: PairRun, max_points: int | None = None, max_fills: int | None = None
) -> tuple[go.Figure, str | None]:
    """Trade close with buy / sell / liquidation / force-close markers at their fill prices; returns the
    figure and a note when fills were thinned (defaults: :data:`MAX_POINTS`, :data:`MAX_FILLS`)."""
    max_points = max_points or MAX_POINTS
    max_fills = max_fills or MAX_FILLS
    res = pair.result
    close = pair.market.data[L.M_CLOSE]
    fig = go.Figure(
        _line(pair.market.ts, close, max_points, name="close", line={"width": 1, "color": "#4a6fa5"})
    )
    groups, note = _fill_groups(pair, max_fills)
    ev_i, ev_f = res.events_int, res.events_float
    for key in ("buy", "sell", "liquidation", "force_close"):
        rows = groups[key]
        if not rows.size:
            continue
        label, symbol, color = _MARKERS[key]
        fig.add_trace(
            go.Scatter(
                x=utc_strings(ev_i[rows, L.E_TS]),
                y=ev_f[rows, L.E_PRICE],
                mode="markers",
                name=label,
                marker={"symbol": symbol, "color": color, "size": 11 if key == "liquidation" else 8,
                        "line": {"width": 0.5, "color": "#ffffff"}},
                customdata=np.column_stack((ev_f[rows, L.E_QTY], ev_f[rows, L.E_FEE], ev_f[rows, L.E_POSITION])),
                hovertemplate=f"{label}: %{{y:.6g}} USDT<br>qty %{{customdata[0]:.6g}}, fee %{{customdata[1]:.4g}} "
                "USDT<br>position after %{customdata[2]:.6g}<extra></extra>",
            )
        )  # fmt: skip
    fig.update_yaxes(title_text="price, USDT")
    fig.update_layout(title=f"{pair.symbol}: price and fills", height=480)
    _date_axes(fig)
    fig.update_layout(hovermode="closest")
    return fig, note
