"""Run a strategy over one or more pairs through the simulator: the heart of ``autoperp backtesting``.

Each pair gets its own sub-account of ``allocation × config.initial_cash`` (equal allocations by
default) and is simulated on its own bars; the portfolio curve is the sum of the sub-accounts on the
union of bar times (see :mod:`autoperp.backtest.portfolio`; cross margin is per pair sub-account).
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import re
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autoperp.backtest.adapter import DecideAdapter, as_strategy, strategy_name
from autoperp.backtest.market_data import market_data_from_sim
from autoperp.backtest.portfolio import combine_equity
from autoperp.backtest.run_result import BacktestRun, PairRun
from autoperp.backtest.strategy import Strategy
from autoperp.backtest.trial_record import record_run
from autoperp.core.errors import AutoperpError, UsageError
from autoperp.core.types import MarginMode
from autoperp.metrics.ledger import TrialLedger
from autoperp.sim.brackets import BracketTable, bracket_table, load_bracket_file
from autoperp.sim.config import SimConfig
from autoperp.sim.market import SimMarket
from autoperp.sim.simulate import simulate

__all__ = ["allocation_weights", "run_backtest", "strategy_targets"]

_ALLOC_TOL = 1e-9


def allocation_weights(
    symbols: Sequence[str], allocations: Sequence[float] | Mapping[str, float] | None
) -> list[float]:
    """Fraction of the initial cash per pair: equal by default; given ones must be > 0 and sum to ≤ 1."""
    n = len(symbols)
    if allocations is None:
        return [1.0 / n] * n
    if isinstance(allocations, Mapping):
        unknown = sorted(set(allocations) - set(symbols))
        missing = [s for s in symbols if s not in allocations]
        if unknown or missing:
            raise UsageError(
                f"allocations: {'unknown pair(s) ' + ', '.join(unknown) if unknown else 'no allocation for ' + ', '.join(missing)}"
            )
        weights = [float(allocations[s]) for s in symbols]
    else:
        weights = [float(a) for a in allocations]
        if len(weights) != n:
            raise UsageError(f"allocations: {len(weights)} given for {n} pair(s)")
    for s, w in zip(symbols, weights, strict=True):
        if not (math.isfinite(w) and w > 0):
            raise UsageError(f"allocations: {s} has {w!r}, must be a fraction > 0")
    if sum(weights) > 1.0 + _ALLOC_TOL:
        raise UsageError(f"allocations sum to {sum(weights):g}: they are fractions of the initial cash (≤ 1)")
    return weights


def _strategy_file(strategy: Strategy) -> str | None:
    """The source file of a strategy that is not autoperp's own (a user file, a model's module)."""
    target: Any = strategy.inner if isinstance(strategy, DecideAdapter) else strategy
    cls = getattr(type(strategy), "wrapped", None) or type(target)
    if cls.__module__.startswith("autoperp."):
        return None
    try:
        return inspect.getfile(cls)
    except (TypeError, OSError):
        return None


def strategy_targets(strategy: Strategy, market: SimMarket, name: str) -> np.ndarray:
    """The strategy's targets on ``market``, checked: one finite-or-NaN value per bar.

    An exception from a strategy defined outside autoperp (a user file) becomes a :class:`UsageError`
    naming the file and the line in it; one from autoperp's own strategies is a bug and keeps its traceback.
    """
    data = market_data_from_sim(market)
    try:
        raw = strategy.targets(data)
    except AutoperpError:
        raise
    except Exception as e:
        source = _strategy_file(strategy)
        if source is None:
            raise
        lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == source]
        where = f"line {lines[-1]}: " if lines else ""
        raise UsageError(
            f"{source}: {where}strategy {name} failed on {market.symbol}: {type(e).__name__}: {e}"
        ) from e
    try:
        t = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise UsageError(f"strategy {name}: targets on {market.symbol} are not numbers ({e})") from None
    if t.shape != (len(market),):
        raise UsageError(
            f"strategy {name}: {t.shape} targets for {len(market)} bars of {market.symbol} (one per bar)"
        )
    bad = np.flatnonzero(np.isinf(t))
    if bad.size:
        raise UsageError(
            f"strategy {name}: target {t[bad[0]]} at bar {bad[0]} of {market.symbol} (NaN holds, ±inf is refused)"
        )
    return t


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "strategy"


def run_backtest(
    strategy: Strategy | Any,
    pairs_data: Sequence[SimMarket],
    config: SimConfig,
    allocations: Sequence[float] | Mapping[str, float] | None = None,
    brackets_file: Path | str | None = None,
    *,
    ledger: TrialLedger | None = None,
    data_sources: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> BacktestRun:
    """Simulate ``strategy`` (a :class:`Strategy`, or any object with ``decide``) on every market.

    ``allocations``: fractions of ``config.initial_cash`` (USDT) per pair, by position or by ccxt symbol;
    equal by default. ``brackets_file``: Binance ``leverageBracket`` JSON overriding the bundled margin
    tiers. With ``ledger`` the run is recorded (kind ``backtest``) and ``run.trial_id`` set.
    """
    strat = as_strategy(strategy)
    name = strategy_name(strat)
    markets = list(pairs_data)
    if not markets:
        raise UsageError("nothing to backtest: no pairs given")
    symbols = [m.symbol for m in markets]
    if len(set(symbols)) != len(symbols):
        raise UsageError(
            f"pairs given twice: {', '.join(sorted({s for s in symbols if symbols.count(s) > 1}))}"
        )
    timeframes = {m.timeframe for m in markets}
    if len(timeframes) != 1:
        raise UsageError(f"pairs have different timeframes ({', '.join(sorted(timeframes))}): use one")
    weights = allocation_weights(symbols, allocations)
    overrides: dict[str, BracketTable] | None = (
        load_bracket_file(Path(brackets_file)) if brackets_file else None
    )
    run_notes = list(notes)
    if len(markets) > 1 and config.margin_mode is MarginMode.CROSS:
        run_notes.append("cross margin is per pair sub-account: pairs do not share margin")
    pairs: list[PairRun] = []
    for market, weight in zip(markets, weights, strict=True):
        table = bracket_table(market.symbol, overrides)
        if overrides is not None and table.source != str(brackets_file):
            run_notes.append(
                f"{market.symbol}: not in {brackets_file}: {table.source or 'bundled'} brackets used"
            )
        targets = strategy_targets(strat, market, name)
        sub = config.model_copy(update={"initial_cash": config.initial_cash * weight})
        result = simulate(market, targets, sub, brackets=table)
        pairs.append(PairRun(market.symbol, market, targets, result, weight))
    ts, equity = combine_equity(pairs, config.initial_cash)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    run = BacktestRun(
        strategy=name,
        strategy_params=strat.params(),
        timeframe=markets[0].timeframe,
        config=config,
        pairs=pairs,
        ts=ts,
        equity=equity,
        initial_cash=config.initial_cash,
        data_sources=list(data_sources),
        notes=run_notes,
        run_id=f"{stamp}_{_safe(name)}",
    )
    if ledger is not None:
        record_run(run, ledger)
        run.run_id = f"{run.run_id}_{run.trial_id}"
    return run
