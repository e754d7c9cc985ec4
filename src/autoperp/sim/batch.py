"""Batched simulation: many paths (series × parameter sets × target sets) in one call, parallel over cores.

Each path p reads market series ``series_index[p]``, target row ``target_index[p]``, its own parameter
row and bracket table, and runs the same :func:`~autoperp.sim.kernel.run_range` as :func:`simulate`. Only
the account summary (and, on request, the equity curve) comes back, so a sweep over thousands of paths
costs no trade-log memory. This is the building block of parameter sweeps and of the RL vector env.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import get_num_threads, njit, prange

from autoperp.core.errors import ValidationError
from autoperp.core.types import MarginBracket
from autoperp.sim import layout as L
from autoperp.sim.brackets import pack_brackets
from autoperp.sim.config import SimConfig, pack_params
from autoperp.sim.kernel import init_state, run_range
from autoperp.sim.market import SimMarket

__all__ = ["BatchResult", "simulate_batch"]

SUMMARY_COLUMNS = (
    "final_equity", "total_return", "fees", "funding_net", "funding_paid", "funding_received", "turnover",
    "fills", "liquidations", "max_drawdown", "mean_return", "std_return", "bars", "blown",
)  # fmt: skip


# Bars per chunk: every path of a block steps through one chunk before the next, so the chunk's market
# rows (about 7 fields × 8 B × CHUNK) stay in L2 instead of being streamed from memory once per path.
CHUNK_BARS = 2048


@njit(cache=True, parallel=True)
def _run_paths(
    data: np.ndarray,  # (S, N_MARKET, n_max)
    ts: np.ndarray,  # (S, n_max)
    n_bars: np.ndarray,  # (S,)
    targets: np.ndarray,  # (T, n_max)
    params: np.ndarray,  # (P, N_PARAMS)
    brackets: np.ndarray,  # (B, K, 5), padded tiers are copies of the last
    series_index: np.ndarray,
    target_index: np.ndarray,
    bracket_index: np.ndarray,
    force_close: bool,
    equity: np.ndarray,  # (P, n_max) or (0, 0)
    n_blocks: int,
) -> np.ndarray:
    n_paths = params.shape[0]
    states = np.empty((n_paths, L.N_STATE))
    max_ring = 1
    for p in range(n_paths):
        init_state(states[p], params[p])
        max_ring = max(max_ring, int(params[p, L.P_DELAY]) + 1)
    pending = np.full((n_paths, max_ring), np.nan)
    record = equity.shape[0] > 0
    positions = np.empty((n_paths, equity.shape[1])) if record else np.empty((0, 0))
    no_log_i = np.empty((0, L.N_EVENT_INT), dtype=np.int64)
    no_log_f = np.empty((0, L.N_EVENT_FLOAT))
    empty = np.empty(0)
    for blk in prange(n_blocks):
        p0 = blk * n_paths // n_blocks
        p1 = (blk + 1) * n_paths // n_blocks
        ev_n = np.zeros(1, dtype=np.int64)
        longest = 0
        for p in range(p0, p1):
            longest = max(longest, n_bars[series_index[p]])
        for j0 in range(0, longest, CHUNK_BARS):
            for p in range(p0, p1):
                s = series_index[p]
                n = n_bars[s]
                if j0 >= n:
                    continue
                ring = int(params[p, L.P_DELAY]) + 1
                run_range(states[p], pending[p, :ring], data[s], ts[s], targets[target_index[p]], params[p],
                          brackets[bracket_index[p]], j0, min(j0 + CHUNK_BARS, n), n - 1 if force_close else -1,
                          equity[p] if record else empty, positions[p] if record else empty,
                          no_log_i, no_log_f, ev_n)  # fmt: skip
    if record:
        # recorded runs leave the return moments to the curve; fill them in for the summary
        for p in prange(n_paths):
            prev = params[p, L.P_INITIAL_CASH]
            s1 = 0.0
            s2 = 0.0
            for j in range(n_bars[series_index[p]]):
                r = equity[p, j] / prev - 1.0 if prev > 0.0 else 0.0
                s1 += r
                s2 += r * r
                prev = equity[p, j]
            states[p, L.S_SUM_R] = s1
            states[p, L.S_SUM_R2] = s2
    return states


@dataclass
class BatchResult:
    """Per-path summaries (one row per path, :data:`SUMMARY_COLUMNS`) and optional equity curves (USDT)."""

    summary: pd.DataFrame
    equity: np.ndarray | None  # (paths, bars) when requested


def _stack_markets(markets: Sequence[SimMarket]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_max = max(len(m) for m in markets)
    data = np.full((len(markets), L.N_MARKET, n_max), np.nan)
    ts = np.zeros((len(markets), n_max), dtype=np.int64)
    n_bars = np.empty(len(markets), dtype=np.int64)
    for i, m in enumerate(markets):
        data[i, :, : len(m)] = m.data
        ts[i, : len(m)] = m.ts
        n_bars[i] = len(m)
    return data, ts, n_bars


def _stack_brackets(tables: Sequence[tuple[MarginBracket, ...]]) -> np.ndarray:
    packed = [pack_brackets(t) for t in tables]
    k = max(p.shape[0] for p in packed)
    out = np.empty((len(packed), k, 5))
    for i, p in enumerate(packed):
        out[i, : p.shape[0]] = p
        out[i, p.shape[0] :] = p[-1]  # repeats of the open-ended last tier change nothing
    return out


def _index(values: Sequence[int] | np.ndarray | None, n_paths: int, limit: int, name: str) -> np.ndarray:
    idx = np.zeros(n_paths, dtype=np.int64) if values is None else np.asarray(values, dtype=np.int64)
    if idx.shape != (n_paths,):
        raise ValidationError(f"{name}: expected {n_paths} entries (one per path), got shape {idx.shape}")
    bad = np.flatnonzero((idx < 0) | (idx >= limit))
    if bad.size:
        raise ValidationError(f"{name}: path {bad[0]}: index {idx[bad[0]]} outside 0..{limit - 1}")
    return idx


def simulate_batch(
    markets: Sequence[SimMarket],
    targets: np.ndarray,
    configs: Sequence[SimConfig],
    brackets: Sequence[tuple[MarginBracket, ...]],
    *,
    series_index: Sequence[int] | np.ndarray | None = None,
    target_index: Sequence[int] | np.ndarray | None = None,
    bracket_index: Sequence[int] | np.ndarray | None = None,
    record_equity: bool = False,
    force_close: bool = True,
) -> BatchResult:
    """Simulate ``len(configs)`` paths in parallel.

    ``targets`` has shape (T, bars) (shorter series ignore the tail); path p uses ``markets[series_index[p]]``,
    ``targets[target_index[p]]``, ``configs[p]`` and ``brackets[bracket_index[p]]`` (indices default to 0).
    """
    if not markets or not configs or not brackets:
        raise ValidationError("simulate_batch needs at least one market, one config and one bracket table")
    n_paths = len(configs)
    data, ts, n_bars = _stack_markets(markets)
    t = np.ascontiguousarray(targets, dtype=np.float64)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[1] < data.shape[2]:
        raise ValidationError(f"targets: expected shape (T, {data.shape[2]}), got {np.shape(targets)}")
    if np.isinf(t).any():
        raise ValidationError("targets: ±inf found (use NaN to hold)")
    b_idx = _index(bracket_index, n_paths, len(brackets), "bracket_index")
    params = np.stack([pack_params(c, brackets[b]) for c, b in zip(configs, b_idx, strict=True)])
    equity = np.empty((n_paths, data.shape[2])) if record_equity else np.empty((0, 0))
    states = _run_paths(
        data, ts, n_bars, t, params, _stack_brackets(brackets),
        _index(series_index, n_paths, len(markets), "series_index"),
        _index(target_index, n_paths, t.shape[0], "target_index"),
        b_idx, force_close, equity,
        # a few blocks per thread balance uneven paths; each block shares its chunks' market data
        min(n_paths, 4 * get_num_threads()),
    )  # fmt: skip
    return BatchResult(_summary_frame(states, params), equity if record_equity else None)


def _summary_frame(states: np.ndarray, params: np.ndarray) -> pd.DataFrame:
    cash = params[:, L.P_INITIAL_CASH]
    bars = np.maximum(states[:, L.S_N_BARS], 1.0)
    mean = states[:, L.S_SUM_R] / bars
    var = np.maximum(states[:, L.S_SUM_R2] / bars - mean**2, 0.0)
    final = states[:, L.S_LAST_EQUITY]
    return pd.DataFrame(
        {
            "final_equity": final,
            "total_return": final / cash - 1.0,
            "fees": states[:, L.S_FEES],
            "funding_net": states[:, L.S_FUNDING],
            "funding_paid": states[:, L.S_FUNDING_PAID],
            "funding_received": states[:, L.S_FUNDING_RECEIVED],
            "turnover": states[:, L.S_TURNOVER],
            "fills": states[:, L.S_N_FILLS].astype(np.int64),
            "liquidations": states[:, L.S_N_LIQ].astype(np.int64),
            "max_drawdown": states[:, L.S_MAX_DD],
            "mean_return": mean,
            "std_return": np.sqrt(var),
            "bars": states[:, L.S_N_BARS].astype(np.int64),
            "blown": states[:, L.S_BLOWN] != 0.0,
        }
    )
