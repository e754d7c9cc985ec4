"""The RL reward (DESIGN.md §5), computed from the kernel's mark-to-market equity only (numba helpers).

r_t = Δ log(equity) − λ_dd · max(0, dd_t − dd_{t−1}) + κ · D_t

* equity: the account's equity at the decision bar's close (wallet + unrealised PnL at mark), after fees,
  slippage, funding and liquidations, as the sim kernel books them; floored at ``EQUITY_FLOOR`` × the
  initial cash before the log, so a blown account yields a large but finite loss (log(1e-9) ≈ −20.7)
  rather than −inf, and the summed Δlog terms telescope to log(final / initial) whenever the final equity
  is above the floor.
* dd_t = 1 − equity_t / peak_t, the drawdown from the episode's own peak of (floored) step-end equity.
* D_t: the differential Sharpe ratio of Moody & Saffell (2001) on R_t = Δ log equity, with EMAs
  A_t = A_{t−1} + η (R_t − A_{t−1}), B_t = B_{t−1} + η (R_t² − B_{t−1}):
  D_t = (B_{t−1} ΔA_t − ½ A_{t−1} ΔB_t) / (B_{t−1} − A_{t−1}²)^{3/2}, 0 while the variance is below
  ``DSR_MIN_VAR`` (the first steps of an episode), clipped to ±``DSR_CLIP`` because the ratio explodes
  when the EMA variance is tiny.

No term can be raised without earning money: there is no entry bonus and no self-reported PnL. Sharpe,
Calmar and consistency are reported per episode (:mod:`autoperp.learn.episode_stats`), never rewarded.
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["DSR_CLIP", "DSR_MIN_VAR", "EQUITY_FLOOR", "differential_sharpe", "floored_log_equity"]

EQUITY_FLOOR = 1e-9  # fraction of the initial cash
DSR_MIN_VAR = 1e-12
DSR_CLIP = 10.0


@njit(cache=True, inline="always")
def floored_log_equity(equity: float, initial_cash: float) -> float:
    """log of ``equity`` (USDT) floored at EQUITY_FLOOR × ``initial_cash``."""
    floor = EQUITY_FLOOR * initial_cash
    return math.log(equity if equity > floor else floor)


@njit(cache=True, inline="always")
def differential_sharpe(r: float, a: float, b: float) -> float:
    """Moody & Saffell's D_t for return ``r`` given the EMAs ``a`` (mean) and ``b`` (second moment) of t−1."""
    var = b - a * a
    if var < DSR_MIN_VAR:
        return 0.0
    d = (b * (r - a) - 0.5 * a * (r * r - b)) / (var * math.sqrt(var))
    if d > DSR_CLIP:
        return DSR_CLIP
    if d < -DSR_CLIP:
        return -DSR_CLIP
    return d
