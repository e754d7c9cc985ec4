"""The terminal report: freqtrade-style tables with the key figures, and the notes."""

from __future__ import annotations

from rich.console import Console

from autoperp.backtest.report import formatting as f
from autoperp.backtest.report import print_report, run_stats
from autoperp.backtest.run_result import BacktestRun
from tests.backtest.test_report_runs import BTC, ETH, isolated_liquidation_case, synthetic_run


def printed(run: BacktestRun, width: int = 200) -> str:
    console = Console(record=True, width=width, color_system=None)
    print_report(run, console)
    return console.export_text()


def row(text: str, label: str) -> str:
    """The table row whose first cell is ``label``."""
    return next(line for line in text.splitlines() if line.startswith(f"│ {label} "))


def test_tables_hold_the_key_figures() -> None:
    run = synthetic_run()
    text = printed(run)
    p = run_stats(run).portfolio
    for title in ("BACKTESTING REPORT", "EXIT REASON STATS", "SUMMARY METRICS", "MONTHLY BREAKDOWN", "Notes"):
        assert title in text
    assert BTC in text and ETH in text and "TOTAL" in text
    assert f.pct(p.total_return) in row(text, "Total profit %")
    assert f.pct(p.cagr) in row(text, "CAGR %")
    assert f.ratio(p.sharpe) in row(text, "Sharpe")
    assert f.ratio(p.sortino) in row(text, "Sortino")
    assert f.ratio(p.calmar) in row(text, "Calmar")
    assert f.pct(p.max_drawdown) in row(text, "Max drawdown")
    assert f.ratio(p.profit_factor) in row(text, "Profit factor")
    assert f.pct(p.win_rate) in row(text, "Win rate")
    assert f.pct(p.exposure) in row(text, "Exposure")
    assert f.money(p.fees) in row(text, "Fees")
    assert f.money(p.funding_paid) in row(text, "Funding paid")
    assert f.money(p.funding_received) in row(text, "Funding received")
    assert f"{f.money(p.final_equity)} USDT" in row(text, "Final balance")
    for m in p.monthly:
        assert f.pct(m.total_return) in row(text, m.month)
    total = row(text, "TOTAL")
    assert f.integer(p.trades) in total and f.money(p.profit) in total
    assert "a run note" in text


def test_liquidations_show_up() -> None:
    _, run = isolated_liquidation_case()
    text = printed(run)
    assert row(text, "Liquidations").rstrip(" │").endswith("1")
    assert "liquidation" in row(text, "liquidation")
    assert "no mark-price data" in text


def test_narrow_terminal_still_prints() -> None:
    text = printed(synthetic_run(), width=80)
    assert "SUMMARY METRICS" in text and "Sharpe" in text


def test_figures_are_written_plainly() -> None:
    assert f.pct(0.12345) == "12.35%" and f.pct(-0.5) == "-50.00%" and f.pct(-1e-9) == "0.00%"
    assert f.money(-1234.5) == "-1,234.50" and f.money(-0.0) == "0.00"
    assert f.ratio(float("nan")) == f.DASH and f.ratio(float("inf")) == "∞" and f.ratio(-float("inf")) == "-∞"
    assert f.duration(1.5) == "1d 12:00" and f.duration(2 / 24) == "02:00"
    assert f.timestamp(1_704_067_200_000) == "2024-01-01 00:00:00"
