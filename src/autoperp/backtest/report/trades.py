"""Round trips rebuilt from a simulation's trade log.

A round trip opens when the position leaves 0 and closes when it returns to 0 or flips sign; a flip
closes one trip and opens the next at the same fill, its fee split in proportion to the quantity on each
side. Adds and partial reductions stay inside the trip. A trip's PnL is net of everything it cost
while open: realised PnL − trading/liquidation fees − funding paid (+ funding received).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoperp.sim.result import SimResult

__all__ = ["EXIT_REASONS", "ROUND_TRIP_COLUMNS", "round_trips"]

EXIT_REASONS = ("signal", "liquidation", "force_close", "open")
ROUND_TRIP_COLUMNS = (
    "symbol", "side", "entry_ts", "exit_ts", "entry_bar", "exit_bar", "bars_held", "qty", "entry_price",
    "exit_price", "notional", "gross_pnl", "fees", "funding", "pnl", "return", "fills", "exit_reason",
)  # fmt: skip
_REASON_OF_KIND = {"fill": "signal", "liquidation": "liquidation", "force_close": "force_close"}


@dataclass
class _Open:
    side: float  # +1 long, -1 short
    entry_ts: int
    entry_bar: int
    equity_at_entry: float
    max_qty: float = 0.0
    in_qty: float = 0.0  # base units added, for the average entry price
    in_value: float = 0.0  # USDT
    out_qty: float = 0.0  # base units closed, for the average exit price
    out_value: float = 0.0
    gross: float = 0.0
    fees: float = 0.0
    funding: float = 0.0  # USDT, positive = paid
    fills: int = 0

    def add(self, qty: float, price: float, fee: float) -> None:
        self.in_qty += qty
        self.in_value += qty * price
        self.fees += fee
        self.fills += 1

    def reduce(self, qty: float, price: float, fee: float, pnl: float) -> None:
        self.out_qty += qty
        self.out_value += qty * price
        self.gross += pnl
        self.fees += fee
        self.fills += 1


def _equity_before(result: SimResult, bar: int) -> float:
    return float(result.equity[bar - 1]) if bar > 0 else float(result.summary.initial_cash)


def _row(
    symbol: str, t: _Open, exit_ts: int, exit_bar: int, exit_price: float, reason: str
) -> dict[str, object]:
    entry_price = t.in_value / t.in_qty if t.in_qty else float("nan")
    pnl = t.gross - t.fees - t.funding
    notional = t.max_qty * entry_price
    return {
        "symbol": symbol,
        "side": "long" if t.side > 0 else "short",
        "entry_ts": t.entry_ts,
        "exit_ts": exit_ts,
        "entry_bar": t.entry_bar,
        "exit_bar": exit_bar,
        "bars_held": exit_bar - t.entry_bar,
        "qty": t.max_qty,
        "entry_price": entry_price,
        "exit_price": exit_price,
        "notional": notional,
        "gross_pnl": t.gross,
        "fees": t.fees,
        "funding": t.funding,
        "pnl": pnl,
        # the trip's contribution to its account: PnL over the account's equity before the entry
        "return": pnl / t.equity_at_entry if t.equity_at_entry > 0 else float("nan"),
        "fills": t.fills,
        "exit_reason": reason,
    }


def round_trips(result: SimResult, symbol: str = "") -> pd.DataFrame:
    """The round trips of one simulated account, in exit order (columns :data:`ROUND_TRIP_COLUMNS`).

    Times are int64 ms (bar opens), quantities base units (``qty`` = the largest size held), prices and
    money USDT, ``funding`` positive = paid, ``return`` = net PnL / account equity before the entry
    (fraction), ``exit_reason`` one of :data:`EXIT_REASONS` ("open": still held at the last bar, valued
    at the mark, when the run did not force-close).
    """
    log = result.trades
    rows: list[dict[str, object]] = []
    kinds = log["kind"].astype(str).tolist()
    cols = [
        log[c].to_numpy().tolist() for c in ("bar", "ts", "qty", "price", "fee", "pnl", "funding", "position")
    ]
    pos = 0.0
    trip: _Open | None = None
    for kind, bar, ts, qty, price, fee, pnl, funding, after in zip(kinds, *cols, strict=True):
        if kind == "funding":
            if trip is not None:
                trip.funding += funding
            pos = after
            continue
        if pos == 0.0:
            if after != 0.0:
                trip = _Open(float(np.sign(after)), ts, bar, _equity_before(result, bar))
                trip.add(abs(qty), price, fee)
                trip.max_qty = abs(after)
            pos = after
            continue
        assert trip is not None
        if after != 0.0 and np.sign(after) == np.sign(pos):
            if abs(after) > abs(pos):
                trip.add(abs(qty), price, fee)
                trip.max_qty = max(trip.max_qty, abs(after))
            else:
                trip.reduce(abs(qty), price, fee, pnl)
            pos = after
            continue
        # the position returns to 0 or flips: the closing part's share of the fee stays with this trip
        closed = abs(pos)
        share = closed / abs(qty) if qty else 1.0
        trip.reduce(closed, price, fee * share, pnl)
        rows.append(
            _row(symbol, trip, ts, bar, trip.out_value / trip.out_qty, _REASON_OF_KIND.get(kind, "signal"))
        )
        trip = None
        if after != 0.0:
            trip = _Open(float(np.sign(after)), ts, bar, _equity_before(result, bar))
            trip.add(abs(after), price, fee * (1.0 - share))
            trip.max_qty = abs(after)
        pos = after
    if trip is not None and pos != 0.0 and len(result.equity):
        # still open (no force-close): value what is left at the last mark, as equity does
        last = len(result.equity) - 1
        wallet = float(log["wallet"].iloc[-1]) if len(log) else float(result.summary.initial_cash)
        unrealised = float(result.equity[last]) - wallet
        mark = float(result.mark[last])
        trip.out_qty += abs(pos)
        trip.out_value += abs(pos) * mark
        trip.gross += unrealised
        rows.append(_row(symbol, trip, int(result.ts[last]), last, mark, "open"))
    frame = pd.DataFrame(rows, columns=list(ROUND_TRIP_COLUMNS))
    return frame.astype({"entry_ts": "int64", "exit_ts": "int64", "entry_bar": "int64", "exit_bar": "int64",
                         "bars_held": "int64", "fills": "int64"})  # fmt: skip
