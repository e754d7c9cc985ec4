"""Simulate one path: target positions per bar in, equity, position, margin ratio and trade log out."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from autoperp.core.errors import ValidationError
from autoperp.core.types import MarginBracket
from autoperp.sim import layout as L
from autoperp.sim.brackets import bracket_table, pack_brackets
from autoperp.sim.config import SimConfig, pack_params
from autoperp.sim.kernel import init_state, run_range
from autoperp.sim.market import SimMarket
from autoperp.sim.result import SimResult, summary_from_state

__all__ = ["check_targets", "simulate"]


def check_targets(targets: ArrayLike, n: int) -> np.ndarray:
    """Targets as a contiguous float64 array of length ``n``; NaN (hold) allowed, ±inf refused."""
    t = np.ascontiguousarray(targets, dtype=np.float64)
    if t.shape != (n,):
        raise ValidationError(f"targets: expected {n} values (one per bar), got shape {t.shape}")
    bad = np.flatnonzero(np.isinf(t))
    if bad.size:
        raise ValidationError(f"targets: bar {bad[0]}: target is {t[bad[0]]} (use NaN to hold)")
    return t


def _initial_log_rows(n: int, settlements: int) -> int:
    # room for every settlement plus a fill every ~32 bars; busier strategies grow the log as they go
    return settlements + n // 32 + 64


def simulate(
    market: SimMarket,
    targets: ArrayLike,
    config: SimConfig | None = None,
    brackets: tuple[MarginBracket, ...] | None = None,
    *,
    force_close: bool = True,
) -> SimResult:
    """Run the accounting kernel over every bar of ``market``.

    ``targets[j]`` is the position decided at bar j's close (exposure in units of equity, or base units
    with ``target_kind="qty"``; NaN = hold). ``brackets`` defaults to the table shipped for the symbol.
    With ``force_close`` the position is closed at the last bar's close.
    """
    config = config or SimConfig()
    n = len(market)
    t = check_targets(targets, n)
    table = brackets if brackets is not None else bracket_table(market.symbol)
    source = getattr(table, "source", "given")
    params = pack_params(config, table)
    packed = pack_brackets(table)
    state = np.empty(L.N_STATE)
    init_state(state, params)
    pending = np.full(config.delay_bars + 1, np.nan)
    equity = np.empty(n)
    position = np.empty(n)
    ev_i = np.empty((_initial_log_rows(n, market.n_settlements), L.N_EVENT_INT), dtype=np.int64)
    ev_f = np.empty((ev_i.shape[0], L.N_EVENT_FLOAT), dtype=np.float64)
    ev_n = np.zeros(1, dtype=np.int64)
    close_bar = n - 1 if force_close else -1
    j = 0
    while j < n:
        j = run_range(state, pending, market.data, market.ts, t, params, packed, j, n, close_bar,
                      equity, position, ev_i, ev_f, ev_n)  # fmt: skip
        if j < n:  # the log is nearly full: grow it and carry on from where the kernel stopped
            ev_i = np.concatenate((ev_i[: ev_n[0]], np.empty_like(ev_i)))
            ev_f = np.concatenate((ev_f[: ev_n[0]], np.empty_like(ev_f)))
    used = int(ev_n[0])
    notes = list(market.notes)
    if getattr(table, "is_default", False):
        notes.append(f"margin brackets: {source}")
    return SimResult(
        ts=market.ts,
        equity=equity,
        position=position,
        mark=market.data[L.M_MARK],
        brackets=packed,
        events_int=ev_i[:used].copy() if used < ev_i.shape[0] // 2 else ev_i[:used],
        events_float=ev_f[:used].copy() if used < ev_f.shape[0] // 2 else ev_f[:used],
        summary=summary_from_state(state, config.initial_cash),
        config=config,
        brackets_source=source,
        notes=notes,
    )
