"""Lifecycle stage 2 — simulate: backtest the stored synthetic market through the accounting kernel.

A multi-pair SMA-trend portfolio is backtested (recorded in the trial ledger, reported in the terminal
and as HTML/JSON), compared with the other rule strategies, checked for lookahead bias, its equity is
rebuilt from the trade log alone, a flash crash is replayed at high leverage (the position must be
liquidated at its liquidation price, never below zero equity), and a batched sweep runs many paths in
one kernel call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from autoperp.backtest.data_source import load_from_store
from autoperp.backtest.lookahead import analyse_lookahead
from autoperp.backtest.market_data import market_data_from_sim
from autoperp.backtest.report import print_report, write_reports
from autoperp.backtest.runner import run_backtest
from autoperp.backtest.strategies.registry import get_strategy
from autoperp.core.config import AppConfig
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.types import MarginMode
from autoperp.data.scenarios import apply_scenario
from autoperp.data.store.parquet import ParquetStore
from autoperp.metrics.ledger import TrialLedger
from autoperp.sim import SimConfig, build_market, simulate
from autoperp.sim.audit import reconstruct_equity
from autoperp.sim.batch import simulate_batch
from autoperp.sim.brackets import bracket_table
from autoperp.sim.market import SimMarket

EXCHANGE = "synthetic"


@dataclass
class BacktestStageResult:
    reports: dict[str, Path]
    trial_id: str | None
    final_equity: float
    checks: dict[str, bool] = field(default_factory=dict)


def _baselines(markets: list[SimMarket], config: SimConfig, ledger: TrialLedger, console: Console) -> None:
    t = Table(title="rule strategies on the same market, after fees, slippage and funding")
    for c in ("strategy", "return", "max drawdown", "fills", "fees USDT", "funding net USDT"):
        t.add_column(c, justify="left" if c == "strategy" else "right")
    for name in ("buy_and_hold", "sma_trend", "funding_carry"):
        run = run_backtest(get_strategy(name), markets, config, ledger=ledger)
        results = [p.result.summary for p in run.pairs]
        t.add_row(
            name,
            f"{run.equity[-1] / run.initial_cash - 1:+.2%}",
            f"{max(r.max_drawdown for r in results):.2%}",
            f"{sum(r.fills for r in results):,}",
            f"{sum(r.fees for r in results):,.2f}",
            f"{sum(r.funding_net for r in results):+,.2f}",
        )
    console.print(t)


def _flash_crash(market: SimMarket, console: Console) -> bool:
    """Replay a −35% flash crash under a long on 10x isolated margin: it must be liquidated at its
    liquidation price, losing at most its isolated margin (the account never goes negative)."""
    frame = {
        "ts": market.ts,
        "open": market.data[0],
        "high": market.data[1],
        "low": market.data[2],
        "close": market.data[3],
        "volume": market.data[4],
    }
    start = len(market) // 2
    crashed, record = apply_scenario("flash_crash", pd.DataFrame(frame), rng=3, start=start, depth=0.35)
    stressed = build_market(crashed, symbol=market.symbol, timeframe=market.timeframe)
    config = SimConfig(leverage=10.0, margin_mode=MarginMode.ISOLATED)
    # flat until ten bars before the crash, then fully long at 10x
    targets = np.where(np.arange(len(stressed)) >= start - 10, 1.0, 0.0)
    res = simulate(stressed, targets, config)
    liq = res.trades[res.trades["kind"] == "liquidation"]
    lost = config.initial_cash - res.summary.final_equity
    ok = (
        len(liq) >= 1
        and bool(np.all(res.equity > 0))
        and lost <= config.initial_cash / config.leverage + res.summary.fees
    )
    if len(liq):
        row = liq.iloc[0]
        console.print(
            f"flash crash (−35% at bar {record.start:,}) under a 1x-exposure long on 10x isolated margin "
            f"({config.initial_cash / config.leverage:,.0f} USDT at risk): liquidated at bar "
            f"{int(row['bar']):,} at {row['price']:.4f} USDT (loss {row['pnl']:+,.2f} USDT, fee {row['fee']:,.2f}); "
            f"equity after {res.summary.final_equity:,.2f} of {config.initial_cash:,.0f} USDT, never below zero: "
            f"{bool(np.all(res.equity > 0))}"
        )
    else:
        console.print("[red]the flash crash did not liquidate a 10x long[/]")
    return ok


def _sweep(market: SimMarket, console: Console) -> bool:
    """A batched sweep: 4 leverages × 64 fee levels × (SMA trend, buy-and-hold) in one call."""
    data = market_data_from_sim(market)
    targets = np.stack([get_strategy("sma_trend").targets(data), get_strategy("buy_and_hold").targets(data)])
    configs, tidx = [], []
    for k in range(2):
        for lev in (1.0, 2.0, 3.0, 5.0):
            for fee in np.linspace(0.0, 0.001, 64):
                configs.append(SimConfig(leverage=lev, taker_fee=float(fee)))
                tidx.append(k)
    t0 = time.perf_counter()
    out = simulate_batch([market], targets, configs, [bracket_table(market.symbol)], target_index=tidx)
    dt = time.perf_counter() - t0
    s = out.summary
    console.print(
        f"batched sweep: {len(configs)} paths × {len(market):,} bars in {dt * 1e3:.0f} ms "
        f"({len(configs) * len(market) / dt / 1e6:.0f} M steps/s); SMA trend return from "
        f"{s['total_return'][:256].max():+.2%} (no fees, 1x) down to {s['total_return'][:256].min():+.2%}"
    )
    # at each leverage, a higher fee can only cost money: returns must not rise along the fee axis
    sma = s["total_return"].to_numpy()[:256].reshape(4, 64)
    return bool(np.all(np.diff(sma, axis=1) <= 1e-12) and np.isfinite(s["final_equity"]).all())


def run_backtest_stage(
    cfg: AppConfig, store: ParquetStore, symbols: list[Symbol], console: Console
) -> BacktestStageResult:
    """Backtest → report → baselines → lookahead → audit → stress → sweep."""
    console.rule("[bold]2. simulate and backtest")
    loaded = load_from_store(store, EXCHANGE, symbols, cfg.synthetic.timeframe, TimeRange())
    ledger = TrialLedger.in_user_data(cfg.data.user_data_dir)
    config = SimConfig(leverage=2.0)
    run = run_backtest(get_strategy("sma_trend"), loaded.markets, config, ledger=ledger,
                       data_sources=loaded.sources, notes=loaded.notes)  # fmt: skip
    print_report(run, console)
    reports = write_reports(run, cfg.data.user_data_dir / "backtest_results" / run.run_id)
    console.print(f"reports: {reports['html']}  {reports['json']}  (trial {run.trial_id} in the ledger)")
    checks: dict[str, bool] = {}
    html = reports["html"].read_text()
    checks["html_report"] = "plotly" in html.lower() and '<script src="http' not in html
    _baselines(loaded.markets, config, ledger, console)
    look = analyse_lookahead(get_strategy("sma_trend"), market_data_from_sim(loaded.markets[0]), n_points=50)
    console.print(
        f"lookahead analysis of sma_trend: {len(look.points)} truncation points, "
        f"{look.values_compared:,} values compared, biased: {look.biased}"
    )
    checks["no_lookahead"] = not look.biased
    pair = run.pairs[0]
    rebuilt = reconstruct_equity(pair.result, pair.market)
    err = float(np.max(np.abs(rebuilt - pair.result.equity) / np.maximum(np.abs(pair.result.equity), 1.0)))
    console.print(f"equity rebuilt from the trade log and the data alone: max relative error {err:.1e}")
    checks["equity_from_log"] = err < 1e-9
    checks["flash_crash_liquidation"] = _flash_crash(loaded.markets[0], console)
    checks["batched_sweep"] = _sweep(loaded.markets[0], console)
    return BacktestStageResult(reports, run.trial_id, float(run.equity[-1]), checks)
