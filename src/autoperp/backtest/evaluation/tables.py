"""The evaluation's tables as text cells (:class:`~autoperp.backtest.report.tables.TableSpec`), shared by
the terminal and the HTML page: baselines after costs, per-fold Sharpe, the parameter grid, DSR and PBO."""

from __future__ import annotations

import math

from autoperp.backtest.evaluation.result import CandidateResult, Evaluation
from autoperp.backtest.report import formatting as f
from autoperp.backtest.report.tables import Column, TableSpec
from autoperp.core.time import format_ms

__all__ = ["baseline_table", "fold_table", "grid_table", "overfitting_table"]


def _when(ms: int) -> str:
    text = format_ms(int(ms))
    return text[:10] if text.endswith("00:00:00") else text[:16]


def _drawdown(dd: float) -> str:
    # a drawdown is a loss: shown negative, and a flat line as 0.00% rather than -0.00%
    return f.pct(-dd) if dd > 0 else f.pct(dd if not math.isfinite(dd) else 0.0)


def _row(r: CandidateResult, beaten: str) -> list[str]:
    s = r.oos
    return [
        r.label,
        r.role,
        f.pct(s.total_return),
        f.ratio(s.sharpe),
        f.ratio(s.sortino),
        f.pct(-s.max_drawdown)
        if math.isfinite(s.max_drawdown) and s.max_drawdown > 0
        else f.pct(s.max_drawdown),
        f.pct(s.psr, 1),
        f.money(-r.fees if r.fees else 0.0),
        f.money(-r.funding_net if r.funding_net else 0.0),
        f.integer(r.fills),
        f.integer(r.liquidations),
        beaten,
    ]


def baseline_table(ev: Evaluation) -> TableSpec:
    """The strategy and every baseline over the same out-of-sample segments, after fees, slippage and
    funding; ``beaten`` says whether the strategy's Sharpe is above the baseline's."""
    beats = ev.beats()
    rows = [_row(ev.result, "")]
    rows += [
        _row(b, "same" if ev.is_strategy(b) else "yes" if beats.get(b.label) else "no") for b in ev.baselines
    ]
    cols = [
        Column("candidate", numeric=False),
        Column("role", numeric=False),
        Column("return", signed=True),
        Column("Sharpe", signed=True),
        Column("Sortino", signed=True),
        Column("max DD", signed=True),
        Column("PSR"),
        Column("fees USDT", signed=True),
        Column("funding USDT", signed=True),
        Column("fills"),
        Column("liq."),
        Column("beaten", numeric=False),
    ]
    n_oos = int(ev.oos_ts.shape[0])
    caption = (
        f"{n_oos:,} out-of-sample bars in {len(ev.segments.ranges)} segments; Sharpe annualised; "
        f"'beaten': the strategy's Sharpe is above the baseline's ({sum(beats.values())}/{len(beats)}; "
        "'same': the baseline is the strategy itself)"
    )
    return TableSpec(
        "Out of sample, after costs: strategy vs baselines", cols, rows, caption=caption, key="baselines"
    )


def fold_table(ev: Evaluation) -> TableSpec:
    """Per segment: its bars and span, the strategy's return and Sharpe, each baseline's Sharpe."""
    cols = [Column("fold"), Column("from", numeric=False), Column("to", numeric=False), Column("bars")]
    cols += [
        Column(f"{ev.result.label} return", signed=True),
        Column(f"{ev.result.label} Sharpe", signed=True),
    ]
    cols += [Column(f"{b.label} Sharpe", signed=True) for b in ev.baselines]
    rows = []
    ts = ev.oos_ts
    offset = 0
    for i, (a, b) in enumerate(ev.segments.ranges):
        n = b - a
        first, last = int(ts[offset]), int(ts[offset + n - 1])
        offset += n
        fold = ev.result.folds[i]
        rows.append(
            [
                str(i + 1),
                _when(first),
                _when(last),
                f.integer(n),
                f.pct(fold.total_return),
                f.ratio(fold.sharpe),
            ]
            + [f.ratio(bl.folds[i].sharpe) for bl in ev.baselines]
        )
    scheme = ev.settings.scheme.value
    what = "test windows after an initial warm-up window" if scheme == "walk-forward" else "CPCV groups"
    caption = f"strategy: {ev.result.label}; {what}; Sharpe annualised"
    return TableSpec(f"Per fold ({scheme})", cols, rows, caption=caption, key="folds")


def grid_table(ev: Evaluation) -> TableSpec:
    """The parameter grid PBO is measured on, best out-of-sample Sharpe first."""
    cols = [
        Column("variant", numeric=False),
        Column("return", signed=True),
        Column("Sharpe", signed=True),
        Column("max DD", signed=True),
        Column("fills"),
    ]
    ranked = sorted(ev.grid, key=lambda g: -g.oos.sharpe if math.isfinite(g.oos.sharpe) else math.inf)
    rows = [
        [
            g.label + (" *" if g.params == ev.result.params else ""),
            f.pct(g.oos.total_return),
            f.ratio(g.oos.sharpe),
            _drawdown(g.oos.max_drawdown),
            f.integer(g.fills),
        ]
        for g in ranked
    ]
    return TableSpec(
        "Parameter grid (PBO trials)", cols, rows, caption="* = the evaluated parameters", key="grid"
    )


def overfitting_table(ev: Evaluation) -> TableSpec:
    """DSR (with N from the ledger) and PBO, one figure per row."""
    ppy = 365.25 * 86_400_000 / ev.bar_ms
    ann = math.sqrt(ppy)
    rows: list[list[str]] = []
    d = ev.dsr
    if d is not None:
        rows += [
            ["DSR", f.pct(d.dsr, 1), "probability the true Sharpe beats the best of N unskilled trials"],
            ["N trials (ledger)", f.integer(d.n_trials), f"selection trials of family '{d.family}'"],
            ["E[max Sharpe] of N", f.ratio(d.expected_max_sharpe * ann), "annualised; the bar DSR sets"],
            ["Sharpe (OOS)", f.ratio(d.sharpe_per_bar * ann), f"annualised; {d.bars:,} bars"],
            ["PSR", f.pct(ev.result.oos.psr, 1), "probability the true Sharpe is above 0"],
        ]
    else:
        rows.append(["DSR", f.DASH, "undefined (see notes)"])
    p = ev.pbo
    if p is not None:
        src = "variants of the parameter grid" if ev.pbo_source == "grid" else "ledger trials of the family"
        rows += [
            ["PBO", f.pct(p.pbo, 1), f"CSCV over {p.n_trials} {src}, {p.n_splits:,} splits"],
            [
                "P(OOS loss)",
                f.pct(p.prob_oos_loss, 1),
                "share of splits whose in-sample best loses out of sample",
            ],
            [
                "degradation slope",
                f.ratio(p.degradation_slope),
                "OOS Sharpe per unit of IS Sharpe (< 0: overfit)",
            ],
        ]
    else:
        rows.append(["PBO", f.DASH, "undefined (see notes)"])
    where = f"ledger trial {ev.trial_id} ({ev.ledger_kind})" if ev.trial_id else "not recorded"
    rows.append(["recorded as", ev.trial_id or f.DASH, where])
    cols = [Column("figure", numeric=False), Column("value"), Column("meaning", numeric=False)]
    return TableSpec("Overfitting: DSR and PBO", cols, rows, key="overfitting")
