"""Simulate every candidate on every out-of-sample segment, after costs, in one batched kernel call per pair.

Each segment is its own account: it starts flat with the initial cash (split evenly across pairs) and is
force-closed at the segment's last close, so every fold pays its own way in and out. Targets are computed
once on the whole history (a causal strategy only ever looks back, and the bars before a segment were
known when it started) and sliced per segment. NaN means "hold", which depends on what was held before;
at a segment's first bar the position the strategy holds there (its last non-NaN target) is asked for
explicitly, so a buy-and-hold or a crossover entered before the segment is in the market in it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoperp.core.errors import UsageError
from autoperp.sim.batch import simulate_batch
from autoperp.sim.brackets import bracket_table
from autoperp.sim.config import SimConfig
from autoperp.sim.market import SimMarket

__all__ = ["SegmentRuns", "held_target", "simulate_segments"]

#: Summary columns of :func:`simulate_batch` summed over the pairs of a portfolio (USDT or counts).
SUMMED = ("fees", "funding_net", "turnover", "fills", "liquidations")


@dataclass
class SegmentRuns:
    """``returns[c][s]``: per-bar simple returns (fraction) of candidate c's portfolio on segment s; the
    first is relative to the initial cash. ``summary``: one row per (candidate, segment) with the money
    totals of :data:`SUMMED` summed over pairs plus ``total_return`` and ``blown`` (any pair ruined)."""

    ranges: list[tuple[int, int]]
    returns: list[list[np.ndarray]]
    summary: pd.DataFrame


def held_target(targets: np.ndarray, start: int) -> float:
    """The target in force at bar ``start``: the last non-NaN target at or before it (NaN if none)."""
    seen = np.flatnonzero(~np.isnan(targets[: start + 1]))
    return float(targets[seen[-1]]) if seen.size else float("nan")


def simulate_segments(
    markets: Sequence[SimMarket],
    targets: Sequence[Sequence[np.ndarray]],
    ranges: Sequence[tuple[int, int]],
    config: SimConfig,
) -> SegmentRuns:
    """Simulate ``targets[c][p]`` (candidate c, pair p; one value per bar of ``markets[p]``) on each
    ``[start, stop)`` of ``ranges``. All markets must share their bars (see ``align_markets``)."""
    n_pairs = len(markets)
    n_seg = len(ranges)
    n_cand = len(targets)
    if n_pairs == 0 or n_seg == 0 or n_cand == 0:
        raise UsageError("nothing to simulate: need at least one pair, one segment and one candidate")
    width = max(b - a for a, b in ranges)
    pair_config = config.model_copy(update={"initial_cash": config.initial_cash / n_pairs})
    equity = np.zeros((n_cand, n_seg, width))
    sums = np.zeros((n_cand, n_seg, len(SUMMED)))
    blown = np.zeros((n_cand, n_seg), dtype=bool)
    for p, market in enumerate(markets):
        pieces = [market.slice(a, b) for a, b in ranges]
        rows = np.full((n_cand * n_seg, width), np.nan)
        for c in range(n_cand):
            t = np.asarray(targets[c][p], dtype=np.float64)
            for s, (a, b) in enumerate(ranges):
                row = rows[c * n_seg + s]
                row[: b - a] = t[a:b]
                if np.isnan(row[0]):
                    row[0] = held_target(t, a)
        n_paths = n_cand * n_seg
        res = simulate_batch(
            pieces,
            rows,
            [pair_config] * n_paths,
            [bracket_table(market.symbol)],
            series_index=np.tile(np.arange(n_seg), n_cand),
            target_index=np.arange(n_paths),
            record_equity=True,
        )
        assert res.equity is not None
        eq = res.equity.reshape(n_cand, n_seg, -1)
        for s, (a, b) in enumerate(ranges):
            equity[:, s, : b - a] += eq[:, s, : b - a]
        sums += res.summary[list(SUMMED)].to_numpy(np.float64).reshape(n_cand, n_seg, len(SUMMED))
        blown |= res.summary["blown"].to_numpy().reshape(n_cand, n_seg)
    returns: list[list[np.ndarray]] = []
    records = []
    for c in range(n_cand):
        per_seg = []
        for s, (a, b) in enumerate(ranges):
            e = equity[c, s, : b - a]
            prev = np.concatenate(([config.initial_cash], e[:-1]))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(prev > 0, e / prev - 1.0, 0.0)
            per_seg.append(np.maximum(r, -1.0))
            records.append(
                {
                    "candidate": c,
                    "segment": s,
                    **dict(zip(SUMMED, sums[c, s], strict=True)),
                    "total_return": float(e[-1] / config.initial_cash - 1.0),
                    "blown": bool(blown[c, s]),
                }
            )
        returns.append(per_seg)
    summary = pd.DataFrame.from_records(records)
    for col in ("fills", "liquidations"):
        summary[col] = summary[col].astype(np.int64)
    return SegmentRuns(list(ranges), returns, summary)
