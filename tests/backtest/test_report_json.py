"""The JSON report: strict JSON (no NaN/inf), every stat, round trips capped with a flag."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from autoperp.backtest.report import SCHEMA_VERSION, json_report, run_stats, write_reports
from autoperp.core.errors import UsageError
from autoperp.sim import SimConfig
from tests.backtest.test_report_runs import (
    BTC,
    ETH,
    backtest_run,
    hand_candles,
    pair_run,
    ruin_case,
    synthetic_run,
    targets_at,
)


def strict_load(path: Path) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"{path.name} holds {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def floats(obj: Any) -> list[float]:
    if isinstance(obj, float):
        return [obj]
    if isinstance(obj, dict):
        return [f for v in obj.values() for f in floats(v)]
    if isinstance(obj, list):
        return [f for v in obj for f in floats(v)]
    return []


def test_json_report_holds_the_stats(tmp_path: Path) -> None:
    run = synthetic_run()
    paths = write_reports(run, tmp_path / "reports")
    assert set(paths) == {"html", "json"} and paths["json"].name == "backtest-syn_run_1.json"
    doc = strict_load(paths["json"])
    stats = run_stats(run)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["run"]["strategy"] == "momentum" and doc["run"]["strategy_params"] == {
        "window": 24,
        "scale": 1.5,
    }
    assert doc["run"]["config"]["initial_cash"] == 10_000.0 and doc["run"]["bar_ms"] == 3_600_000
    assert [p["symbol"] for p in doc["run"]["pairs"]] == [BTC, ETH]
    assert doc["run"]["timerange"] == {"start_ms": int(run.ts[0]), "end_ms": int(run.ts[-1]) + 3_600_000}
    for key in (
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "profit_factor",
        "exposure",
    ):
        assert doc["portfolio"][key] == pytest.approx(getattr(stats.portfolio, key)), key
    assert doc["pairs"][ETH]["trades"] == stats.pairs[1].trades
    assert [m["month"] for m in doc["monthly"]] == ["2024-01", "2024-02", "2024-03"]
    assert math.prod(1 + m["total_return"] for m in doc["monthly"]) - 1 == pytest.approx(
        stats.portfolio.total_return
    )
    assert doc["round_trips_total"] == len(doc["round_trips"]) == stats.portfolio.trades
    assert doc["round_trips_truncated"] is False
    trip = doc["round_trips"][0]
    assert set(trip) >= {"symbol", "side", "entry_ts", "exit_ts", "pnl", "fees", "funding", "exit_reason"}
    assert isinstance(trip["entry_ts"], int)
    assert "a run note" in doc["notes"]
    assert all(math.isfinite(f) for f in floats(doc))


def test_round_trips_are_capped_with_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_report, "MAX_ROUND_TRIPS", 5)
    run = synthetic_run()
    doc = strict_load(write_reports(run, tmp_path)["json"])
    assert len(doc["round_trips"]) == 5 and doc["round_trips_truncated"] is True
    assert doc["round_trips_total"] == run_stats(run).portfolio.trades > 5


def test_undefined_figures_are_null(tmp_path: Path) -> None:
    pair = pair_run(BTC, hand_candles([100.0] * 5, 101.0), targets_at(5, {}), SimConfig(initial_cash=1_000.0))
    doc = strict_load(write_reports(backtest_run([pair], 1_000.0, strategy="flat"), tmp_path)["json"])
    assert doc["portfolio"]["trades"] == 0
    assert doc["portfolio"]["profit_factor"] is None and doc["portfolio"]["win_rate"] is None
    assert doc["portfolio"]["sharpe"] is None  # a flat curve has no Sharpe ratio
    assert doc["round_trips"] == []


def test_ruined_run_still_reports(tmp_path: Path) -> None:
    _, run = ruin_case()
    paths = write_reports(run, tmp_path)
    doc = strict_load(paths["json"])
    assert paths["json"].name == "backtest-ruin.json"
    assert doc["portfolio"]["ruined"] is True and doc["portfolio"]["total_return"] == -1.0
    assert doc["portfolio"]["calmar"] == pytest.approx(-1.0)
    assert paths["html"].stat().st_size > 1_000_000


def test_an_unusable_out_dir_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _, run = ruin_case()
    with pytest.raises(UsageError, match="cannot create the report directory"):
        write_reports(run, blocker / "reports")
