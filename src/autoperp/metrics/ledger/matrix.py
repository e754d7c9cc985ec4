"""Trial return series aligned on common timestamps: the T×N matrix PBO (CSCV) and DSR read."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Literal, NamedTuple

import numpy as np

from autoperp.core.errors import UsageError

Join = Literal["inner", "outer"]


class ReturnsMatrix(NamedTuple):
    """``ts``: T timestamps (int64 ms UTC, increasing). ``returns``: T×N float64 per-bar simple returns,
    column j belonging to ``trial_ids[j]``. Unpacks as ``ts, matrix, ids = ...``."""

    ts: np.ndarray
    returns: np.ndarray
    trial_ids: tuple[str, ...]


def align_returns(
    series: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    join: Join = "inner",
    fill_value: float = 0.0,
) -> ReturnsMatrix:
    """Stack ``(trial_id, ts, ret)`` series into one matrix.

    ``join="inner"`` keeps the timestamps every trial has (what CSCV needs: every column over the same
    periods); ``"outer"`` keeps all of them and puts ``fill_value`` where a trial has no bar (0.0: no
    position, no return). Series of different bar lengths are refused, since their returns measure
    different periods.
    """
    if not series:
        raise UsageError("no trials to stack into a returns matrix")
    if join not in ("inner", "outer"):
        raise UsageError(f"join must be 'inner' or 'outer', got {join!r}")
    bars = {int(np.median(np.diff(ts))) for _, ts, _ in series if ts.shape[0] > 1}
    if len(bars) > 1:
        raise UsageError(
            f"trials have different bar lengths ({', '.join(f'{b} ms' for b in sorted(bars))}): "
            "their returns cannot share rows"
        )
    stamps = [ts for _, ts, _ in series]
    common = reduce(np.intersect1d, stamps) if join == "inner" else reduce(np.union1d, stamps)
    if common.shape[0] == 0:
        raise UsageError("the trials share no timestamp: use join='outer' or trials over the same span")
    out = np.full((common.shape[0], len(series)), fill_value, dtype=np.float64)
    for j, (_, ts, ret) in enumerate(series):
        pos = np.searchsorted(common, ts)
        inside = pos < common.shape[0]
        inside[inside] = common[pos[inside]] == ts[inside]
        out[pos[inside], j] = ret[inside]
    return ReturnsMatrix(common.astype(np.int64, copy=False), out, tuple(t for t, _, _ in series))
