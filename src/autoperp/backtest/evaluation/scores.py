"""The figures of one return series: Sharpe (annualised and per bar), PSR, return, drawdown.

Sharpe ratios follow :mod:`autoperp.metrics.sharpe_inference`: per bar, std at ddof=1, raw kurtosis.
A series that never moves (the flat baseline, a strategy that never trades) has Sharpe 0 and PSR 0.5:
nothing earned, nothing risked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from autoperp.metrics import performance, probabilistic_sharpe_ratio, sharpe_moments
from autoperp.metrics.inputs import MetricsInputError

__all__ = ["Score", "score_returns"]


@dataclass(frozen=True)
class Score:
    """``total_return``, ``max_drawdown``: fractions. ``sharpe``: annualised (365.25-day year of bars);
    ``sharpe_per_bar``, ``skewness``, ``kurtosis`` (raw): of the bar returns. ``psr``: probability that
    the true Sharpe is above 0."""

    bars: int
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sharpe_per_bar: float
    skewness: float
    kurtosis: float
    psr: float
    max_drawdown: float
    sortino: float

    def to_json(self) -> dict[str, Any]:
        return {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in asdict(self).items()
        }


def score_returns(returns: np.ndarray, bar_ms: int) -> Score:
    """:class:`Score` of per-bar simple returns (fractions) on bars of ``bar_ms`` ms."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        nan = math.nan
        return Score(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    perf = performance(r, bar_ms=bar_ms)
    try:
        mom = sharpe_moments(r)
        sr, skew, kurt = mom.sharpe, mom.skewness, mom.kurtosis
    except MetricsInputError:  # constant returns, or too few bars
        never_moved = r.size >= 3 and not np.any(r)
        sr, skew, kurt = (0.0, 0.0, 3.0) if never_moved else (math.nan, math.nan, math.nan)
    try:
        psr = (
            probabilistic_sharpe_ratio(sr, r.size, skewness=skew, kurtosis=kurt)
            if math.isfinite(sr)
            else math.nan
        )
    except MetricsInputError:  # moments outside what the PSR formula can take
        psr = math.nan
    # not perf.sharpe: same mean/std·√P (ddof=1), but NaN or ±inf on constant returns, where flat scores 0
    sharpe = sr * math.sqrt(perf.periods_per_year) if math.isfinite(sr) else math.nan
    return Score(
        bars=int(r.size),
        total_return=perf.total_return,
        cagr=perf.cagr,
        volatility=perf.volatility,
        sharpe=sharpe,
        sharpe_per_bar=sr,
        skewness=skew,
        kurtosis=kurt,
        psr=psr,
        max_drawdown=perf.max_drawdown,
        sortino=perf.sortino,
    )
