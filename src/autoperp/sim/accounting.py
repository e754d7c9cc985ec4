"""Account primitives of the perpetual-futures kernel (numba): margin, fills, funding, liquidation.

Every function here works on one path's ``state`` row (layout in :mod:`autoperp.sim.layout`) and is
shared by the bar kernel (:mod:`autoperp.sim.kernel`) and the event-driven venue
(:mod:`autoperp.sim.venue`), so both book exactly the same money.

Conventions: quantities are signed base units (long > 0), prices and money are USDT, rates are
fractions. Equity = wallet + qty · (mark − entry). Maintenance margin of a notional N on its tier is
N · rate − cum. The liquidation price solves margin balance = maintenance margin, where the margin
balance is the wallet (cross) or the isolated margin (isolated) plus unrealised PnL — Binance's
one-way formula LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from autoperp.sim import layout as L

__all__ = [
    "apply_fill",
    "fill_price",
    "liquidate",
    "liquidation_price",
    "maintenance_margin",
    "margin_ratio",
    "settle_funding",
]


@njit(cache=True, inline="always")
def maintenance_margin(notional: float, brackets: np.ndarray) -> float:
    """USDT maintenance margin of ``notional`` (USDT, ≥ 0) on the tier that holds it."""
    if notional <= 0.0:
        return 0.0
    k = brackets.shape[0]
    for b in range(k):
        if notional <= brackets[b, 1] or b == k - 1:
            return float(notional * brackets[b, 3] - brackets[b, 4])
    return 0.0  # unreachable: the last tier is open-ended


@njit(cache=True)
def liquidation_price(qty: float, entry: float, balance: float, brackets: np.ndarray) -> float:
    """Mark price (USDT) at which ``balance`` + unrealised PnL equals maintenance margin.

    ``balance`` is the wallet (cross) or the isolated margin (isolated), net of what already left it.
    Returns 0.0 for a long that cannot be liquidated and +inf for a flat account.
    """
    if qty == 0.0:
        return math.inf
    aq = abs(qty)
    k = brackets.shape[0]
    for b in range(k):
        rate = brackets[b, 3]
        cum = brackets[b, 4]
        price = (balance - qty * entry + cum) / (aq * rate - qty)
        notional = aq * price
        # The tier whose band contains the solution is the consistent one (maintenance margin is a
        # continuous, piecewise-linear function of notional, so exactly one tier qualifies).
        if notional <= brackets[b, 1] or b == k - 1:
            if price <= 0.0:
                return 0.0 if qty > 0.0 else math.inf
            return float(price)
    return 0.0


@njit(cache=True, inline="always")
def fill_price(
    open_: float, side: float, qty: float, volume: float, sigma: float, spread: float, params: np.ndarray
) -> float:
    """Fill price (USDT) of a market order of ``qty`` base units at a bar whose open is ``open_``.

    open · (1 + side · (half-spread + bar spread + impact)), impact = k · σ · sqrt(|q| / volume), capped.
    """
    cap = params[L.P_IMPACT_CAP]
    if volume > 0.0:
        impact = params[L.P_IMPACT_K] * sigma * math.sqrt(abs(qty) / volume)
        if impact > cap:
            impact = cap
    else:
        impact = cap
    return float(open_ * (1.0 + side * (params[L.P_HALF_SPREAD] + spread + impact)))


@njit(cache=True)
def apply_fill(
    state: np.ndarray, dq: float, price: float, fee_rate: float, params: np.ndarray
) -> tuple[float, float]:
    """Trade ``dq`` (signed base units) at ``price``; returns (realised PnL, fee) in USDT.

    Increases average the entry and add dq·price/leverage of isolated margin (at most the wallet);
    reductions realise PnL and release isolated margin in proportion; a reversal closes the old side
    first. A realised loss never takes the wallet below zero.
    """
    q = state[L.S_QTY]
    e = state[L.S_ENTRY]
    new_q = q + dq
    lev = params[L.P_LEVERAGE]
    pnl = 0.0
    if q == 0.0 or (q > 0.0) == (dq > 0.0):
        state[L.S_ENTRY] = (q * e + dq * price) / new_q
        state[L.S_ISO_MARGIN] += abs(dq) * price / lev
    elif (new_q > 0.0) == (q > 0.0) and new_q != 0.0:
        pnl = -dq * (price - e)
        state[L.S_ISO_MARGIN] *= new_q / q
    else:
        pnl = q * (price - e)
        state[L.S_ISO_MARGIN] = 0.0
        if new_q != 0.0:
            state[L.S_ENTRY] = price
            state[L.S_ISO_MARGIN] = abs(new_q) * price / lev
        else:
            state[L.S_ENTRY] = 0.0
    fee = abs(dq) * price * fee_rate
    short = state[L.S_WALLET] + pnl - fee
    if short < 0.0:
        # a close past the bankruptcy price (impact on a thin bar) costs at most the wallet: the
        # insurance fund takes the rest, as in a liquidation
        pnl -= short
    state[L.S_QTY] = new_q
    state[L.S_WALLET] += pnl - fee
    if state[L.S_ISO_MARGIN] > state[L.S_WALLET]:
        # An order sized at the decision's equity can cost more at the fill (impact, fee, a liquidation
        # in between); an isolated position cannot hold more margin than the wallet has, or its losses,
        # bounded by that margin, could take the wallet below zero.
        state[L.S_ISO_MARGIN] = max(state[L.S_WALLET], 0.0)
    state[L.S_FEES] += fee
    state[L.S_N_FILLS] += 1.0
    state[L.S_TURNOVER] += abs(dq) * price
    return pnl, fee


@njit(cache=True)
def settle_funding(state: np.ndarray, rate: float, price: float, params: np.ndarray) -> float:
    """Pay (positive) or receive funding on the open position: qty · price · rate USDT; returns it."""
    q = state[L.S_QTY]
    pay = q * price * rate
    state[L.S_WALLET] -= pay
    if params[L.P_ISOLATED] != 0.0:
        state[L.S_ISO_MARGIN] -= pay
    state[L.S_FUNDING] += pay
    if pay > 0.0:
        state[L.S_FUNDING_PAID] += pay
    else:
        state[L.S_FUNDING_RECEIVED] -= pay
    return float(pay)


@njit(cache=True, inline="always")
def margin_balance_base(state: np.ndarray, params: np.ndarray) -> float:
    """USDT the position's margin balance starts from: isolated margin, or the whole wallet (cross)."""
    if params[L.P_ISOLATED] != 0.0:
        return float(state[L.S_ISO_MARGIN])
    return float(state[L.S_WALLET])


