"""Backtest statistics: curve metrics agree with autoperp.metrics, trade metrics with the round trips,
the monthly breakdown compounds to the total, ruin is cut and said."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoperp.backtest.report.downsample import minmax_indices
from autoperp.backtest.report.stats import RunStats, bar_length_ms, run_stats
from autoperp.backtest.report.trades import round_trips
from autoperp.backtest.run_result import BacktestRun
from autoperp.core.time import MS_PER_DAY
from autoperp.metrics import performance_from_equity
from autoperp.metrics.inputs import MS_PER_YEAR
from autoperp.sim import SimConfig
from tests.backtest.test_report_runs import (
    BTC,
    ETH,
    HOUR,
    backtest_run,
    hand_candles,
    hand_case,
    isolated_liquidation_case,
    pair_run,
    ruin_case,
    synthetic_run,
    targets_at,
)

Syn = tuple[BacktestRun, RunStats]


@pytest.fixture(scope="module")
def syn() -> Syn:
    run = synthetic_run()
    return run, run_stats(run)


def test_pair_curve_metrics_match_autoperp_metrics(syn: Syn) -> None:
    run, stats = syn
    for pair, s in zip(run.pairs, stats.pairs, strict=True):
        res = pair.result
        points = np.r_[res.summary.initial_cash, res.equity]
        ref = performance_from_equity(points, bar_ms=HOUR, timestamps_ms=np.r_[res.ts[0] - HOUR, res.ts])
        for name in (
            "total_return",
            "cagr",
            "volatility",
            "sharpe",
            "sortino",
            "calmar",
            "max_drawdown",
            "ulcer_index",
        ):
            assert getattr(s, name) == pytest.approx(getattr(ref, name), rel=1e-12), name
        assert s.max_drawdown_duration_bars == ref.max_drawdown_duration_bars
        assert s.max_drawdown_duration_days == pytest.approx(ref.max_drawdown_duration_ms / MS_PER_DAY)
        # the kernel tracks its own drawdown: the report must agree with it
        assert s.max_drawdown == pytest.approx(res.summary.max_drawdown, rel=1e-9)
        # 24/7 annualisation from the 1h bar length
        r = points[1:] / points[:-1] - 1
        assert s.volatility == pytest.approx(np.std(r, ddof=1) * math.sqrt(MS_PER_YEAR / HOUR), rel=1e-9)
        assert s.final_equity == pytest.approx(res.summary.final_equity)
        assert (s.fees, s.funding_net, s.liquidations) == (res.summary.fees, res.summary.funding_net, 0)


def test_trade_metrics_are_over_round_trips(syn: Syn) -> None:
    run, stats = syn
    pair, s = run.pairs[0], stats.pairs[0]
    trips = round_trips(pair.result, pair.symbol)
    pnl = trips["pnl"].to_numpy()
    assert s.trades == len(trips) and s.wins + s.draws + s.losses == s.trades
    assert s.win_rate == pytest.approx((pnl > 0).mean())
    assert s.profit_factor == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    assert s.expectancy == pytest.approx(pnl.mean())
    assert s.best_trade_profit == pytest.approx(pnl.max()) and s.worst_trade_profit == pytest.approx(
        pnl.min()
    )
    assert s.avg_duration_bars == pytest.approx(trips["bars_held"].mean())
    assert s.avg_duration_days == pytest.approx(trips["bars_held"].mean() / 24)  # no gaps: bars × 1h
    assert s.long_trades + s.short_trades == s.trades
    # bar-based figures are not what the report calls win rate
    ref = performance_from_equity(np.r_[pair.result.summary.initial_cash, pair.result.equity], bar_ms=HOUR)
    assert s.win_rate != pytest.approx(ref.win_rate)


def test_portfolio_pools_the_pairs(syn: Syn) -> None:
    run, stats = syn
    p = stats.portfolio
    assert p.name == "portfolio" and p.bars == len(run.ts) and p.initial_equity == 10_000
    assert p.trades == sum(s.trades for s in stats.pairs) == len(stats.round_trips)
    assert p.fees == pytest.approx(sum(s.fees for s in stats.pairs))
    assert p.funding_paid == pytest.approx(sum(s.funding_paid for s in stats.pairs))
    assert p.funding_net == pytest.approx(p.funding_paid - p.funding_received)
    assert p.profit == pytest.approx(sum(s.profit for s in stats.pairs))
    assert p.profit == pytest.approx(stats.round_trips["pnl"].sum(), abs=1e-6)
    ref = performance_from_equity(np.r_[10_000.0, run.equity], bar_ms=HOUR)
    assert p.sharpe == pytest.approx(ref.sharpe) and p.max_drawdown == pytest.approx(ref.max_drawdown)
    assert set(stats.round_trips["symbol"]) == {BTC, ETH}
    assert (np.diff(stats.round_trips["exit_ts"].to_numpy()) >= 0).all()
    # the portfolio is in the market whenever either pair is
    assert p.exposure >= max(s.exposure * s.bars for s in stats.pairs) / p.bars
    assert "a run note" in p.notes
    assert "all pairs: equity marked and liquidation tested at mark prices" in p.notes
    assert any(n.startswith(f"{BTC}: margin brackets:") for n in p.notes)


def test_monthly_breakdown_compounds_to_the_total(syn: Syn) -> None:
    _, stats = syn
    for s in [stats.portfolio, *stats.pairs]:
        months = s.monthly
        assert [m.month for m in months] == ["2024-01", "2024-02", "2024-03"]
        assert np.prod([1 + m.total_return for m in months]) - 1 == pytest.approx(s.total_return, rel=1e-9)
        assert sum(m.profit for m in months) == pytest.approx(s.profit)
        assert sum(m.trades for m in months) == s.trades
        assert months[1].start_ms == 1_706_745_600_000  # 2024-02-01 00:00 UTC


def test_hand_case_exposure_and_costs() -> None:
    _, run = hand_case()
    s = run_stats(run).portfolio
    assert s.exposure == pytest.approx(9 / 12)
    assert s.trades == 3 and (s.wins, s.draws, s.losses) == (2, 0, 1)
    assert s.funding_paid == pytest.approx(0.11) and s.funding_received == pytest.approx(0.18)
    assert s.turnover == pytest.approx(100 + 120 + 300 + 90 + 100 + 105)
    assert s.market_change == pytest.approx(105 / 100 - 1)
    assert any("no mark-price data" in n for n in s.notes)
    assert not any("no funding data" in n for n in s.notes)


def test_liquidations_are_counted() -> None:
    _, run = isolated_liquidation_case()
    s = run_stats(run)
    assert s.portfolio.liquidations == 1 and not s.portfolio.ruined
    assert s.round_trips["exit_reason"].tolist() == ["liquidation", "force_close"]


def test_ruin_cuts_the_curve_and_says_so() -> None:
    _, run = ruin_case()
    s = run_stats(run).portfolio
    assert s.ruined and s.final_equity == 0.0 and s.total_return == -1.0
    assert s.max_drawdown == pytest.approx(1.0) and s.bars == 6
    assert any("reached 0" in n and "(ruin)" in n for n in s.notes)
    assert s.trades == 1 and s.liquidations == 1


def test_no_trades_leaves_trade_metrics_empty() -> None:
    pair = pair_run(BTC, hand_candles([100.0] * 5, 101.0), targets_at(5, {}), SimConfig(initial_cash=1_000.0))
    s = run_stats(backtest_run([pair], 1_000.0)).portfolio
    assert s.trades == 0 and math.isnan(s.win_rate) and math.isnan(s.profit_factor) and s.exposure == 0.0
    assert s.total_return == 0.0 and len(s.monthly) == 1


def test_bar_length_comes_from_the_timestamps() -> None:
    ts = np.array([0, 5, 10, 30, 35], dtype=np.int64) * 60_000  # one gap
    assert bar_length_ms(ts, "1h") == 5 * 60_000
    assert bar_length_ms(ts[:1], "15m") == 15 * 60_000


def test_minmax_downsampling_keeps_spikes() -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=1_000_000))
    y[123_457] += 1e4
    y[876_543] -= 1e4
    keep = minmax_indices(y, 5_000)
    assert keep.size <= 5_000 and (np.diff(keep) > 0).all()
    assert {0, 123_457, 876_543, y.size - 1} <= set(keep.tolist())
    assert minmax_indices(y[:100], 5_000).tolist() == list(range(100))
