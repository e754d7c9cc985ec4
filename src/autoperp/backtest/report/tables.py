"""The report's tables as plain text cells, so the terminal and the HTML page show the same figures.

Tables follow freqtrade's backtest summary: per pair (with a TOTAL row for the portfolio), exit
reasons, summary metrics, monthly breakdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from autoperp.backtest.report import formatting as f
from autoperp.backtest.report.stats import BacktestStats, RunStats
from autoperp.backtest.report.trades import EXIT_REASONS
from autoperp.backtest.run_result import BacktestRun

__all__ = [
    "Column",
    "TableSpec",
    "exit_reason_table",
    "metadata_rows",
    "monthly_table",
    "pair_table",
    "summary_table",
]


@dataclass(frozen=True)
class Column:
    """A column: ``numeric`` ones are right-aligned; ``signed`` ones are coloured by sign."""

    header: str
    numeric: bool = True
    signed: bool = False


@dataclass
class TableSpec:
    """A titled table of text cells; ``total`` is an optional last row set apart."""

    title: str
    columns: list[Column]
    rows: list[list[str]]
    total: list[str] | None = None
    caption: str = ""
    key: str = field(default="")  # stable id for HTML anchors and tests


def _wdl(wins: int, draws: int, losses: int, trades: int) -> str:
    rate = f.pct(wins / trades, 1) if trades else f.DASH
    return f"{wins} {draws} {losses} {rate}"


def _pair_row(name: str, s: BacktestStats) -> list[str]:
    return [
        name,
        f.integer(s.trades),
        f.pct(s.avg_trade_return),
        f.money(s.profit),
        f.pct(s.total_return),
        f.duration(s.avg_duration_days),
        _wdl(s.wins, s.draws, s.losses, s.trades),
        f.pct(s.max_drawdown),
        f.ratio(s.sharpe),
        f.money(s.fees),
        f.money(-s.funding_net),
        f.integer(s.liquidations),
    ]


def pair_table(stats: RunStats) -> TableSpec:
    """One row per pair, then TOTAL (the portfolio curve; its trade figures pool every pair's trips)."""
    cols = [
        Column("Pair", numeric=False), Column("Trades"), Column("Avg profit %", signed=True),
        Column("Profit USDT", signed=True), Column("Profit %", signed=True), Column("Avg duration"),
        Column("Win Draw Loss Win%"), Column("Max DD %"), Column("Sharpe", signed=True), Column("Fees"),
        Column("Funding", signed=True), Column("Liq."),
    ]  # fmt: skip
    return TableSpec(
        "BACKTESTING REPORT",
        cols,
        [_pair_row(s.name, s) for s in stats.pairs],
        total=_pair_row("TOTAL", stats.portfolio),
        caption="Avg profit %: mean round-trip PnL over the account's equity at entry. Fees and funding in "
        "USDT; funding = received − paid. Each pair trades a sub-account of its allocation.",
        key="pairs",
    )


def exit_reason_table(trips: pd.DataFrame) -> TableSpec:
    """Round trips grouped by how they ended (signal, liquidation, force_close, open)."""
    cols = [
        Column("Exit reason", numeric=False), Column("Trades"), Column("Avg profit %", signed=True),
        Column("Profit USDT", signed=True), Column("Win Draw Loss Win%"),
    ]  # fmt: skip
    rows = []
    for reason in EXIT_REASONS:
        part = trips[trips["exit_reason"] == reason]
        if not len(part):
            continue
        pnl = part["pnl"].astype(float)
        wins, losses = int((pnl > 0).sum()), int((pnl < 0).sum())
        rows.append([
            reason, f.integer(len(part)), f.pct(float(part["return"].astype(float).mean())), f.money(float(pnl.sum())),
            _wdl(wins, len(part) - wins - losses, losses, len(part)),
        ])  # fmt: skip
    return TableSpec("EXIT REASON STATS", cols, rows, key="exit_reasons")


def summary_table(run: BacktestRun, stats: RunStats) -> TableSpec:
    """Freqtrade-style SUMMARY METRICS of the portfolio."""
    p = stats.portfolio
    months = p.monthly
    best = max(months, key=lambda m: m.total_return) if months else None
    worst = min(months, key=lambda m: m.total_return) if months else None
    positive = sum(1 for m in months if m.total_return > 0)
    rows = [
        ["Strategy", run.strategy],
        ["Timeframe", run.timeframe],
        ["Pairs", ", ".join(s.name for s in stats.pairs) or f.DASH],
        ["Backtesting from", f.timestamp(p.start_ms)],
        ["Backtesting to", f.timestamp(p.end_ms)],
        ["Bars", f.integer(p.bars)],
        ["Total / daily avg trades", f"{f.integer(p.trades)} / {f.ratio(p.trades_per_day)}"],
        ["Long / short trades", f"{f.integer(p.long_trades)} / {f.integer(p.short_trades)}"],
        ["Starting balance", f"{f.money(p.initial_equity)} USDT"],
        ["Final balance", f"{f.money(p.final_equity)} USDT"],
        ["Absolute profit", f"{f.money(p.profit)} USDT"],
        ["Total profit %", f.pct(p.total_return)],
        ["CAGR %", f.pct(p.cagr)],
        ["Volatility (annualised)", f.pct(p.volatility)],
        ["Sharpe", f.ratio(p.sharpe)],
        ["Sortino", f.ratio(p.sortino)],
        ["Calmar", f.ratio(p.calmar)],
        ["Profit factor", f.ratio(p.profit_factor)],
        ["Expectancy (per trade)", f"{f.money(p.expectancy)} USDT"],
        ["Avg. trade return", f.pct(p.avg_trade_return)],
        ["Win rate", f.pct(p.win_rate)],
        ["Avg. duration", f.duration(p.avg_duration_days)],
        ["Best trade", f"{f.pct(p.best_trade)} ({f.money(p.best_trade_profit)} USDT)"],
        ["Worst trade", f"{f.pct(p.worst_trade)} ({f.money(p.worst_trade_profit)} USDT)"],
        ["Exposure (bars in market)", f.pct(p.exposure)],
        ["Avg. leverage (gross)", f.ratio(p.avg_leverage)],
        ["Turnover", f"{f.money(p.turnover, 0)} USDT ({f.ratio(p.turnover_per_year, 1)}× equity / year)"],
        ["Fees", f"{f.money(p.fees)} USDT"],
        ["Funding paid", f"{f.money(p.funding_paid)} USDT"],
        ["Funding received", f"{f.money(p.funding_received)} USDT"],
        ["Funding net (paid − received)", f"{f.money(p.funding_net)} USDT"],
        ["Fills", f.integer(p.fills)],
        ["Liquidations", f.integer(p.liquidations)],
        ["Max drawdown", f.pct(p.max_drawdown)],
        [
            "Max drawdown duration",
            f"{f.integer(p.max_drawdown_duration_bars)} bars ({f.duration(p.max_drawdown_duration_days)})",
        ],
        ["Ulcer index", f.pct(p.ulcer_index)],
        ["Market change (buy & hold)", f.pct(p.market_change)],
        ["Best month", f"{best.month} {f.pct(best.total_return)}" if best else f.DASH],
        ["Worst month", f"{worst.month} {f.pct(worst.total_return)}" if worst else f.DASH],
        ["Positive months", f"{positive} / {len(months)}"],
    ]
    if p.ruined:
        rows.append(["Ruined", "yes: equity reached 0"])
    return TableSpec(
        "SUMMARY METRICS", [Column("Metric", numeric=False), Column("Value")], rows, key="summary"
    )


def monthly_table(s: BacktestStats) -> TableSpec:
    """Return per UTC calendar month; the months compound to the total return."""
    cols = [
        Column("Month", numeric=False),
        Column("Return %", signed=True),
        Column("Profit USDT", signed=True),
        Column("Trades"),
    ]
    rows = [[m.month, f.pct(m.total_return), f.money(m.profit), f.integer(m.trades)] for m in s.monthly]
    return TableSpec(
        "MONTHLY BREAKDOWN",
        cols,
        rows,
        total=["TOTAL", f.pct(s.total_return), f.money(s.profit), f.integer(s.trades)],
        caption="Trades: round trips closed in the month.",
        key="monthly",
    )


def metadata_rows(run: BacktestRun, stats: RunStats) -> list[tuple[str, str]]:
    """Run metadata as (label, text) pairs: strategy, parameters, config, timerange, data sources."""
    p = stats.portfolio
    pairs = ", ".join(f"{pr.symbol} ({f.pct(pr.allocation, 0)})" for pr in run.pairs) or f.DASH
    return [
        ("Run id", run.run_id or f.DASH),
        ("Ledger trial", run.trial_id or f.DASH),
        ("Strategy", run.strategy),
        ("Parameters", json.dumps(run.strategy_params, default=str, sort_keys=True)),
        ("Timeframe", run.timeframe),
        ("Timerange (UTC)", f"{f.timestamp(p.start_ms)} → {f.timestamp(p.end_ms)}"),
        ("Pairs (allocation)", pairs),
        ("Initial cash", f"{f.money(run.initial_cash)} USDT"),
        ("Simulator config", json.dumps(run.config.model_dump(mode="json"), sort_keys=True)),
        ("Data sources", "\n".join(run.data_sources) or f.DASH),
    ]
