"""A multi-pair run's portfolio curve from its pairs' sub-accounts.

Each pair trades its own sub-account (allocation × initial cash, USDT). Cross margin therefore applies
within a pair's sub-account only: a loss on one pair never eats the margin of another, and a pair
liquidated to zero stays at zero while the others trade on. Cash not allocated to any pair is held idle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autoperp.backtest.run_result import PairRun

__all__ = ["combine_equity", "portfolio_returns"]


def combine_equity(pairs: Sequence[PairRun], initial_cash: float) -> tuple[np.ndarray, np.ndarray]:
    """``(ts, equity)``: the sorted union of the pairs' bar times (int64 ms) and the portfolio equity
    (USDT) on it — each pair's equity carried forward over bars it lacks, its allocated cash before its
    first bar, plus idle cash."""
    allocated = sum(p.result.summary.initial_cash for p in pairs)
    first = pairs[0].result.ts
    if all(np.array_equal(p.result.ts, first) for p in pairs[1:]):  # the usual case: one shared clock
        ts = np.array(first, dtype=np.int64)
        equity = np.full(ts.shape[0], max(initial_cash - allocated, 0.0))
        for p in pairs:
            equity += p.result.equity
        return ts, equity
    # a stable sort (timsort) merges the already-sorted runs in linear time; np.unique is far slower here
    ts = np.sort(np.concatenate([p.result.ts for p in pairs]).astype(np.int64, copy=False), kind="stable")
    ts = ts[np.concatenate(([True], ts[1:] != ts[:-1]))]
    equity = np.full(ts.shape[0], max(initial_cash - allocated, 0.0))
    for p in pairs:
        idx = np.searchsorted(p.result.ts, ts, side="right") - 1
        equity += np.where(idx >= 0, p.result.equity[np.maximum(idx, 0)], p.result.summary.initial_cash)
    return ts, equity


def portfolio_returns(equity: np.ndarray, initial_cash: float) -> np.ndarray:
    """Simple per-bar returns (fraction) of ``equity``; the first is relative to ``initial_cash``, and a
    bar after equity reached zero returns 0 (nothing is left to lose); a gap past bankruptcy counts as −1."""
    prev = np.concatenate(([initial_cash], equity[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, equity / prev - 1.0, 0.0)
    return np.maximum(r, -1.0)
