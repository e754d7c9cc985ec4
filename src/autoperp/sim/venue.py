"""The event-driven venue: orders in, fills out, money booked by the kernel's own primitives.

:class:`SimVenue` is the paper exchange of DESIGN.md §1/§8 (NautilusTrader's SimulatedExchange is the model
users know). Every fill, funding payment and liquidation goes through :mod:`autoperp.sim.accounting`
(``apply_fill``, ``settle_funding``, ``liquidate``, ``refresh_liquidation_price``, ``fill_price``) on a
kernel state row, so the venue books exactly the money :func:`~autoperp.sim.simulate` books: given the
same target positions (as market orders from :meth:`SimVenue.order_for_target`), fills, funding,
liquidations and per-bar equity are equal (``tests/sim/test_venue_equality.py``). One difference is by
design: a liquidation cancels every working order, as on Binance. If the open gaps through the
liquidation price before a pending order fills, the kernel still reaches its target while the venue
fills nothing until the strategy orders again.

Bars and timing. Orders submitted while bar j is the last processed bar (i.e. at its close) are eligible
from bar j+1+``delay_bars``: no order fills at a price already seen. Inside bar j, as in the kernel:

1. funding settling at the open is paid on the position held then;
2. a position whose liquidation price the open gapped through is liquidated at that price;
3. the open: market orders and triggered stops fill (submission order), stops the open reached trigger,
   limit orders arrive, resting limits the open traded through fill;
4. the bar's path: open → first extreme → other extreme → close, where the first extreme is the one
   adverse to the position held after the open (low for a long, high for a short; flat: the nearer
   one, high on a tie) — the pessimistic rule freqtrade applies to stop-loss versus take-profit. Along
   each leg, resting limits, stops and the liquidation price act in the order the price reaches them;
   the liquidation is tested at the leg's end with the mark price there (mark low / mark high / mark
   close). With no resting order this is the kernel's single test at the adverse mark extreme;
5. on a force-close bar the position is closed at the close; equity is marked at the mark close.

Matching rules.

- Market: fills at the open ± half-spread ± impact (``fill_price``, square-root impact of the filled
  quantity), taker fee.
- Limit: arrives at the open of its first bar. If it crosses there (buy: limit ≥ open · (1 + half-spread
  + bar spread); sell mirrored) it takes liquidity: taker fee at the market fill price, never worse than
  the limit (NautilusTrader also fills a marketable limit as taker at the better price). Otherwise it
  rests and fills at its limit price with the maker fee when the price trades *through* it (buy: low <
  limit, or a later bar's open < limit). A touch (low == limit) does not fill: an order at the touch
  sits behind an unknown queue, and a trade through the level is the only evidence it was reached.
- Post-only: a limit that would cross is rejected, at submission (against the last close) or on arrival
  (against the open); it never takes liquidity.
- Stop (stop-market, triggered by trade prices): a buy triggers when the high reaches the stop (high ≥
  stop), a sell when low ≤ stop; it then fills as a market order at max(stop, open) (buy; min for a
  sell) ± half-spread ± impact, taker fee. Stop-limit orders are not supported.
- Reduce-only: never increases or flips the position; its fill is cut to the open position. Working
  reduce-only orders are canceled when the position goes flat (as Binance does: no dangling TP/SL),
  and one with nothing to reduce when it would fill is canceled too.
- Partial fills: each order fills at most ``participation`` × bar volume per bar (rounded down to the lot
  step); the rest keeps working (a market order at the next opens, a limit at its price). An order is
  matched at most once per bar.
- Liquidation: at the liquidation price (``liquidate``: clearance fee capped by the margin left); every
  working order is canceled first.
- Refusals at submission (status REJECTED with a reason, no exception): an account whose equity reached
  zero, a quantity off the lot step, a non-reduce-only notional under ``min_notional``, or an order that
  would take the worst-case position (position + same-side working orders) beyond leverage × equity or
  the bracket cap. Malformed orders (qty ≤ 0, a limit without a price, another symbol) raise UsageError.

Quantities are base units, prices and money USDT, ``ts`` int64 ms (bar open), fees fractions of notional.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from autoperp.core.errors import UsageError, ValidationError
from autoperp.core.types import Order, OrderType, Position, Side
from autoperp.sim import layout as L
from autoperp.sim.kernel import _target_qty
from autoperp.sim.market import SimMarket
from autoperp.sim.result import AccountSummary, SimResult, summary_from_state, trade_log_frame
from autoperp.sim.venue_engine import VenueEngine
from autoperp.sim.venue_orders import OrderStatus, VenueBar, VenueOrder

__all__ = ["BarCallback", "SimVenue"]

BarCallback = Callable[["SimVenue", int], object]

_CAP_TOLERANCE = 1e-9  # relative: a target clipped to the cap may exceed it by rounding


class SimVenue(VenueEngine):
    """A simulated perpetual-futures exchange for one symbol, stepped bar by bar.

    ``SimVenue(brackets, config, symbol, venue)``: ``brackets`` defaults to the table shipped for
    ``symbol``; ``config`` holds the money settings (fees, spread, impact, leverage, margin mode, delay,
    lot step, min notional) shared with the kernel; ``venue`` the matching settings (participation).
    """

    # ----------------------------------------------------------------------------------- account view

    @property
    def state(self) -> np.ndarray:
        """The kernel state row (layout ``S_*`` in :mod:`autoperp.sim.layout`); read it, do not write it."""
        return self._state

    @property
    def bar(self) -> int:
        """Index of the last processed bar (−1 before the first)."""
        return self._bar

    @property
    def position(self) -> float:
        """Signed base units (long > 0)."""
        return float(self._state[L.S_QTY])

    @property
    def entry_price(self) -> float:
        """USDT average entry of the open position (0 when flat)."""
        return float(self._state[L.S_ENTRY])

    @property
    def wallet(self) -> float:
        """USDT wallet balance (realised PnL, fees and funding included)."""
        return float(self._state[L.S_WALLET])

    @property
    def liquidation_price(self) -> float:
        """USDT mark price that liquidates the position (inf when flat, 0 for an unliquidatable long)."""
        return float(self._state[L.S_LIQ_PRICE])

    @property
    def blown(self) -> bool:
        """True once equity reached zero: the venue then refuses every order."""
        return self._blown

    def equity(self, mark: float | None = None) -> float:
        """USDT wallet + unrealised PnL at ``mark`` (default: the last bar's mark close)."""
        m = self._last_mark if mark is None else float(mark)
        st = self._state
        if st[L.S_QTY] == 0.0:
            return float(st[L.S_WALLET])
        return float(st[L.S_WALLET] + st[L.S_QTY] * (m - st[L.S_ENTRY]))

    def position_record(self) -> Position:
        """The open position as a :class:`~autoperp.core.types.Position` (for order routing and reports)."""
        st = self._state
        return Position(
            self.symbol,
            float(st[L.S_QTY]),
            float(st[L.S_ENTRY]),
            self.config.margin_mode,
            float(st[L.S_ISO_MARGIN]),
        )

    def summary(self) -> AccountSummary:
        """Money totals so far, as :class:`~autoperp.sim.result.AccountSummary`."""
        return summary_from_state(self._state, self.config.initial_cash)

    # ----------------------------------------------------------------------------------------- orders

    @property
    def orders(self) -> list[VenueOrder]:
        """Every order submitted, in submission order (working, filled, canceled and rejected)."""
        return list(self._orders.values())

    @property
    def working_orders(self) -> list[VenueOrder]:
        """Orders still working (partially filled ones included)."""
        return list(self._working)

    def order(self, order_id: str) -> VenueOrder:
        """The record of ``order_id``; UsageError when the venue never saw it."""
        rec = self._orders.get(order_id)
        if rec is None:
            raise UsageError(f"venue: unknown order id '{order_id}'")
        return rec

    def submit(self, order: Order) -> str:
        """Queue ``order``; returns its id (assigned when ``order.id`` is empty).

        Refused orders come back REJECTED with a reason (see the module docstring); malformed ones raise.
        """
        self._check_order(order)
        self._seq += 1
        oid = order.id or f"venue-{self._seq}"
        if oid in self._orders:
            raise UsageError(f"venue: order id '{oid}' is already used")
        if not order.id:
            order = replace(order, id=oid)
        rec = VenueOrder(order, self._seq, self._bar + 1 + self._delay)
        self._orders[oid] = rec
        reason = self._refusal(rec)
        if reason:
            rec.status = OrderStatus.REJECTED
            rec.reason = reason
        else:
            self._working.append(rec)
        return oid

    def cancel(self, order_id: str) -> bool:
        """Cancel a working order; False when it had already ended (filled, canceled or rejected)."""
        rec = self.order(order_id)
        if rec.status is not OrderStatus.WORKING:
            return False
        self._end(rec, OrderStatus.CANCELED, "canceled by the user")
        self._working.remove(rec)
        return True

    def cancel_all(self, reason: str = "canceled by the user") -> int:
        """Cancel every working order; returns how many."""
        return self._cancel_working(reason)

    def order_for_target(self, target: float, *, ts: int = 0) -> Order | None:
        """The market order that takes the position to ``target`` as the kernel would, or None.

        ``target`` is read as the config's ``target_kind`` (exposure in units of equity, or base units)
        and sized exactly as the kernel sizes a target decided at the last close: clipped to leverage ×
        equity and the bracket cap, rounded down to the lot step. The order is the difference to the
        position plus working market orders; a close is reduce-only. Resizes under the rebalance band or
        min notional are skipped, judged at the last close (the kernel judges them at the fill's open).
        """
        if math.isnan(target) or self._blown:
            return None
        if self._bar < 0:
            raise UsageError("venue: order_for_target needs a processed bar (its close sizes the order)")
        close = self._last_close
        tq = float(_target_qty(float(target), self._last_equity, close, self._params))
        q = self.position
        for rec in self._working:
            if rec.order.type is OrderType.MARKET:
                q += rec.sign * rec.left
        dq = tq - q
        if dq == 0.0:
            return None
        same_side = tq != 0.0 and q != 0.0 and (tq > 0.0) == (q > 0.0)
        small = abs(dq) * close < self.config.min_notional or (
            same_side and abs(dq) * close < self.config.rebalance_band * self._last_equity
        )
        if small and tq != 0.0:
            return None
        side = Side.BUY if dq > 0.0 else Side.SELL
        return Order("", self.symbol, side, abs(dq), OrderType.MARKET, reduce_only=tq == 0.0, ts=ts)

    # ------------------------------------------------------------------------------------------- bars

    def process_bar(self, bar: VenueBar, *, force_close: bool = False) -> None:
        """Step one bar (the next after :attr:`bar`); ``force_close`` closes the position at its close."""
        where = f"venue bar {self._bar + 1} (ts {bar.ts})"
        if self._ts and bar.ts <= self._ts[-1]:
            raise ValidationError(f"{where}: ts not after the previous bar's {self._ts[-1]}")
        for name in ("open", "high", "low", "close"):
            v = getattr(bar, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValidationError(f"{where}: field {name} is {v!r}, must be a positive number")
        if not (bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close)):
            raise ValidationError(f"{where}: open/close outside [low, high]")
        if not (math.isfinite(bar.volume) and bar.volume >= 0.0):
            raise ValidationError(f"{where}: field volume is {bar.volume!r}, must be ≥ 0")
        prev2, prev1 = self._closes
        settle = bar.settle_price
        if not math.isfinite(settle):
            settle = prev1 if math.isfinite(prev1) else bar.open
        sigma = bar.sigma
        if not math.isfinite(sigma):
            sigma = 0.0
            if math.isfinite(prev2):
                r = math.log(prev1 / prev2)
                self._var = (1.0 - self._alpha) * self._var + self._alpha * r * r
                self._weight = (1.0 - self._alpha) * self._weight + self._alpha
                sigma = math.sqrt(self._var / self._weight)
        self._closes = (prev1, bar.close)
        mark = bar.mark if math.isfinite(bar.mark) else bar.close
        liq_low = bar.mark_low if math.isfinite(bar.mark_low) else bar.low
        liq_high = bar.mark_high if math.isfinite(bar.mark_high) else bar.high
        self._step(
            int(bar.ts), bar.open, bar.high, bar.low, bar.close, bar.volume, mark, liq_low, liq_high,
            settle, bar.funding_rate, sigma, bar.spread, force_close,
        )  # fmt: skip

    def run(
        self, market: SimMarket, on_close: BarCallback | None = None, *, force_close: bool = True
    ) -> SimResult:
        """Replay every bar of ``market``; ``on_close(venue, j)`` runs at each bar's close (submit there).

        With ``force_close`` the position is closed at the last close and working orders are canceled.
        Returns the venue's whole history as a :class:`~autoperp.sim.result.SimResult`.
        """
        d = market.data
        cols = [d[k].tolist() for k in range(L.N_MARKET)]
        o, h, lo, c, v = cols[L.M_OPEN], cols[L.M_HIGH], cols[L.M_LOW], cols[L.M_CLOSE], cols[L.M_VOLUME]
        mk, ll, lh = cols[L.M_MARK], cols[L.M_LIQ_LOW], cols[L.M_LIQ_HIGH]
        sp, fr, sg, spr = cols[L.M_SETTLE_PRICE], cols[L.M_FUNDING], cols[L.M_SIGMA], cols[L.M_SPREAD]
        ts = market.ts.tolist()
        last = len(ts) - 1
        for j in range(len(ts)):
            fc = force_close and j == last
            self._step(
                ts[j], o[j], h[j], lo[j], c[j], v[j], mk[j], ll[j], lh[j], sp[j], fr[j], sg[j], spr[j], fc
            )
            if on_close is not None:
                on_close(self, j)
        if force_close:
            self.cancel_all("the run ended")
        return self.result(notes=list(market.notes))

    # ---------------------------------------------------------------------------------------- outputs

    @property
    def trades(self) -> pd.DataFrame:
        """The trade log in :attr:`SimResult.trades`'s format (fills, funding, liquidations, force-close)."""
        return self.result().trades

    def result(self, notes: list[str] | None = None) -> SimResult:
        """Everything processed so far as a :class:`~autoperp.sim.result.SimResult`."""
        n = len(self._ev_i)
        ev_i = np.array(self._ev_i, dtype=np.int64).reshape(n, L.N_EVENT_INT)
        ev_f = np.array(self._ev_f, dtype=np.float64).reshape(n, L.N_EVENT_FLOAT)
        return SimResult(
            ts=np.array(self._ts, dtype=np.int64),
            equity=np.array(self._equity),
            position=np.array(self._position),
            mark=np.array(self._mark),
            brackets=self._brackets,
            events_int=ev_i,
            events_float=ev_f,
            summary=self.summary(),
            config=self.config,
            brackets_source=self.brackets_source,
            notes=notes or [],
        )

    def trade_log(self) -> pd.DataFrame:
        """The trade log with every column, isolated margin included (as the kernel packs it)."""
        n = len(self._ev_i)
        ev_i = np.array(self._ev_i, dtype=np.int64).reshape(n, L.N_EVENT_INT)
        ev_f = np.array(self._ev_f, dtype=np.float64).reshape(n, L.N_EVENT_FLOAT)
        return trade_log_frame(ev_i, ev_f, n)

    # ---------------------------------------------------------------------------------------- helpers

    def _check_order(self, order: Order) -> None:
        where = f"venue: order '{order.id}'" if order.id else "venue: order"
        if order.symbol != self.symbol:
            raise UsageError(f"{where}: symbol {order.symbol} is not this venue's {self.symbol}")
        if not (math.isfinite(order.qty) and order.qty > 0.0):
            raise UsageError(f"{where}: field qty is {order.qty!r}, must be > 0 (base units)")
        if order.type is OrderType.MARKET and (order.price is not None or order.stop_price is not None):
            raise UsageError(f"{where}: a market order takes neither price nor stop_price")
        if order.type is OrderType.LIMIT and not _positive(order.price):
            raise UsageError(f"{where}: field price is {order.price!r}, a limit order needs a price > 0")
        if order.type is OrderType.LIMIT and order.stop_price is not None:
            raise UsageError(f"{where}: stop-limit orders are not supported (give a limit or a stop)")
        if order.type is OrderType.STOP and not _positive(order.stop_price):
            raise UsageError(f"{where}: field stop_price is {order.stop_price!r}, a stop order needs one > 0")
        if order.type is OrderType.STOP and order.price is not None:
            raise UsageError(f"{where}: stop-limit orders are not supported (a stop fills as a market order)")
        if order.post_only and order.type is not OrderType.LIMIT:
            raise UsageError(f"{where}: post-only applies to limit orders only")

    def _refusal(self, rec: VenueOrder) -> str:
        """Why the venue refuses ``rec`` at submission, or ''."""
        o = rec.order
        if self._blown:
            return "account blown: equity reached zero"
        if self._lot > 0.0:
            steps = o.qty / self._lot
            if abs(steps - round(steps)) > 1e-9 * max(steps, 1.0):
                return f"qty {o.qty:g} is not a multiple of the lot step {self._lot:g}"
        last = self._last_close
        if (
            o.type is OrderType.LIMIT
            and o.post_only
            and math.isfinite(last)
            and self._crosses(rec, last, self._last_spread)
        ):
            return "post-only limit would take liquidity at the last close"
        if o.reduce_only:
            return ""
        ref = rec.level if o.type is not OrderType.MARKET else self._last_close
        if not math.isfinite(ref):
            return ""  # a market order before the first bar: nothing to value it at yet
        if o.qty * ref < self.config.min_notional:
            return f"notional {o.qty * ref:.2f} USDT is under the min notional {self.config.min_notional:g}"
        same = sum(r.left for r in self._working if r.sign == rec.sign and not r.order.reduce_only)
        before = abs(self.position + rec.sign * same)
        after = abs(self.position + rec.sign * (same + o.qty))
        cap = min(self.config.leverage * self._last_equity, float(self._params[L.P_MAX_NOTIONAL]))
        if after > before and after * ref > cap * (1.0 + _CAP_TOLERANCE):
            return f"insufficient margin: {after * ref:.2f} USDT of position over the {cap:.2f} USDT cap"
        return ""


def _positive(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0.0
