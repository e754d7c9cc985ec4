"""What a simulation returns: per-bar arrays, the trade log and the account summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from autoperp.sim import layout as L
from autoperp.sim.config import SimConfig

__all__ = ["AccountSummary", "SimResult", "margin_ratio_curve", "summary_from_state", "trade_log_frame"]

TRADE_LOG_COLUMNS = (
    "kind", "bar", "ts", "qty", "price", "fee", "pnl", "funding", "rate", "position", "wallet", "isolated_margin",
)  # fmt: skip


@dataclass(frozen=True)
class AccountSummary:
    """Money totals of one path (USDT unless noted)."""

    initial_cash: float
    final_equity: float
    total_return: float  # fraction
    fees: float  # trading + liquidation fees paid
    funding_net: float  # paid minus received
    funding_paid: float
    funding_received: float
    turnover: float  # traded notional
    fills: int
    liquidations: int
    max_drawdown: float  # fraction of peak equity
    bars: int
    blown: bool  # equity reached zero


def summary_from_state(state: np.ndarray, initial_cash: float) -> AccountSummary:
    """Read an :class:`AccountSummary` off a kernel state row."""
    final = float(state[L.S_LAST_EQUITY])
    return AccountSummary(
        initial_cash=initial_cash,
        final_equity=final,
        total_return=final / initial_cash - 1.0,
        fees=float(state[L.S_FEES]),
        funding_net=float(state[L.S_FUNDING]),
        funding_paid=float(state[L.S_FUNDING_PAID]),
        funding_received=float(state[L.S_FUNDING_RECEIVED]),
        turnover=float(state[L.S_TURNOVER]),
        fills=int(state[L.S_N_FILLS]),
        liquidations=int(state[L.S_N_LIQ]),
        max_drawdown=float(state[L.S_MAX_DD]),
        bars=int(state[L.S_N_BARS]),
        blown=bool(state[L.S_BLOWN]),
    )


def trade_log_frame(ev_i: np.ndarray, ev_f: np.ndarray, n: int) -> pd.DataFrame:
    """The kernel's packed event rows as a DataFrame (kind as text; money in USDT, ts in ms)."""
    return pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(ev_i[:n, L.E_KIND], categories=pd.Index(L.EVENT_KIND_NAMES)),
            "bar": ev_i[:n, L.E_BAR],
            "ts": ev_i[:n, L.E_TS],
            "qty": ev_f[:n, L.E_QTY],
            "price": ev_f[:n, L.E_PRICE],
            "fee": ev_f[:n, L.E_FEE],
            "pnl": ev_f[:n, L.E_PNL],
            "funding": ev_f[:n, L.E_FUNDING],
            "rate": ev_f[:n, L.E_RATE],
            "position": ev_f[:n, L.E_POSITION],
            "wallet": ev_f[:n, L.E_WALLET],
            "isolated_margin": ev_f[:n, L.E_ISO_MARGIN],
        }
    )


@dataclass
class SimResult:
    """One path's simulation: per-bar equity (USDT, at mark), position (base units) and margin ratio
    (maintenance margin / margin balance), the trade log, the summary, and notes on data fallbacks."""

    ts: np.ndarray
    equity: np.ndarray
    position: np.ndarray
    mark: np.ndarray = field(repr=False)  # USDT, the price equity was marked at
    brackets: np.ndarray = field(repr=False)  # packed bracket table (see autoperp.sim.brackets)
    events_int: np.ndarray = field(repr=False)  # packed trade log (layout E_*), built into ``trades`` on use
    events_float: np.ndarray = field(repr=False)
    summary: AccountSummary
    config: SimConfig
    brackets_source: str = ""
    notes: list[str] = field(default_factory=list)

    @cached_property
    def margin_ratio(self) -> np.ndarray:
        """Per-bar maintenance margin / margin balance (Binance's margin ratio; ≥ 1 = liquidation), 0 when
        flat. Derived from equity, position, mark and the log, so the kernel's hot loop need not write it."""
        return margin_ratio_curve(self)

    @cached_property
    def trades(self) -> pd.DataFrame:
        """The trade log: every fill, funding payment, liquidation and the force-close, in order."""
        frame = trade_log_frame(self.events_int, self.events_float, self.events_int.shape[0])
        if self.config.margin_mode != "isolated":
            frame = frame.drop(columns="isolated_margin")
        return frame

    def returns(self) -> np.ndarray:
        """Simple per-bar returns of equity (fraction); the first bar is relative to the initial cash."""
        prev = np.concatenate(([self.summary.initial_cash], self.equity[:-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(prev > 0, self.equity / prev - 1.0, 0.0)
        return r


def margin_ratio_curve(result: SimResult) -> np.ndarray:
    """Margin ratio per bar of ``result`` (see :attr:`SimResult.margin_ratio`)."""
    pos = result.position
    notional = np.abs(pos) * result.mark
    br = result.brackets
    tier = np.minimum(np.searchsorted(br[:, 1], notional, side="left"), br.shape[0] - 1)
    mm = notional * br[tier, 3] - br[tier, 4]
    if result.config.margin_mode == "isolated" and result.events_int.shape[0] > 0:
        # wallet and isolated margin hold between events: take each bar's last event (or the start);
        # without events the position is flat throughout and the ratio 0 whatever the balance
        ev_bar = result.events_int[:, L.E_BAR]
        idx = np.searchsorted(ev_bar, np.arange(pos.shape[0]), side="right") - 1
        has = idx >= 0
        wallet = np.where(
            has, result.events_float[np.maximum(idx, 0), L.E_WALLET], result.summary.initial_cash
        )
        iso = np.where(has, result.events_float[np.maximum(idx, 0), L.E_ISO_MARGIN], 0.0)
        balance = iso + (result.equity - wallet)
    else:
        balance = result.equity
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(balance > 0, mm / balance, np.inf)
    return np.where(pos == 0.0, 0.0, ratio)
