"""Pre-training: purged split, a tiny synthetic run and the CLI on a synthetic CSV."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from autoperp.brain.presets import stage1
from autoperp.cli.app import main
from autoperp.data.archive_writer import write_klines_csv
from autoperp.data.synthetic import generate_series
from autoperp.learn.pretrain import PretrainConfig, purged_holdout, run_pretrain

TINY = {
    "horizon": 20,
    "vol_windows": (10, 30, 120),
    "barrier_vol_window": 30,
    "return_horizons": (1, 5, 15),
    "fast_window": 16,
    "stride": 5,
    "epochs": 1,
    "batch_size": 64,
    "embargo": 20,
}


def test_purging_drops_events_overlapping_the_test_block() -> None:
    t0 = np.arange(0, 100, 10)
    t1 = t0 + 25  # each event spans 25 bars: reaches into the next two
    split = purged_holdout(t0, t1, test_fraction=0.3, val_fraction=0.3, embargo=0)
    assert list(split.test) == [7, 8, 9]
    train = np.concatenate([split.fit, split.val])
    assert (t1[train] < t0[7]).all()  # no train event reaches the first test start
    assert (t1[split.fit] < t0[split.val].min()).all()
    assert split.purged > 0
    assert 5 not in train and 6 not in train


def test_purged_holdout_without_overlap_keeps_everything() -> None:
    t0 = np.arange(0, 100, 10)
    split = purged_holdout(t0, t0 + 1, test_fraction=0.2, val_fraction=0.25, embargo=0)
    assert split.purged == 0
    assert len(split.fit) + len(split.val) + len(split.test) == 10


def test_tiny_synthetic_run_reports_finite_scores() -> None:
    df = generate_series(2500, seed=3).candles.frame
    arrays = {k: df[k].to_numpy() for k in df.columns if k != "ts"}
    report = run_pretrain(arrays, PretrainConfig(**TINY), stage1(d_model=32, chart_channels=(4, 4, 4)))
    names = [r.name for r in report.rows]
    assert names == ["policy", "logistic", "class prior"]
    for r in report.rows:
        assert math.isfinite(r.log_loss) and 0 <= r.accuracy <= 1
    assert report.rows[-1].log_loss < math.log(3) + 0.2  # prior fit on train, near-uniform at worst
    assert report.n_test > 0 and report.n_fit > report.n_test / 2
    assert report.modalities == ["fast", "flow"]
    assert abs(sum(report.class_share_test) - 1) < 1e-9


def test_cli_runs_on_a_synthetic_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = generate_series(2500, seed=4, symbol="FIL/USDT:USDT").candles.frame
    path = write_klines_csv(df, tmp_path / "FILUSDT-1m-2023-04.csv", 60_000)
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "pretrain", "--datafile", str(path), "--userdir", str(tmp_path / "ud"), "--epochs", "1",
                "--stride", "5", "--horizon", "20", "--max-samples", "300",
            ]
        )  # fmt: skip
    out = capsys.readouterr()
    assert exc.value.code == 0, out.err
    assert "logistic" in out.out and "class prior" in out.out
    files = list((tmp_path / "ud" / "pretrain_results").glob("*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert [r["name"] for r in doc["rows"]] == ["policy", "logistic", "class prior"]
    assert doc["modalities"] == ["fast", "flow"]  # taker-buy volume and trades re-read from the file


def test_cli_refuses_unknown_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["pretrain", "--datafile", str(tmp_path / "x.csv"), "--preset", "huge"])
    assert exc.value.code != 0
    assert "--preset" in capsys.readouterr().err
