"""`autoperp list-trials`: the ledger as a table, filtered by family and kind, from the configured or the
given user_data directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoperp.cli.app import main
from autoperp.metrics.ledger import DataRange, TrialLedger

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ei:
        main(args)
    out, err = capsys.readouterr()
    return int(ei.value.code or 0), out, err


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich sizes tables to the terminal; a fixed width keeps every cell on one line
    monkeypatch.setenv("COLUMNS", "220")


def fill(user_data: Path) -> dict[str, str]:
    """Three trials in two families; returns name -> (trial id, config hash) joined by a space."""
    ledger = TrialLedger.in_user_data(user_data)
    ts = T0 + np.arange(240, dtype=np.int64) * HOUR
    rng = np.random.default_rng(0)
    dr = DataRange(("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"), "1h", T0, T0 + 240 * HOUR)
    out = {}
    for kind, name, family, metrics in [
        ("backtest", "ema-fast", "ema-cross", {"sharpe": 1.234}),
        ("backtest", "ema-slow", "ema-cross", None),
        ("train", "ppo-a", "ppo-run-7", {"sharpe": -0.5, "total_return": 0.1}),
    ]:
        rec = ledger.record(
            kind, name, family, {"name": name}, dr, ts, rng.normal(0, 0.01, 240), metrics=metrics
        )
        out[name] = f"{rec.trial_id} {rec.config_hash}"
    return out


def rows(out: str) -> dict[str, str]:
    """Table lines by the trial id they start with."""
    found = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0].startswith("T0"):
            found[cells[0]] = line
    return found


def test_lists_every_trial(user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = fill(user_data)
    rc, out, err = run_cli(["list-trials"], capsys)
    assert rc == 0 and err == ""
    table = rows(out)
    assert sorted(table) == ["T000001", "T000002", "T000003"]
    for name, ident in made.items():
        tid, chash = ident.split()
        line = table[tid]
        assert name in line and chash in line
    first = table["T000001"]
    cells = [c.strip() for c in first.strip("│ ").split("│")]
    assert cells[:3] == ["T000001", "backtest", "ema-cross"]
    assert cells[5] == "BTC/USDT:USDT,ETH/USDT:USDT +1 1h"
    assert cells[6] == "2024-01-01 → 2024-01-11"
    assert cells[7] == "240" and cells[8] == "1.23"
    assert [c.strip() for c in table["T000002"].strip("│ ").split("│")][8] == "-"
    assert [c.strip() for c in table["T000003"].strip("│ ").split("│")][8] == "-0.50"
    assert f"trials in {user_data / 'ledger'}" in out
    assert "3 trial(s)" in out


def test_filters_by_family_and_kind(user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(user_data)
    rc, out, _ = run_cli(["list-trials", "--family", "ema-cross"], capsys)
    assert rc == 0
    assert sorted(rows(out)) == ["T000001", "T000002"]
    assert "2 trial(s); 2 count toward DSR's N for family 'ema-cross'" in out
    rc, out, _ = run_cli(["list-trials", "--kind", "train"], capsys)
    assert rc == 0 and sorted(rows(out)) == ["T000003"]
    rc, out, _ = run_cli(["list-trials", "--kind", "train", "--family", "ema-cross"], capsys)
    assert rc == 0 and rows(out) == {} and "no trials in" in out


def test_userdir_overrides_the_config(
    user_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(user_data)
    elsewhere = tmp_path / "elsewhere"
    rc, out, _ = run_cli(["list-trials", "--userdir", str(elsewhere)], capsys)
    assert rc == 0 and rows(out) == {}
    assert f"no trials in {elsewhere / 'ledger'}" in " ".join(out.split())
    assert not elsewhere.exists()  # listing never creates a ledger
    rc, out, _ = run_cli(["list-trials", "--userdir", str(user_data)], capsys)
    assert rc == 0 and len(rows(out)) == 3