@njit(cache=True)
def refresh_liquidation_price(state: np.ndarray, params: np.ndarray, brackets: np.ndarray) -> None:
    """Recompute the cached liquidation price after anything that moved qty, entry or balance."""
    state[L.S_LIQ_PRICE] = liquidation_price(
        state[L.S_QTY], state[L.S_ENTRY], margin_balance_base(state, params), brackets
    )


@njit(cache=True)
def liquidate(state: np.ndarray, price: float, params: np.ndarray) -> tuple[float, float, float]:
    """Close the whole position at ``price`` (the liquidation price) with the clearance fee.

    The fee is capped by what is left of the margin balance, so a liquidation never takes the wallet
    below what the exchange would (bankruptcy-bounded). Returns (qty closed, realised PnL, fee).
    """
    q = state[L.S_QTY]
    pnl = q * (price - state[L.S_ENTRY])
    left = margin_balance_base(state, params) + pnl
    fee = abs(q) * price * params[L.P_LIQ_FEE]
    if fee > left:
        fee = max(left, 0.0)
    if params[L.P_ISOLATED] == 0.0 and state[L.S_WALLET] + pnl - fee < 0.0:
        pnl = -state[L.S_WALLET] + fee  # the insurance fund covers what a gap takes beyond the wallet
    elif params[L.P_ISOLATED] != 0.0 and left < 0.0:
        pnl = -state[L.S_ISO_MARGIN]  # isolated loss is bounded by the position's margin
    state[L.S_WALLET] += pnl - fee
    state[L.S_QTY] = 0.0
    state[L.S_ENTRY] = 0.0
    state[L.S_ISO_MARGIN] = 0.0
    state[L.S_LIQ_PRICE] = math.inf
    state[L.S_FEES] += fee
    state[L.S_N_LIQ] += 1.0
    state[L.S_TURNOVER] += abs(q) * price
    return -q, pnl, fee


@njit(cache=True, inline="always")
def margin_ratio(state: np.ndarray, mark: float, params: np.ndarray, brackets: np.ndarray) -> float:
    """Binance's margin ratio: maintenance margin / margin balance (≥ 1 means liquidation); 0 when flat."""
    q = state[L.S_QTY]
    if q == 0.0:
        return 0.0
    bal = margin_balance_base(state, params) + q * (mark - state[L.S_ENTRY])
    mm = maintenance_margin(abs(q) * mark, brackets)
    if bal <= 0.0:
        return math.inf
    return float(mm / bal)
