"""Every backtest goes into the trial ledger (DESIGN.md §6: every trial is counted), so the DSR of a
strategy family counts each parameter set tried and PBO sees each one's returns."""

from __future__ import annotations

import math
from typing import Any

from autoperp.backtest.portfolio import portfolio_returns
from autoperp.backtest.run_result import BacktestRun
from autoperp.core.timeframes import timeframe_ms
from autoperp.metrics.ledger import DataRange, TrialLedger, TrialRecord
from autoperp.metrics.performance import performance

__all__ = ["record_run", "run_config", "run_label", "run_metrics"]

_MAX_NAME = 200


def run_label(run: BacktestRun) -> str:
    """``strategy(k=v, ...)``: the trial's name in the ledger."""
    args = ",".join(f"{k}={v}" for k, v in sorted(run.strategy_params.items()))
    label = f"{run.strategy}({args})" if args else run.strategy
    return label if len(label) <= _MAX_NAME else label[: _MAX_NAME - 1] + "…"


def run_config(run: BacktestRun) -> dict[str, Any]:
    """What defines the trial: strategy, its parameters, the simulator settings, allocations, brackets."""
    return {
        "strategy": run.strategy,
        "params": dict(run.strategy_params),
        "sim": run.config.model_dump(mode="json"),
        "allocations": {p.symbol: p.allocation for p in run.pairs},
        "brackets": {p.symbol: p.result.brackets_source for p in run.pairs},
    }


def run_metrics(run: BacktestRun) -> dict[str, float]:
    """Headline figures of the portfolio curve (annualised where the name says so) and cost totals (USDT)."""
    bar_ms = timeframe_ms(run.timeframe)
    r = portfolio_returns(run.equity, run.initial_cash)
    perf = performance(r, bar_ms=bar_ms, timestamps_ms=run.ts)
    out = {
        "sharpe": perf.sharpe,
        "sortino": perf.sortino,
        "calmar": perf.calmar,
        "cagr": perf.cagr,
        "total_return": perf.total_return,
        "max_drawdown": perf.max_drawdown,
        "volatility": perf.volatility,
        "fees": sum(p.result.summary.fees for p in run.pairs),
        "funding_net": sum(p.result.summary.funding_net for p in run.pairs),
        "fills": float(sum(p.result.summary.fills for p in run.pairs)),
        "liquidations": float(sum(p.result.summary.liquidations for p in run.pairs)),
    }
    return {k: float(v) if math.isfinite(v) else math.nan for k, v in out.items()}


def record_run(run: BacktestRun, ledger: TrialLedger) -> TrialRecord:
    """Record ``run`` (kind ``backtest``, family = strategy name) with its per-bar portfolio returns and
    set ``run.trial_id``."""
    bar_ms = timeframe_ms(run.timeframe)
    data_range = DataRange(
        tuple(p.symbol for p in run.pairs), run.timeframe, int(run.ts[0]), int(run.ts[-1]) + bar_ms
    )
    rec = ledger.record(
        "backtest",
        run_label(run),
        run.strategy,
        run_config(run),
        data_range,
        run.ts,
        portfolio_returns(run.equity, run.initial_cash),
        metrics=run_metrics(run),
        notes=run.run_id,
    )
    run.trial_id = rec.trial_id
    return rec
