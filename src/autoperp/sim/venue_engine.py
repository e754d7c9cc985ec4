"""The venue's bar engine: the account state and the matching of one bar, in the order of events
documented in :mod:`autoperp.sim.venue` (which holds the public API and the matching rules).

Money moves only through :mod:`autoperp.sim.accounting`, on a kernel state row, exactly as in
:func:`~autoperp.sim.kernel.run_range`.
"""

from __future__ import annotations

import math

import numpy as np

from autoperp.core.symbols import Symbol
from autoperp.core.types import Fill, MarginBracket, OrderType, Side
from autoperp.sim import layout as L
from autoperp.sim.accounting import (
    apply_fill,
    fill_price,
    liquidate,
    refresh_liquidation_price,
    settle_funding,
)
from autoperp.sim.brackets import bracket_table, pack_brackets
from autoperp.sim.config import SimConfig, pack_params
from autoperp.sim.kernel import init_state
from autoperp.sim.venue_orders import OrderStatus, VenueConfig, VenueOrder

__all__ = ["VenueEngine"]

_TO_LOW, _TO_HIGH, _TO_CLOSE = 0, 1, 2  # the leg of the bar's path that ends at the low, high or close


class VenueEngine:
    """Account state, working orders and the per-bar matching of :class:`~autoperp.sim.venue.SimVenue`."""

    def __init__(
        self,
        brackets: tuple[MarginBracket, ...] | None = None,
        config: SimConfig | None = None,
        symbol: Symbol | str = "SYN/USDT:USDT",
        venue: VenueConfig | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.venue_config = venue or VenueConfig()
        self.symbol = symbol if isinstance(symbol, Symbol) else Symbol.parse(symbol)
        table = brackets if brackets is not None else bracket_table(self.symbol)
        self.brackets_source: str = getattr(table, "source", "given")
        self._params = pack_params(self.config, table)
        self._brackets = pack_brackets(table)
        self._state = np.empty(L.N_STATE)
        init_state(self._state, self._params)
        p = self._params
        self._taker = float(p[L.P_TAKER_FEE])
        self._maker = float(p[L.P_MAKER_FEE])
        self._half_spread = float(p[L.P_HALF_SPREAD])
        self._lot = float(p[L.P_LOT_STEP])
        self._delay = int(p[L.P_DELAY])
        part = self.venue_config.participation
        self._participation = math.inf if part is None else float(part)
        cash = self.config.initial_cash
        self._bar = -1  # last processed bar
        self._last_close = math.nan
        self._last_spread = 0.0
        self._last_mark = math.nan
        self._peak = cash
        self._max_dd = 0.0
        self._dd_floor = cash
        self._last_equity = cash
        self._blown = False
        self._seq = 0
        self._orders: dict[str, VenueOrder] = {}
        self._working: list[VenueOrder] = []
        self.fills: list[Fill] = []
        self._ev_i: list[tuple[int, int, int]] = []
        self._ev_f: list[tuple[float, ...]] = []
        self._ts: list[int] = []
        self._equity: list[float] = []
        self._position: list[float] = []
        self._mark: list[float] = []
        # the impact model's σ for bars that bring none: causal_sigma's EWMA, updated bar by bar
        self._alpha = 1.0 - 0.5 ** (1.0 / self.venue_config.sigma_halflife)
        self._var = 0.0
        self._weight = 0.0
        self._closes: tuple[float, float] = (math.nan, math.nan)  # closes of bars j−2, j−1

    def _cancel_working(self, reason: str) -> int:
        n = len(self._working)
        for rec in self._working:
            self._end(rec, OrderStatus.CANCELED, reason)
        self._working.clear()
        return n

    def _crosses(self, rec: VenueOrder, ref: float, spread: float) -> bool:
        """Whether a limit at ``rec.level`` takes liquidity when the market trades at ``ref``."""
        hs = self._half_spread + spread
        if rec.sign > 0.0:
            return rec.level >= ref * (1.0 + hs)
        return rec.level <= ref * (1.0 - hs)

    def _end(self, rec: VenueOrder, status: OrderStatus, reason: str) -> None:
        rec.status = status
        rec.reason = reason

    def _log(self, kind: int, j: int, ts: int, qty: float, price: float, fee: float, pnl: float,
             funding: float, rate: float) -> None:  # fmt: skip
        st = self._state
        self._ev_i.append((kind, j, ts))
        after = (float(st[L.S_QTY]), float(st[L.S_WALLET]), float(st[L.S_ISO_MARGIN]))
        self._ev_f.append((qty, price, fee, pnl, funding, rate, *after))

    def _chunk(self, rec: VenueOrder, volume: float) -> float:
        """Base units ``rec`` may fill this bar: participation cap, lot step and reduce-only cut."""
        qty = rec.left
        cap = self._participation * volume
        if qty > cap:
            qty = math.floor(cap / self._lot + 1e-9) * self._lot if self._lot > 0.0 else cap
        if rec.order.reduce_only:
            q = float(self._state[L.S_QTY])
            if q == 0.0 or (q > 0.0) == (rec.sign > 0.0):
                self._end(rec, OrderStatus.CANCELED, "reduce-only: no position left to reduce")
                return 0.0
            qty = min(qty, abs(q))
        return qty

    def _fill(self, rec: VenueOrder, j: int, ts: int, qty: float, price: float, fee_rate: float) -> None:
        st = self._state
        dq = rec.sign * qty
        pnl, fee = apply_fill(st, dq, price, fee_rate, self._params)
        refresh_liquidation_price(st, self._params, self._brackets)
        self._log(L.EV_FILL, j, ts, dq, price, fee, pnl, 0.0, 0.0)
        rec.left = 0.0 if qty == rec.left else rec.left - qty
        rec.filled += qty
        rec.notional += qty * price
        rec.fees += fee
        rec.fill_bars.append(j)
        self.fills.append(Fill(rec.id, self.symbol, rec.order.side, qty, price, float(fee), ts))
        if rec.left <= 0.0:
            self._end(rec, OrderStatus.FILLED, "")
        if st[L.S_QTY] == 0.0:
            self._position_closed()

    def _position_closed(self) -> None:
        """A flat position cancels working reduce-only orders, as Binance does (no dangling TP/SL)."""
        for rec in self._working:
            if rec.order.reduce_only and rec.status is OrderStatus.WORKING:
                self._end(rec, OrderStatus.CANCELED, "reduce-only: the position was closed")

    def _take(
        self, rec: VenueOrder, j: int, ts: int, base: float, volume: float, sigma: float, spread: float
    ) -> None:
        """Fill what ``rec`` may this bar as a taker, off ``base`` (USDT) ± half-spread ± impact."""
        rec.last_bar = j
        qty = self._chunk(rec, volume)
        if qty <= 0.0:
            return
        px = fill_price(base, rec.sign, qty, volume, sigma, spread, self._params)
        if rec.order.type is OrderType.LIMIT:
            px = min(px, rec.level) if rec.sign > 0.0 else max(px, rec.level)
        self._fill(rec, j, ts, qty, px, self._taker)

    def _make(self, rec: VenueOrder, j: int, ts: int, volume: float) -> None:
        """Fill what a resting limit may this bar at its price, as a maker."""
        rec.last_bar = j
        qty = self._chunk(rec, volume)
        if qty > 0.0:
            self._fill(rec, j, ts, qty, rec.level, self._maker)

    def _liquidate(self, j: int, ts: int) -> None:
        st = self._state
        lp = float(st[L.S_LIQ_PRICE])
        dq, pnl, fee = liquidate(st, lp, self._params)
        self._log(L.EV_LIQUIDATION, j, ts, dq, lp, fee, pnl, 0.0, 0.0)
        side = Side.BUY if dq > 0.0 else Side.SELL
        self.fills.append(
            Fill("liquidation", self.symbol, side, abs(dq), lp, float(fee), ts, liquidation=True)
        )
        # the exchange cancels every open order before it takes the position over (Binance does)
        self._cancel_working("canceled by the liquidation")

    # ------------------------------------------------------------------------------------- one bar

    def _step(self, ts: int, o: float, h: float, lo: float, c: float, v: float, mark: float, liq_low: float,
              liq_high: float, settle: float, rate: float, sigma: float, spread: float, force_close: bool) -> None:  # fmt: skip
        j = self._bar + 1
        st = self._state
        p = self._params
        # 1. funding at the settlement instant (the open), on the position held then
        if st[L.S_QTY] != 0.0 and not math.isnan(rate):
            pay = settle_funding(st, rate, settle, p)
            refresh_liquidation_price(st, p, self._brackets)
            self._log(L.EV_FUNDING, j, ts, 0.0, settle, 0.0, 0.0, pay, rate)
        # 2. a gap through the liquidation price at the open
        q = st[L.S_QTY]
        lp = st[L.S_LIQ_PRICE]
        if (q > 0.0 and o <= lp) or (q < 0.0 and o >= lp):
            self._liquidate(j, ts)
        # 3. the open, then 4. the path through the bar
        resting = False
        if self._working:
            self._at_open(j, ts, o, v, sigma, spread)
            resting = any(r.eligible_from <= j and r.last_bar != j for r in self._working)
        if resting:
            q = st[L.S_QTY]
            if q > 0.0 or (q == 0.0 and o - lo < h - o):
                legs = ((o, lo, _TO_LOW, liq_low), (lo, h, _TO_HIGH, liq_high), (h, c, _TO_CLOSE, mark))
            else:
                legs = ((o, h, _TO_HIGH, liq_high), (h, lo, _TO_LOW, liq_low), (lo, c, _TO_CLOSE, mark))
            for a, b, kind, mark_end in legs:
                self._walk(j, ts, a, b, kind, mark_end, v, sigma, spread)
        else:
            q = st[L.S_QTY]
            lp = st[L.S_LIQ_PRICE]
            if (q > 0.0 and liq_low <= lp) or (q < 0.0 and liq_high >= lp):
                self._liquidate(j, ts)
        # 5. force-close at the close, then mark to market
        q = st[L.S_QTY]
        if force_close and q != 0.0:
            side = -1.0 if q > 0.0 else 1.0
            px = c * (1.0 + side * (self._half_spread + spread))
            pnl, fee = apply_fill(st, -q, px, self._taker, p)
            refresh_liquidation_price(st, p, self._brackets)
            self._log(L.EV_FORCE_CLOSE, j, ts, -q, px, fee, pnl, 0.0, 0.0)
            fside = Side.BUY if side > 0.0 else Side.SELL
            self.fills.append(Fill("force_close", self.symbol, fside, abs(q), px, float(fee), ts))
            self._position_closed()
        if self._working:
            self._working = [r for r in self._working if r.status is OrderStatus.WORKING]
        self._mark_to_market(j, ts, c, mark, spread)

    def _mark_to_market(self, j: int, ts: int, close: float, mark: float, spread: float) -> None:
        st = self._state
        equity = float(st[L.S_WALLET] + st[L.S_QTY] * (mark - st[L.S_ENTRY]))
        # the same running peak / drawdown arithmetic as the kernel, so summaries agree to the bit
        if equity > self._peak:
            self._peak = equity
            self._dd_floor = equity * (1.0 - self._max_dd)
        elif equity < self._dd_floor:
            self._max_dd = 1.0 - equity / self._peak
            self._dd_floor = equity
        if equity <= 0.0 and not self._blown:
            self._blown = True
            self._cancel_working("account blown: equity reached zero")
        st[L.S_PEAK] = self._peak
        st[L.S_MAX_DD] = self._max_dd
        st[L.S_LAST_EQUITY] = equity
        st[L.S_BLOWN] = 1.0 if self._blown else 0.0
        st[L.S_N_BARS] += 1.0
        self._ts.append(ts)
        self._equity.append(equity)
        self._position.append(float(st[L.S_QTY]))
        self._mark.append(mark)
        self._last_equity = equity
        self._last_close = close
        self._last_mark = mark
        self._last_spread = spread
        self._bar = j

    def _at_open(self, j: int, ts: int, o: float, v: float, sigma: float, spread: float) -> None:
        """Step 3: everything that acts at the open, in submission order."""
        for rec in self._working:
            if rec.eligible_from > j or rec.status is not OrderStatus.WORKING:
                continue
            buy = rec.sign > 0.0
            if rec.is_market_like:
                self._take(rec, j, ts, o, v, sigma, spread)
            elif rec.order.type is OrderType.STOP:
                s = rec.level
                if (buy and o >= s) or (not buy and o <= s):
                    rec.triggered = True
                    self._take(rec, j, ts, o, v, sigma, spread)
            elif not rec.arrived:
                rec.arrived = True
                if self._crosses(rec, o, spread):
                    if rec.order.post_only:
                        rec.last_bar = j
                        self._end(
                            rec, OrderStatus.REJECTED, "post-only limit would take liquidity at the open"
                        )
                    else:
                        self._take(rec, j, ts, o, v, sigma, spread)
                # otherwise it rests from now on; the open print predates it, the bar's path does not
            elif (buy and o < rec.level) or (not buy and o > rec.level):
                self._make(rec, j, ts, v)  # the price moved through a resting limit between bars
        self._working = [r for r in self._working if r.status is OrderStatus.WORKING]

    def _walk(self, j: int, ts: int, a: float, b: float, kind: int, mark_end: float, v: float, sigma: float,
              spread: float) -> None:  # fmt: skip
        """One leg of the bar's path from ``a`` to ``b`` (USDT): resting orders and the liquidation
        price act in the order the price reaches them; ``at`` is the distance travelled from ``a``."""
        down = b < a if kind == _TO_CLOSE else kind == _TO_LOW
        span = abs(a - b)
        pos = 0.0
        st = self._state
        while True:
            best: VenueOrder | None = None
            best_at = math.inf
            for rec in self._working:
                if rec.status is not OrderStatus.WORKING or rec.eligible_from > j or rec.last_bar == j:
                    continue
                if rec.is_market_like:
                    continue
                lvl = rec.level
                buy = rec.sign > 0.0
                if rec.order.type is OrderType.LIMIT:
                    # buy limits fill on the way down, strictly through the level; sells on the way up
                    if buy != down:
                        continue
                    hit = b < lvl if down else b > lvl
                else:
                    # stops trigger when the price reaches them: sells on the way down, buys on the way up
                    if buy == down:
                        continue
                    hit = b <= lvl if down else b >= lvl
                if hit:
                    at = max(a - lvl if down else lvl - a, pos)
                    if at < best_at:
                        best, best_at = rec, at
            q = st[L.S_QTY]
            lp = float(st[L.S_LIQ_PRICE])
            long_hit = q > 0.0 and kind != _TO_HIGH and mark_end <= lp
            short_hit = q < 0.0 and kind != _TO_LOW and mark_end >= lp
            liq_at = min(max(a - lp if down else lp - a, pos), span) if long_hit or short_hit else math.inf
            if liq_at <= best_at and liq_at < math.inf:
                # a tie goes to the liquidation: the exchange's engine acts before resting orders do
                self._liquidate(j, ts)
                pos = liq_at
                continue
            if best is None:
                return
            pos = best_at
            if best.order.type is OrderType.LIMIT:
                self._make(best, j, ts, v)
            else:
                best.triggered = True
                lvl = best.level
                reached = a - pos if down else a + pos
                base = lvl if (a - lvl if down else lvl - a) >= pos else reached
                self._take(best, j, ts, base, v, sigma, spread)
