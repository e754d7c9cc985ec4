"""Backtest statistics per pair and for the portfolio, computed with :mod:`autoperp.metrics`.

Curve metrics (returns, volatility, Sharpe, Sortino, Calmar, drawdown, Ulcer, exposure) come from
:func:`autoperp.metrics.performance_from_equity` on the equity curve with the initial cash prepended,
annualised for a 24/7 market by the bar length read off the timestamps. Trade metrics (win rate, profit
factor, expectancy, durations) are over round trips (:mod:`.trades`), not bars. A curve that reaches 0
is cut at that bar (ruin) and the notes say when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoperp.backtest.report.trades import ROUND_TRIP_COLUMNS, round_trips
from autoperp.backtest.run_result import BacktestRun, PairRun
from autoperp.core.time import MS_PER_DAY, format_ms
from autoperp.core.timeframes import is_timeframe, timeframe_ms
from autoperp.metrics.consistency import month_starts_ms, period_returns
from autoperp.metrics.inputs import MS_PER_YEAR
from autoperp.metrics.performance import performance_from_equity
from autoperp.sim import layout as L
from autoperp.sim.result import AccountSummary, SimResult

__all__ = ["BacktestStats", "MonthlyReturn", "RunStats", "bar_length_ms", "held_position", "run_stats"]

PORTFOLIO = "portfolio"


@dataclass(frozen=True)
class MonthlyReturn:
    """One UTC calendar month of an equity curve."""

    month: str  # "YYYY-MM"
    start_ms: int  # first instant of the month, ms UTC
    total_return: float  # compounded over the month's bars, fraction
    profit: float  # USDT
    trades: int  # round trips closed in the month


@dataclass(frozen=True)
class BacktestStats:
    """Every figure of one equity curve (a pair's sub-account or the portfolio). Units in the comments."""

    name: str  # pair symbol or "portfolio"
    start_ms: int  # first bar open, ms UTC
    end_ms: int  # last bar open + one bar, ms UTC
    bars: int
    bar_ms: float  # bar length the annualisation uses
    initial_equity: float  # USDT
    final_equity: float  # USDT
    profit: float  # USDT
    total_return: float  # fraction
    cagr: float  # annualised, fraction per year
    volatility: float  # annualised std of bar returns, fraction
    sharpe: float  # annualised, risk-free 0
    sortino: float  # annualised, target 0
    calmar: float  # CAGR / max drawdown
    max_drawdown: float  # fraction of the running peak
    max_drawdown_duration_bars: int  # longest spell under water
    max_drawdown_duration_days: float
    ulcer_index: float  # fraction
    trades: int  # round trips
    long_trades: int
    short_trades: int
    wins: int
    draws: int
    losses: int
    win_rate: float  # wins / trades
    profit_factor: float  # gross profit / gross loss of round trips (USDT); inf without losses
    expectancy: float  # mean net PnL per round trip, USDT
    avg_trade_return: float  # mean round-trip return (PnL / equity at entry), fraction
    best_trade: float  # round-trip return, fraction
    worst_trade: float
    best_trade_profit: float  # USDT
    worst_trade_profit: float
    avg_duration_bars: float
    avg_duration_days: float
    trades_per_day: float
    exposure: float  # share of bars with an open position
    avg_leverage: float  # mean gross notional / equity over all bars
    turnover: float  # traded notional, USDT
    turnover_per_year: float  # traded notional / mean equity, per year
    fees: float  # trading + liquidation fees, USDT
    funding_paid: float  # USDT
    funding_received: float  # USDT
    funding_net: float  # paid − received, USDT
    fills: int
    liquidations: int
    market_change: float  # buy-and-hold change of the close (mean over pairs for the portfolio), fraction
    ruined: bool  # equity reached 0
    monthly: tuple[MonthlyReturn, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """Plain dict (monthly rows as dicts) for JSON."""
        return asdict(self)


@dataclass
class RunStats:
    """The statistics of a whole :class:`~autoperp.backtest.run_result.BacktestRun`."""

    portfolio: BacktestStats
    pairs: list[BacktestStats]
    round_trips: pd.DataFrame  # every pair's round trips, in exit order, with a symbol column
    bar_ms: float


def bar_length_ms(ts: np.ndarray, timeframe: str = "") -> float:
    """Bar length in ms: the median spacing of ``ts`` (gaps do not move it), else the timeframe's."""
    if ts.shape[0] >= 2:
        return float(np.median(np.diff(ts)))
    return float(timeframe_ms(timeframe)) if is_timeframe(timeframe) else float(MS_PER_DAY)


def held_position(result: SimResult) -> np.ndarray:
    """Position held during each bar (base units): the position at the close, or, on a bar whose
    liquidation or force-close flattened it, what was held until then."""
    pos = np.array(result.position, dtype=np.float64)
    kind = result.events_int[:, L.E_KIND]
    ends = np.flatnonzero((kind == L.EV_LIQUIDATION) | (kind == L.EV_FORCE_CLOSE))
    bars = result.events_int[ends, L.E_BAR]
    before = -result.events_float[ends, L.E_QTY]
    flat = pos[bars] == 0.0
    pos[bars[flat]] = before[flat]
    return pos


def _notional(pair: PairRun) -> np.ndarray:
    out: np.ndarray = np.abs(held_position(pair.result)) * pair.result.mark
    return out


def _trade_fields(trips: pd.DataFrame, days: float) -> dict[str, Any]:
    n = len(trips)
    pnl = trips["pnl"].to_numpy(np.float64)
    ret = trips["return"].to_numpy(np.float64)
    gains = float(pnl[pnl > 0].sum())
    loss = float(-pnl[pnl < 0].sum())
    if loss > 0:
        pf = gains / loss
    else:
        pf = float("inf") if gains > 0 else float("nan")
    nan = float("nan")
    wins, losses = int((pnl > 0).sum()), int((pnl < 0).sum())
    return {
        "trades": n,
        "long_trades": int((trips["side"] == "long").sum()),
        "short_trades": int((trips["side"] == "short").sum()),
        "wins": wins,
        "draws": n - wins - losses,
        "losses": losses,
        "win_rate": wins / n if n else nan,
        "profit_factor": pf,
        "expectancy": float(pnl.mean()) if n else nan,
        "avg_trade_return": float(np.nanmean(ret)) if n and np.isfinite(ret).any() else nan,
        "best_trade": float(np.nanmax(ret)) if n and np.isfinite(ret).any() else nan,
        "worst_trade": float(np.nanmin(ret)) if n and np.isfinite(ret).any() else nan,
        "best_trade_profit": float(pnl.max()) if n else nan,
        "worst_trade_profit": float(pnl.min()) if n else nan,
        "avg_duration_bars": float(trips["bars_held"].mean()) if n else nan,
        "avg_duration_days": float((trips["exit_ts"] - trips["entry_ts"]).mean() / MS_PER_DAY) if n else nan,
        "trades_per_day": n / days if days > 0 else nan,
    }


def _monthly(points_ts: np.ndarray, equity: np.ndarray, trips: pd.DataFrame) -> tuple[MonthlyReturn, ...]:
    """Per-month compounded return of ``equity`` (n + 1 points; point k > 0 closes bar k − 1, whose
    label is ``points_ts[k]``)."""
    labels = points_ts[1:]
    starts = month_starts_ms(int(labels[0]), int(labels[-1]))
    with np.errstate(divide="ignore"):
        log_wealth = np.log(equity / equity[0])
    returns = period_returns(log_wealth, labels, starts)
    idx = np.searchsorted(labels, starts, side="left")
    filled = np.flatnonzero(np.diff(idx) > 0)
    exit_month = np.searchsorted(starts, trips["exit_ts"].to_numpy(np.int64), side="right") - 1
    counts = np.bincount(exit_month[exit_month >= 0], minlength=starts.shape[0])
    out = []
    for k, r in zip(filled, returns, strict=True):
        month = np.datetime64(int(starts[k]), "ms").astype("datetime64[M]")
        profit = float(equity[idx[k + 1]] - equity[idx[k]])
        out.append(MonthlyReturn(str(month), int(starts[k]), float(r), profit, int(counts[k])))
    return tuple(out)


def _curve_stats(
    name: str,
    ts: np.ndarray,
    equity: np.ndarray,
    initial: float,
    bar_ms: float,
    exposure: np.ndarray,
    trips: pd.DataFrame,
    costs: AccountSummary | dict[str, float],
    market_change: float,
    notes: list[str],
) -> BacktestStats:
    """Stats of one curve: ``equity`` (USDT) and ``exposure`` (gross notional / equity) per bar on ``ts``."""
    n = ts.shape[0]
    step = round(bar_ms)
    points = np.concatenate(([float(initial)], np.maximum(np.asarray(equity, np.float64), 0.0)))
    points_ts = np.concatenate(([int(ts[0]) - step], ts.astype(np.int64)))
    expo = np.concatenate((exposure, [0.0]))
    zero = np.flatnonzero(points <= 0.0)
    ruined = bool(zero.size)
    if ruined:  # ruin ends the curve: nothing after it compounds
        cut = int(zero[0]) + 1
        points, points_ts, expo = points[:cut], points_ts[:cut], expo[:cut]
        who = "portfolio equity" if name == PORTFOLIO else "equity"
        notes = [
            *notes,
            f"{who} reached 0 at {format_ms(int(points_ts[-1]))} UTC (ruin): later bars are ignored",
        ]
    perf = performance_from_equity(points, bar_ms=bar_ms, timestamps_ms=points_ts, positions=expo)
    c = costs if isinstance(costs, dict) else asdict(costs)
    years = n * bar_ms / MS_PER_YEAR
    mean_equity = float(np.mean(points))
    days = n * bar_ms / MS_PER_DAY
    return BacktestStats(
        name=name,
        start_ms=int(ts[0]),
        end_ms=int(ts[-1]) + step,
        bars=n,
        bar_ms=bar_ms,
        initial_equity=float(initial),
        final_equity=float(points[-1]),
        profit=float(points[-1] - initial),
        total_return=perf.total_return,
        cagr=perf.cagr,
        volatility=perf.volatility,
        sharpe=perf.sharpe,
        sortino=perf.sortino,
        calmar=perf.calmar,
        max_drawdown=perf.max_drawdown,
        max_drawdown_duration_bars=perf.max_drawdown_duration_bars,
        max_drawdown_duration_days=perf.max_drawdown_duration_ms / MS_PER_DAY,
        ulcer_index=perf.ulcer_index,
        exposure=perf.exposure,
        avg_leverage=perf.gross_exposure,
        turnover=float(c["turnover"]),
        turnover_per_year=float(c["turnover"]) / mean_equity / years
        if mean_equity > 0 and years > 0
        else float("nan"),
        fees=float(c["fees"]),
        funding_paid=float(c["funding_paid"]),
        funding_received=float(c["funding_received"]),
        funding_net=float(c["funding_net"]),
        fills=int(c["fills"]),
        liquidations=int(c["liquidations"]),
        market_change=market_change,
        ruined=ruined,
        monthly=_monthly(points_ts, points, trips),
        notes=tuple(notes),
        **_trade_fields(trips, days),
    )


def _pair_notes(pair: PairRun) -> list[str]:
    m = pair.market
    notes = list(pair.result.notes)  # the simulator already says where mark or funding data is missing
    if m.mark_source == "mark":
        notes.append("equity marked and liquidation tested at mark prices")
    if m.n_settlements:
        notes.append(f"funding valued at {m.funding_source} ({m.n_settlements} settlements)")
    if pair.result.brackets_source:
        notes.append(f"margin brackets: {pair.result.brackets_source}")
    return list(dict.fromkeys(notes))  # the simulator may already have said some of it


def _market_change(pair: PairRun) -> float:
    close = pair.market.data[L.M_CLOSE]
    return float(close[-1] / close[0] - 1.0) if close.shape[0] else float("nan")


def _exposure(notional: np.ndarray, equity: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(equity > 0, notional / equity, 0.0)


def pair_stats(pair: PairRun, bar_ms: float) -> tuple[BacktestStats, pd.DataFrame]:
    """Stats and round trips of one pair's sub-account."""
    res = pair.result
    trips = round_trips(res, pair.symbol)
    stats = _curve_stats(
        pair.symbol, res.ts, res.equity, res.summary.initial_cash, bar_ms,
        _exposure(_notional(pair), res.equity), trips, res.summary, _market_change(pair), _pair_notes(pair),
    )  # fmt: skip
    return stats, trips


def _carried(pair_ts: np.ndarray, values: np.ndarray, ts: np.ndarray, before: float) -> np.ndarray:
    """``values`` on ``pair_ts`` carried forward onto ``ts`` (``before`` ahead of the pair's first bar)."""
    idx = np.searchsorted(pair_ts, ts, side="right") - 1
    return np.where(idx >= 0, values[np.maximum(idx, 0)], before)


def _grouped_notes(run: BacktestRun, per_pair: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    where: dict[str, list[str]] = {}
    for symbol, notes in per_pair:
        for note in dict.fromkeys(notes):
            where.setdefault(note, []).append(symbol)
    out = list(dict.fromkeys(run.notes))
    for note, symbols in where.items():
        who = "all pairs" if len(symbols) == len(per_pair) and len(per_pair) > 1 else ", ".join(symbols)
        out.append(f"{who}: {note}")
    return out


def run_stats(run: BacktestRun) -> RunStats:
    """Per-pair and portfolio statistics of ``run`` (one pass over each pair's arrays and trade log)."""
    bar_ms = bar_length_ms(np.asarray(run.ts), run.timeframe)
    pairs: list[BacktestStats] = []
    trip_frames: list[pd.DataFrame] = []
    gross = np.zeros(np.asarray(run.ts).shape[0])
    for pair in run.pairs:
        stats, trips = pair_stats(pair, bar_length_ms(pair.result.ts, run.timeframe))
        pairs.append(stats)
        trip_frames.append(trips)
        gross += _carried(pair.result.ts, _notional(pair), run.ts, 0.0)
    nonempty = [t for t in trip_frames if len(t)]
    all_trips = (
        pd.concat(nonempty, ignore_index=True).sort_values(
            ["exit_ts", "symbol"], kind="stable", ignore_index=True
        )
        if nonempty
        else pd.DataFrame(columns=list(ROUND_TRIP_COLUMNS))
    )
    keys = ("turnover", "fees", "funding_paid", "funding_received", "funding_net", "fills", "liquidations")
    costs = {k: float(sum(asdict(p.result.summary)[k] for p in run.pairs)) for k in keys}
    changes = [s.market_change for s in pairs if np.isfinite(s.market_change)]
    per_pair_notes = [(p.symbol, s.notes) for p, s in zip(run.pairs, pairs, strict=True)]
    portfolio = _curve_stats(
        PORTFOLIO, np.asarray(run.ts, np.int64), np.asarray(run.equity, np.float64), run.initial_cash, bar_ms,
        _exposure(gross, np.asarray(run.equity, np.float64)), all_trips, costs,
        float(np.mean(changes)) if changes else float("nan"), _grouped_notes(run, per_pair_notes),
    )  # fmt: skip
    return RunStats(portfolio=portfolio, pairs=pairs, round_trips=all_trips, bar_ms=bar_ms)
