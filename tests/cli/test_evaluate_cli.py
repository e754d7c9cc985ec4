"""`autoperp evaluate`: DSR, PBO and the baseline table printed, HTML and JSON written, the evaluation in
the ledger; `--vault` reads only its own directory (built here in tmp_path, never the real vault), once per
strategy configuration unless `--force`; `--model ID` evaluates a trained model (tests/cli/test_model_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoperp.metrics.ledger import TrialLedger
from tests.backtest.synthetic_inputs import BTC, synthetic, write_files
from tests.cli.backtest_support import btc_files, data_args, run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return btc_files(tmp_path_factory.mktemp("evaluate-data"), 4_000, seed=6, parts=2)


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A vault of our own: $AUTOPERP_SHARED/data/vault with synthetic candles and funding."""
    shared = tmp_path / "shared"
    d = shared / "data" / "vault"
    d.mkdir(parents=True)
    made = write_files(d, synthetic([BTC], 3_000, seed=99)[BTC])
    for p in made["mark"]:
        p.unlink()  # its name does not say "mark": keep the vault to files whose names say what they hold
    monkeypatch.setenv("AUTOPERP_SHARED", str(shared))
    return d


def test_evaluate_prints_dsr_pbo_and_baselines_and_writes_reports(
    files: dict[str, list[Path]], user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(["evaluate", "--strategy", "sma_trend", *data_args(files), "--folds", "4"], capsys)
    assert rc == 0, err
    assert "Out of sample, after costs: strategy vs baselines" in out
    for label in ("flat", "buy_and_hold", "funding_carry"):
        assert f"│ {label}" in out
    assert "│ DSR" in out and "│ PBO" in out and "N trials (ledger)" in out
    html = next((user_data / "evaluation_results").glob("evaluation-T000001-*.html"))
    assert 'id="fig-pbo"' in html.read_text()
    doc = json.loads(html.with_suffix(".json").read_text())
    assert len(doc["segments"]) == 4 and doc["dsr"]["n_trials"] == 1
    ledger = TrialLedger.in_user_data(user_data)
    assert [r.kind.value for r in ledger.records()] == ["evaluate"]
    # a second evaluation counts: N = 2
    rc, out, _ = run_cli(
        ["evaluate", "--strategy", "sma_trend", "--param", "fast=10", *data_args(files), "--scheme", "cpcv",
         "--folds", "6", "--no-html", "--export-dir", str(user_data / "x")],
        capsys,
    )  # fmt: skip
    assert rc == 0
    doc = json.loads(next((user_data / "x").glob("*.json")).read_text())
    assert doc["dsr"]["n_trials"] == 2 and doc["settings"]["scheme"] == "cpcv"
    assert not list((user_data / "x").glob("*.html"))


def test_unknown_model_is_one_line_exit_2(user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["evaluate", "--model", "M7", "--userdir", str(user_data)], capsys)
    assert rc == 2 and "no such model directory" in err and "Traceback" not in err


def test_model_and_strategy_together_are_refused(user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["evaluate", "--model", "M7", "--strategy", "sma_trend"], capsys)
    assert rc == 2 and "--model replaces --strategy" in err


def test_bad_options_exit_2(
    files: dict[str, list[Path]], user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(
        ["evaluate", "--strategy", "sma_trend", *data_args(files), "--pbo-partitions", "7"], capsys
    )
    assert rc == 2 and "--pbo-partitions" in err and "even" in err
    rc, _, err = run_cli(["evaluate", "--strategy", "sma_trend", *data_args(files), "--force"], capsys)
    assert rc == 2 and "--force only applies to --vault" in err
    rc, _, err = run_cli(["evaluate", "--strategy", "sma_trend", *data_args(files), "--folds", "1"], capsys)
    assert rc == 2 and "--folds" in err and "2" in err
    rc, _, err = run_cli(
        [
            "evaluate",
            "--strategy",
            "sma_trend",
            *data_args(files),
            "--scheme",
            "cpcv",
            "--folds",
            "3",
            "--test-groups",
            "3",
        ],
        capsys,
    )
    assert rc == 2 and "--test-groups < --folds" in err
    assert not (user_data / "ledger" / "trials").exists() or not list(
        (user_data / "ledger" / "trials").iterdir()
    )


def test_vault_one_look_then_refusal_then_force(
    vault: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", "--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--vault", "--no-html"]
    rc, out, err = run_cli(args, capsys)
    assert rc == 0, err
    assert "VAULT" in out and str(vault) in out.replace("\n", "")
    ledger = TrialLedger.in_user_data(user_data)
    (first,) = ledger.records()
    assert first.kind.value == "vault" and first.model_id and first.model_id.startswith("sma_trend@")
    rc, _, err = run_cli(args, capsys)
    assert rc == 2 and "already used the vault" in err and "--force" in err
    assert len(ledger.records()) == 1  # the refusal records nothing
    rc, out, err = run_cli([*args, "--force"], capsys)
    assert rc == 0, err
    kinds = [r.kind.value for r in TrialLedger.in_user_data(user_data).records()]
    assert kinds == ["vault", "evaluate"]
    assert "forced second look" in out.replace("\n", " ")


def test_vault_dir_option_and_datafile_refusals(
    vault: Path, tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = tmp_path / "elsewhere"
    vault.rename(moved)
    rc, _, err = run_cli(["evaluate", "--strategy", "buy_and_hold", "--vault", "--no-html"], capsys)
    assert rc == 2 and "vault directory not found" in err
    rc, _, err = run_cli(
        ["evaluate", "--strategy", "buy_and_hold", "--vault", "--vault-dir", str(moved), "--no-html"], capsys
    )
    assert rc == 0, err
    # the same configuration again, the directory given as the flag's value: refused, the look was had
    rc, _, err = run_cli(
        ["evaluate", "--strategy", "buy_and_hold", "--vault", str(moved), "--no-html"], capsys
    )
    assert rc == 2 and "already used the vault" in err
    rc, _, err = run_cli(
        [
            "evaluate",
            "--strategy",
            "buy_and_hold",
            "--param",
            "exposure=0.5",
            f"--vault={moved}",
            "--no-html",
        ],
        capsys,
    )
    assert rc == 0, err
    rc, _, err = run_cli(
        ["evaluate", "--strategy", "sma_trend", "--vault", "--datafile", str(next(moved.glob("*-1m-*.csv")))],
        capsys,
    )
    assert rc == 2 and "drop --datafile" in err
    moved.rename(vault)
    rc, _, err = run_cli(
        ["evaluate", "--strategy", "sma_trend", "--datafile", str(next(vault.glob("*-1m-*.csv")))], capsys
    )
    assert rc == 2 and "inside the vault" in err


@pytest.mark.real_data
def test_real_fil_month(real_dir: Path, user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`evaluate --strategy sma_trend` on one month of real FILUSDT 1m bars (43,200)."""
    path = real_dir / "binance_um_1m_monthly_isda" / "FILUSDT-1m-2023-04.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rc, out, err = run_cli(["evaluate", "--strategy", "sma_trend", "--datafile", str(path)], capsys)
    assert rc == 0, err
    assert "│ DSR" in out and "│ PBO" in out
    assert "Out of sample, after costs: strategy vs baselines" in out
    for label in ("flat", "buy_and_hold", "funding_carry"):
        assert f"│ {label}" in out
    html = list((user_data / "evaluation_results").glob("*.html"))
    assert len(html) == 1 and html[0].stat().st_size > 1_000_000
    doc = json.loads(html[0].with_suffix(".json").read_text())
    assert doc["symbols"] == ["FIL/USDT:USDT"] and doc["n_bars"] == 43_200
    assert doc["pbo"]["n_trials"] == 9 and 0.0 <= doc["pbo"]["pbo"] <= 1.0
