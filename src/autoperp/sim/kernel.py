"""The bar kernel: steps one path's account over a range of bars (numba, no allocation per bar).

Order of events inside bar j (a bar is [open time, next open time)):

1. funding settling at bar j's open is paid on the position held at that instant, valued at the
   settlement price (mark, or the last trade close without mark data);
2. a position whose liquidation price the open already gapped through is liquidated at that price;
3. the target decided at bar j−1−delay's close is filled at bar j's open ± half-spread ± impact (taker);
4. the position is liquidated at its liquidation price if the bar's adverse mark extreme reaches it
   (low for longs, high for shorts);
5. equity is marked at the mark close; on ``close_bar`` the position is force-closed at the close;
6. the target for bar j (decided at its close, with the equity and close known then) is queued.

Targets are either base units or exposure in units of equity (``P_TARGET_QTY``); NaN means "hold". A
target is clipped to leverage × equity and to the bracket table's cap, rounded down to the lot step;
resizes smaller than the rebalance band (fraction of equity) or the minimum notional are skipped,
while closes and reversals always go through.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from autoperp.sim import layout as L
from autoperp.sim.accounting import (
    apply_fill,
    fill_price,
    liquidate,
    refresh_liquidation_price,
    settle_funding,
)

__all__ = ["MAX_EVENTS_PER_BAR", "init_state", "run_range"]

MAX_EVENTS_PER_BAR = 5  # funding, gap liquidation, fill, intrabar liquidation, force-close


@njit(cache=True)
def init_state(state: np.ndarray, params: np.ndarray) -> None:
    """Reset one path's state row to a flat account holding the initial cash."""
    state[:] = 0.0
    state[L.S_WALLET] = params[L.P_INITIAL_CASH]
    state[L.S_LIQ_PRICE] = math.inf
    state[L.S_PEAK] = params[L.P_INITIAL_CASH]
    state[L.S_LAST_EQUITY] = params[L.P_INITIAL_CASH]


@njit(cache=True, inline="always")
def _log(ev_i: np.ndarray, ev_f: np.ndarray, ev_n: np.ndarray, kind: int, j: int, ts: int,
         qty: float, price: float, fee: float, pnl: float, funding: float, rate: float,
         state: np.ndarray) -> None:  # fmt: skip
    n = ev_n[0]
    if n < ev_i.shape[0]:
        ev_i[n, L.E_KIND] = kind
        ev_i[n, L.E_BAR] = j
        ev_i[n, L.E_TS] = ts
        ev_f[n, L.E_QTY] = qty
        ev_f[n, L.E_PRICE] = price
        ev_f[n, L.E_FEE] = fee
        ev_f[n, L.E_PNL] = pnl
        ev_f[n, L.E_FUNDING] = funding
        ev_f[n, L.E_RATE] = rate
        ev_f[n, L.E_POSITION] = state[L.S_QTY]
        ev_f[n, L.E_WALLET] = state[L.S_WALLET]
        ev_f[n, L.E_ISO_MARGIN] = state[L.S_ISO_MARGIN]
    ev_n[0] = n + 1


@njit(cache=True, inline="always")
def _target_qty(t: float, equity: float, close: float, params: np.ndarray) -> float:
    """Base units a target asks for, clipped to leverage and bracket caps, rounded down to the lot."""
    if params[L.P_TARGET_QTY] != 0.0:
        tq = t
    else:
        tq = t * equity / close
    cap_notional = min(params[L.P_LEVERAGE] * equity, params[L.P_MAX_NOTIONAL])
    if abs(tq) * close > cap_notional:
        tq = math.copysign(cap_notional / close, tq)
    lot = params[L.P_LOT_STEP]
    if lot > 0.0:
        # the 1e-9 keeps an exact multiple (e.g. 3 lots computed as 2.9999999) from losing a lot
        steps = math.floor(abs(tq) / lot + 1e-9)
        tq = math.copysign(steps * lot, tq) if steps > 0 else 0.0
    return tq


