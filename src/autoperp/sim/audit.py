"""Rebuild a simulation's equity curve from its trade log and the market data alone (DESIGN.md §3).

The audit trusts nothing the kernel kept in its state. The wallet is the initial cash plus the log's
cash flows (realised PnL − fee − funding, row by row), the position is the running sum of the log's
traded quantities, the entry price is re-averaged from the fills, and every bar is marked at the market's
mark price: equity = wallet + position · (mark − entry). A run whose curve this does not reproduce booked
money it did not log, or logged money it did not book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoperp.core.errors import ValidationError
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket
from autoperp.sim.result import SimResult

__all__ = ["LogReplay", "reconstruct_equity", "replay_log"]

_TRADE_KINDS = frozenset(("fill", "force_close"))


@dataclass(frozen=True)
class LogReplay:
    """The account after each trade-log row, rebuilt from the log (one entry per row, in log order).

    ``fill_pnl`` is the realised PnL (USDT) each fill or force-close should have booked given the
    replayed entry price (NaN on funding and liquidation rows), for comparison with the logged ``pnl``.
    """

    bar: np.ndarray  # int64 bar index of the row
    wallet: np.ndarray  # USDT
    position: np.ndarray  # signed base units
    entry: np.ndarray  # USDT average entry price (0 when flat)
    fill_pnl: np.ndarray  # USDT


def replay_log(result: SimResult) -> LogReplay:
    """Walk ``result.trades`` row by row from a flat account holding the initial cash."""
    log = result.trades
    kind = log["kind"].astype(str).to_numpy()
    bar = log["bar"].to_numpy(np.int64)
    qty = log["qty"].to_numpy(np.float64)
    price = log["price"].to_numpy(np.float64)
    pnl = log["pnl"].to_numpy(np.float64)
    fee = log["fee"].to_numpy(np.float64)
    funding = log["funding"].to_numpy(np.float64)
    k = len(log)
    wallet_out = np.empty(k)
    pos_out = np.empty(k)
    entry_out = np.empty(k)
    fill_pnl = np.full(k, np.nan)
    wallet = float(result.summary.initial_cash)
    q = 0.0
    e = 0.0
    for i in range(k):
        if kind[i] == "funding":
            # the same subtraction the kernel makes, so the replay matches it to the last bit
            wallet -= funding[i]
        else:
            wallet += pnl[i] - fee[i]
        dq = qty[i]
        if kind[i] in _TRADE_KINDS and dq != 0.0:
            p = price[i]
            new_q = q + dq
            if q == 0.0 or (q > 0.0) == (dq > 0.0):
                fill_pnl[i] = 0.0
                e = (q * e + dq * p) / new_q
            elif (new_q > 0.0) == (q > 0.0) and new_q != 0.0:
                fill_pnl[i] = -dq * (p - e)
            else:
                # a close or a reversal: the old side is realised in full, the rest opens at the fill
                fill_pnl[i] = q * (p - e)
                e = p if new_q != 0.0 else 0.0
            q = new_q
        elif kind[i] == "liquidation":
            q = q + dq
            e = 0.0
        wallet_out[i] = wallet
        pos_out[i] = q
        entry_out[i] = e
    return LogReplay(bar=bar, wallet=wallet_out, position=pos_out, entry=entry_out, fill_pnl=fill_pnl)


def reconstruct_equity(result: SimResult, market: SimMarket) -> np.ndarray:
    """Per-bar equity (USDT) rebuilt from ``result``'s trade log and ``market``'s mark prices only.

    Each bar takes the account after its last log row (or the previous bar's, or the initial cash) and
    marks the position at that bar's mark price. Should equal ``result.equity`` to rounding.
    """
    n = len(market)
    if result.equity.shape[0] != n:
        raise ValidationError(
            f"reconstruct_equity: the result has {result.equity.shape[0]} bars, the market {n}",
            field="equity",
        )
    replay = replay_log(result)
    mark = market.data[L.M_MARK]
    if replay.bar.shape[0] == 0:
        return np.full(n, float(result.summary.initial_cash))
    last = np.searchsorted(replay.bar, np.arange(n), side="right") - 1
    has = last >= 0
    idx = np.maximum(last, 0)
    wallet = np.where(has, replay.wallet[idx], float(result.summary.initial_cash))
    position = np.where(has, replay.position[idx], 0.0)
    entry = np.where(has, replay.entry[idx], 0.0)
    return np.asarray(wallet + position * (mark - entry), dtype=np.float64)
