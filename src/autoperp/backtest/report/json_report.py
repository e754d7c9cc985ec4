"""The backtest report as JSON: run metadata, portfolio and per-pair stats, monthly returns, round trips.

Strict JSON: NaN and ±inf are written as null (a ratio with a zero denominator, a figure that needs
trades when there were none). ``schema_version`` changes whenever a field is renamed or removed.
Round trips are capped at :data:`MAX_ROUND_TRIPS` (the first ones, in exit order) with
``round_trips_truncated`` saying so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from autoperp.backtest.report.stats import RunStats
from autoperp.backtest.run_result import BacktestRun

__all__ = ["MAX_ROUND_TRIPS", "SCHEMA_VERSION", "json_safe", "report_dict", "report_json"]

SCHEMA_VERSION = 1
MAX_ROUND_TRIPS = 10_000


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types: NaN/inf → None, numpy scalars and arrays → Python, pydantic models
    and paths → their JSON form; anything else unknown → ``str``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, BaseModel):
        return json_safe(value.model_dump(mode="json"))
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _trips(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [json_safe(r) for r in frame.head(MAX_ROUND_TRIPS).to_dict("records")]


def report_dict(run: BacktestRun, stats: RunStats) -> dict[str, Any]:
    """Everything the report knows, as JSON-safe values (money USDT, ratios fractions, times ms UTC)."""
    p = stats.portfolio
    portfolio = p.as_dict()
    monthly = portfolio.pop("monthly")
    doc: dict[str, Any] = json_safe({
        "schema_version": SCHEMA_VERSION,
        "run": {
            "run_id": run.run_id,
            "trial_id": run.trial_id,
            "strategy": run.strategy,
            "strategy_params": run.strategy_params,
            "timeframe": run.timeframe,
            "timerange": {"start_ms": p.start_ms, "end_ms": p.end_ms},
            "bar_ms": stats.bar_ms,
            "initial_cash": run.initial_cash,
            "pairs": [{"symbol": pr.symbol, "allocation": pr.allocation, "bars": len(pr.market)} for pr in run.pairs],
            "config": run.config,
            "data_sources": run.data_sources,
        },
        "portfolio": portfolio,
        "pairs": {s.name: s.as_dict() for s in stats.pairs},
        "monthly": monthly,
        "round_trips": _trips(stats.round_trips),
        "round_trips_total": len(stats.round_trips),
        "round_trips_truncated": len(stats.round_trips) > MAX_ROUND_TRIPS,
        "notes": list(p.notes),
    })  # fmt: skip
    return doc


def report_json(run: BacktestRun, stats: RunStats) -> str:
    """:func:`report_dict` serialised; refuses (ValueError) anything that is not strict JSON."""
    return json.dumps(report_dict(run, stats), indent=1, allow_nan=False)
