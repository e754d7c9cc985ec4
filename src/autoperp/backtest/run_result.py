"""The record of one backtest run: what report writers, the ledger and lookahead analysis consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoperp.sim.config import SimConfig
from autoperp.sim.market import SimMarket
from autoperp.sim.result import SimResult

__all__ = ["BacktestRun", "PairRun"]


@dataclass
class PairRun:
    """One pair of a (possibly multi-pair) backtest: its market, its targets and its simulated account.

    Each pair trades its own sub-account of ``allocation`` × the run's initial cash (USDT).
    """

    symbol: str  # ccxt form, e.g. "FIL/USDT:USDT"
    market: SimMarket
    targets: np.ndarray  # exposure per bar, as the strategy returned it
    result: SimResult
    allocation: float  # fraction of the run's initial cash


@dataclass
class BacktestRun:
    """A whole run. ``equity`` is the portfolio curve (USDT) on ``ts`` (int64 ms): the sum of the pairs'
    equities, each carried forward over bars it does not have."""

    strategy: str
    strategy_params: dict[str, Any]
    timeframe: str
    config: SimConfig
    pairs: list[PairRun]
    ts: np.ndarray
    equity: np.ndarray
    initial_cash: float  # USDT
    data_sources: list[str] = field(default_factory=list)  # store keys or file paths
    notes: list[str] = field(default_factory=list)
    run_id: str = ""
    trial_id: str | None = None  # ledger id once recorded
