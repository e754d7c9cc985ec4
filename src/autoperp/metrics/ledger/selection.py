"""What DSR needs from the ledger: how many trials competed (N) and how much their Sharpe ratios varied.

Every recorded trial of a family counts, duplicates included: over-counting N raises the bar DSR sets,
under-counting would lower it, so the ledger errs on the safe side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from autoperp.core.errors import UsageError
from autoperp.metrics.ledger.record import TrialRecord


class DSRInputs(NamedTuple):
    """The keyword arguments of :func:`autoperp.metrics.deflated_sharpe_ratio` that describe the search:
    ``deflated_sharpe_ratio(sr, n, **inputs._asdict())``. ``sharpe_variance`` is in per-bar units²."""

    n_trials: int
    sharpe_variance: float


def common_bar_ms(records: Sequence[TrialRecord], bar_ms: int | None) -> int:
    """``bar_ms`` when given, else the one bar length (ms) the records share; :class:`UsageError` if mixed."""
    if bar_ms is not None:
        if bar_ms <= 0:
            raise UsageError(f"bar_ms must be > 0, got {bar_ms}")
        return bar_ms
    lengths = {r.stats.bar_ms for r in records if r.stats.bar_ms > 0}
    if len(lengths) > 1:
        raise UsageError(
            f"the trials have different bar lengths ({', '.join(f'{b} ms' for b in sorted(lengths))}): "
            "pass bar_ms to put their Sharpe ratios on one scale"
        )
    return lengths.pop() if lengths else 0


def sharpe_variance_of(records: Sequence[TrialRecord], bar_ms: int | None = None) -> float:
    """Variance (ddof=1) of the per-bar Sharpe ratios of ``records``, each rescaled to bars of
    ``bar_ms`` (ms; default: their common bar length) by sqrt(bar_ms / own bar length).

    Trials whose Sharpe is undefined (fewer than 3 bars, constant returns) are left out of the variance;
    fewer than 2 defined Sharpe ratios give 0.0 (nothing to vary), as
    :func:`autoperp.metrics.deflated_sharpe_from_trials` does for one trial.
    """
    target = common_bar_ms(records, bar_ms)
    srs = [
        r.stats.sharpe * (math.sqrt(target / r.stats.bar_ms) if target and r.stats.bar_ms else 1.0)
        for r in records
        if math.isfinite(r.stats.sharpe)
    ]
    return float(np.var(srs, ddof=1)) if len(srs) > 1 else 0.0


def dsr_inputs_of(records: Sequence[TrialRecord], family: str, bar_ms: int | None = None) -> DSRInputs:
    """:class:`DSRInputs` of a family's records; :class:`UsageError` when there are none."""
    if not records:
        raise UsageError(
            f"no trials of family '{family}' in the ledger: record the trials before judging one"
        )
    return DSRInputs(len(records), sharpe_variance_of(records, bar_ms))
