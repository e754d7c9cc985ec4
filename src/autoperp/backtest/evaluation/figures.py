"""The evaluation's plotly figures: out-of-sample equity of the strategy vs the baselines, per-fold
Sharpe, the PBO logit histogram and DSR against the number of trials."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from autoperp.backtest.evaluation.result import CandidateResult, Evaluation
from autoperp.backtest.report.downsample import minmax_indices
from autoperp.metrics import deflated_sharpe_ratio
from autoperp.metrics.inputs import MetricsInputError

__all__ = ["dsr_figure", "fold_sharpe_figure", "oos_equity_figure", "pbo_figure"]

TEMPLATE = "plotly_white"
STRATEGY_COLOR = "#222222"
DSR_THRESHOLD = 0.95  # the usual bar: 95 % confidence that the Sharpe is not a selection artefact


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title, template=TEMPLATE, height=height, margin={"l": 60, "r": 20, "t": 50, "b": 40}
    )
    return fig


def _wealth(r: CandidateResult, cash: float) -> np.ndarray:
    return cash * np.cumprod(1.0 + r.returns)


def oos_equity_figure(ev: Evaluation, max_points: int = 4000) -> go.Figure:
    """Each candidate's out-of-sample segments compounded one after the other (USDT, from the initial
    cash); dotted lines mark where a segment starts."""
    fig = go.Figure()
    ts = ev.oos_ts.astype(np.float64)
    cash = ev.sim_config.initial_cash
    for r in [ev.result, *ev.baselines]:
        y = _wealth(r, cash)
        keep = minmax_indices(y, max_points)
        main = r is ev.result
        line = {"width": 2.2, "color": STRATEGY_COLOR} if main else {"width": 1.2}
        fig.add_trace(
            go.Scatter(
                x=ts[keep],
                y=y[keep],
                mode="lines",
                name=r.label if main else f"{r.label} (baseline)",
                line=line,
            )
        )
    starts = np.cumsum([0] + [b - a for a, b in ev.segments.ranges])[:-1]
    for s in starts[1:]:
        fig.add_vline(x=float(ts[s]), line={"dash": "dot", "width": 1, "color": "#999999"})
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="equity, USDT")
    return _layout(fig, "Out-of-sample equity after costs (segments strung together)", 480)


def fold_sharpe_figure(ev: Evaluation) -> go.Figure:
    """Annualised Sharpe of every candidate on every fold, grouped by fold."""
    fig = go.Figure()
    folds = [f"fold {i + 1}" for i in range(len(ev.segments.ranges))]
    for r in [ev.result, *ev.baselines]:
        main = r is ev.result
        fig.add_trace(
            go.Bar(
                x=folds,
                y=[s.sharpe if math.isfinite(s.sharpe) else None for s in r.folds],
                name=r.label if main else f"{r.label} (baseline)",
                marker={"color": STRATEGY_COLOR} if main else None,
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="Sharpe (annualised)")
    return _layout(fig, "Sharpe per fold")


def pbo_figure(ev: Evaluation) -> go.Figure:
    """Histogram of the CSCV logits λ: left of 0, the in-sample best ranked below the out-of-sample
    median; PBO is the share of that mass."""
    fig = go.Figure()
    if ev.pbo is None:
        fig.add_annotation(
            text="PBO not available (see notes)", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
        return _layout(fig, "PBO: logit distribution")
    logits = ev.pbo.logits[np.isfinite(ev.pbo.logits)]
    fig.add_trace(go.Histogram(x=logits, nbinsx=40, name="logit λ", marker={"color": "#4a6fa5"}))
    fig.add_vline(x=0.0, line={"color": "#d73027", "width": 2})
    fig.update_xaxes(title_text="λ = log(ω / (1 − ω)), ω = OOS relative rank of the IS-best trial")
    fig.update_yaxes(title_text="splits")
    return _layout(
        fig, f"PBO = {ev.pbo.pbo:.1%} over {ev.pbo.n_splits:,} CSCV splits ({ev.pbo.n_trials} trials)"
    )


def dsr_figure(ev: Evaluation) -> go.Figure:
    """DSR of the observed Sharpe as the number of trials N grows (same Sharpe variance); the marker is
    the ledger's N today, the dashed line the 95 % bar."""
    fig = go.Figure()
    d = ev.dsr
    if d is None:
        fig.add_annotation(
            text="DSR not available (see notes)", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
        return _layout(fig, "DSR against the number of trials")
    n_max = max(100, 4 * d.n_trials)
    ns = np.unique(np.geomspace(1, n_max, 60).round().astype(int))
    # with no recorded spread across trials, assume the spread of the grid's Sharpe ratios (per bar)
    var = d.sharpe_variance
    if var <= 0 and len(ev.grid) > 1:
        srs = [g.oos.sharpe_per_bar for g in ev.grid if math.isfinite(g.oos.sharpe_per_bar)]
        var = float(np.var(srs, ddof=1)) if len(srs) > 1 else 0.0
    ys: list[float | None] = []
    for n in ns:
        try:
            ys.append(
                deflated_sharpe_ratio(
                    d.sharpe_per_bar,
                    d.bars,
                    n_trials=int(n),
                    sharpe_variance=var,
                    skewness=d.skewness,
                    kurtosis=d.kurtosis,
                )
            )
        except MetricsInputError:
            ys.append(None)
    fig.add_trace(go.Scatter(x=ns, y=ys, mode="lines", name="DSR(N)", line={"color": "#4a6fa5"}))
    fig.add_trace(
        go.Scatter(
            x=[d.n_trials],
            y=[d.dsr],
            mode="markers",
            name=f"ledger N = {d.n_trials}",
            marker={"size": 12, "color": "#d73027"},
        )
    )
    fig.add_hline(y=DSR_THRESHOLD, line={"dash": "dash", "color": "#1a9850"})
    fig.update_xaxes(type="log", title_text="trials N")
    fig.update_yaxes(title_text="DSR", range=[0, 1.02])
    return _layout(
        fig, f"DSR = {d.dsr:.1%} with N = {d.n_trials} (variance of trial Sharpe: {var:.3g} per bar²)"
    )