@njit(cache=True)
def run_range(
    state: np.ndarray,
    pending: np.ndarray,
    market: np.ndarray,
    ts: np.ndarray,
    targets: np.ndarray,
    params: np.ndarray,
    brackets: np.ndarray,
    j0: int,
    j1: int,
    close_bar: int,
    equity_out: np.ndarray,
    position_out: np.ndarray,
    ev_i: np.ndarray,
    ev_f: np.ndarray,
    ev_n: np.ndarray,
) -> int:
    """Step bars ``j0 ≤ j < j1`` of one path, updating ``state`` in place; returns the next bar to step.

    ``pending`` (length delay + 1) carries queued target quantities between calls; ``targets[j]`` is
    read at bar j's close. Per-bar equity and position are written when their arrays have length > 0
    (indexed by j; the margin ratio is derived from them and the log, see ``SimResult.margin_ratio``);
    trade-log rows go to ``ev_i``/``ev_f``; when fewer than
    :data:`MAX_EVENTS_PER_BAR` rows are left the call stops after the bar and returns where it stopped,
    so the caller grows the log and continues (an empty log means "no log": the run never stops). ``close_bar`` is the bar whose close force-closes the position
    (−1: none).
    """
    delay = int(params[L.P_DELAY])
    ring = delay + 1
    fee_rate = params[L.P_TAKER_FEE]
    band = params[L.P_REBALANCE_BAND]
    min_notional = params[L.P_MIN_NOTIONAL]
    record = equity_out.shape[0] > 0
    log_cap = ev_i.shape[0]
    stop = j1
    # The account lives in ``state`` and only the accounting primitives write it; the loop keeps read
    # copies (reloaded after every event) and its own statistics in locals, because arrays may alias
    # and would otherwise be reloaded from memory on every bar.
    wallet = state[L.S_WALLET]
    q = state[L.S_QTY]
    entry = state[L.S_ENTRY]
    lp = state[L.S_LIQ_PRICE]
    peak = state[L.S_PEAK]
    max_dd = state[L.S_MAX_DD]
    last = state[L.S_LAST_EQUITY]
    sum_r = state[L.S_SUM_R]
    sum_r2 = state[L.S_SUM_R2]
    blown = state[L.S_BLOWN] != 0.0
    dd_floor = peak * (1.0 - max_dd)
    # the slot bar j reads (decision j-1-delay) is the slot it then writes (decision j): one index,
    # advanced without a modulo per bar
    slot = j0 % ring
    for j in range(j0, j1):
        o = market[L.M_OPEN, j]
        # 1. funding at the settlement instant (bar open), on the position held then
        rate = market[L.M_FUNDING, j]
        if q != 0.0 and not math.isnan(rate):
            price = market[L.M_SETTLE_PRICE, j]
            pay = settle_funding(state, rate, price, params)
            refresh_liquidation_price(state, params, brackets)
            _log(ev_i, ev_f, ev_n, L.EV_FUNDING, j, ts[j], 0.0, price, 0.0, 0.0, pay, rate, state)
            wallet = state[L.S_WALLET]
            lp = state[L.S_LIQ_PRICE]
        # 2. a gap through the liquidation price at the open
        if (q > 0.0 and o <= lp) or (q < 0.0 and o >= lp):
            dq, pnl, fee = liquidate(state, lp, params)
            _log(ev_i, ev_f, ev_n, L.EV_LIQUIDATION, j, ts[j], dq, lp, fee, pnl, 0.0, 0.0, state)
            wallet, q, entry, lp = state[L.S_WALLET], 0.0, 0.0, math.inf
        # 3. the queued target fills at this open
        if j - 1 - delay >= 0:
            tq = pending[slot]
            if not math.isnan(tq) and tq != q and not blown:
                dq = tq - q
                same_side = tq != 0.0 and q != 0.0 and (tq > 0.0) == (q > 0.0)
                small = abs(dq) * o < min_notional or (same_side and abs(dq) * o < band * last)
                if not (small and tq != 0.0):
                    side = 1.0 if dq > 0.0 else -1.0
                    px = fill_price(o, side, dq, market[L.M_VOLUME, j], market[L.M_SIGMA, j],
                                    market[L.M_SPREAD, j], params)  # fmt: skip
                    pnl, fee = apply_fill(state, dq, px, fee_rate, params)
                    refresh_liquidation_price(state, params, brackets)
                    _log(ev_i, ev_f, ev_n, L.EV_FILL, j, ts[j], dq, px, fee, pnl, 0.0, 0.0, state)
                    wallet, q, entry, lp = (
                        state[L.S_WALLET],
                        state[L.S_QTY],
                        state[L.S_ENTRY],
                        state[L.S_LIQ_PRICE],
                    )
        # 4. liquidation at the bar's adverse mark extreme
        if (q > 0.0 and market[L.M_LIQ_LOW, j] <= lp) or (q < 0.0 and market[L.M_LIQ_HIGH, j] >= lp):
            dq, pnl, fee = liquidate(state, lp, params)
            _log(ev_i, ev_f, ev_n, L.EV_LIQUIDATION, j, ts[j], dq, lp, fee, pnl, 0.0, 0.0, state)
            wallet, q, entry, lp = state[L.S_WALLET], 0.0, 0.0, math.inf
        # 5. mark to market; force-close on the last bar
        close = market[L.M_CLOSE, j]
        if j == close_bar and q != 0.0:
            side = -1.0 if q > 0.0 else 1.0
            px = close * (1.0 + side * (params[L.P_HALF_SPREAD] + market[L.M_SPREAD, j]))
            pnl, fee = apply_fill(state, -q, px, fee_rate, params)
            refresh_liquidation_price(state, params, brackets)
            _log(ev_i, ev_f, ev_n, L.EV_FORCE_CLOSE, j, ts[j], -q, px, fee, pnl, 0.0, 0.0, state)
            wallet, q, entry, lp = state[L.S_WALLET], 0.0, 0.0, math.inf
        mark = market[L.M_MARK, j]
        equity = wallet + q * (mark - entry)
        if equity > peak:
            peak = equity
            dd_floor = peak * (1.0 - max_dd)
        elif equity < dd_floor:
            # a new maximum drawdown; comparing with the cached floor avoids a division on every bar
            max_dd = 1.0 - equity / peak
            dd_floor = equity
        if equity <= 0.0:
            blown = True
        if record:
            equity_out[j] = equity
            position_out[j] = q
        elif last > 0.0:
            # the per-bar return moments feed batch summaries; recorded runs get them from the curve
            r = equity / last - 1.0
            sum_r += r
            sum_r2 += r * r
        last = equity
        # 6. queue this bar's decision
        t = targets[j]
        if math.isnan(t) or blown:
            pending[slot] = math.nan
        else:
            pending[slot] = _target_qty(t, equity, close, params)
        slot += 1
        if slot == ring:
            slot = 0
        if log_cap > 0 and ev_n[0] + MAX_EVENTS_PER_BAR > log_cap:
            stop = j + 1
            break
    state[L.S_PEAK] = peak
    state[L.S_MAX_DD] = max_dd
    state[L.S_LAST_EQUITY] = last
    state[L.S_SUM_R] = sum_r
    state[L.S_SUM_R2] = sum_r2
    state[L.S_BLOWN] = 1.0 if blown else 0.0
    if stop > j0:
        state[L.S_N_BARS] += stop - j0
    return stop
