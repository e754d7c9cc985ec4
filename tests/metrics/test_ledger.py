"""The trial ledger: round trip, counts per family, aligned return matrices for PBO/DSR, all-or-nothing
writes (also across a hard crash), the writer lock, input checks and vault bookkeeping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

import autoperp.metrics.ledger.store as store_mod
from autoperp.core.errors import StoreError, UsageError, ValidationError
from autoperp.metrics import (
    deflated_sharpe_from_trials,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_moments,
)
from autoperp.metrics.ledger import (
    TRIAL_COLUMNS,
    DataRange,
    TrialKind,
    TrialLedger,
    VaultReuseError,
    config_hash,
    config_json,
    ledger_root,
)

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000
MINUTE = 60_000
REPO = Path(__file__).resolve().parents[2]


def make_series(
    n: int = 400, seed: int = 0, start: int = T0, bar: int = HOUR, mu: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    ts = start + np.arange(n, dtype=np.int64) * bar
    return ts, np.random.default_rng(seed).normal(mu, 0.01, n)


def span(ts: np.ndarray, bar: int = HOUR, tf: str = "1h") -> DataRange:
    return DataRange(("BTC/USDT:USDT",), tf, int(ts[0]), int(ts[-1]) + bar)


def add(
    ledger: TrialLedger,
    family: str = "fam",
    kind: str = "backtest",
    seed: int = 0,
    *,
    series: tuple[np.ndarray, np.ndarray] | None = None,
    metrics: dict[str, float] | None = None,
    model_id: str | None = None,
) -> str:
    ts, r = series if series is not None else make_series(seed=seed)
    cfg = {"seed": seed}
    rec = ledger.record(
        kind, f"{family}-{seed}", family, cfg, span(ts), ts, r, metrics=metrics, model_id=model_id
    )
    return rec.trial_id


@pytest.fixture
def ledger(tmp_path: Path) -> TrialLedger:
    return TrialLedger(tmp_path / "ledger", lock_timeout_s=5.0)


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.startswith(".tmp-"))


# ---------------------------------------------------------------------- round trip
class StrategyParams(BaseModel):
    fast: int = 12
    slow: int = 26
    stop: float = 0.02


def test_round_trip_through_a_fresh_instance(ledger: TrialLedger) -> None:
    ts, r = make_series(500, seed=3)
    dr = DataRange(["BTC/USDT:USDT", "ETH/USDT:USDT"], "1h", T0, T0 + 500 * HOUR, manifest_hash="abc123")
    params = StrategyParams()
    rec = ledger.record(
        TrialKind.BACKTEST,
        "ema 12/26",
        "ema-cross",
        params,
        dr,
        ts,
        r,
        metrics={"sharpe": 1.25, "max_drawdown": 0.1, "profit_factor": float("inf")},
        model_id="m-1",
        notes="first try",
    )
    assert rec.trial_id == "T000001"
    assert rec.config_hash == config_hash({"slow": 26, "fast": 12, "stop": 0.02})
    again = TrialLedger(ledger.root).get(rec.trial_id)  # nothing cached: read from disk
    assert again.kind is TrialKind.BACKTEST
    assert (again.name, again.family, again.model_id, again.notes) == (
        "ema 12/26",
        "ema-cross",
        "m-1",
        "first try",
    )
    assert again.config == {"fast": 12, "slow": 26, "stop": 0.02}
    assert again.data_range == dr
    assert again.metrics["sharpe"] == 1.25 and again.metrics["max_drawdown"] == 0.1
    assert np.isnan(again.metrics["profit_factor"])  # JSON has no inf: stored as null
    assert again.stats == rec.stats
    mom = sharpe_moments(r)
    assert again.stats.sharpe == pytest.approx(mom.sharpe, rel=1e-12)
    assert again.stats.kurtosis == pytest.approx(mom.kurtosis, rel=1e-12)
    assert again.stats.bar_ms == HOUR and again.n_bars == 500
    assert again.stats.total_return == pytest.approx(np.prod(1 + r) - 1, rel=1e-9)
    got_ts, got_r = TrialLedger(ledger.root).returns(rec.trial_id)
    assert got_ts.dtype == np.int64 and got_r.dtype == np.float64
    np.testing.assert_array_equal(got_ts, ts)
    np.testing.assert_array_equal(got_r, r)


def test_trials_frame(ledger: TrialLedger) -> None:
    a = add(ledger, "a", seed=1, metrics={"sharpe": 2.0})
    add(ledger, "b", "train", seed=2)
    df = ledger.trials()
    assert tuple(df.columns) == TRIAL_COLUMNS
    assert list(df["trial_id"]) == [a, "T000002"]
    assert list(df["kind"]) == ["backtest", "train"]
    row = df.iloc[0]
    assert row["symbols"] == "BTC/USDT:USDT" and row["timeframe"] == "1h"
    assert row["start_ms"] == T0 and row["n_bars"] == 400 and row["bar_ms"] == HOUR
    assert row["metrics"] == {"sharpe": 2.0}
    assert df["created_ms"].dtype == np.int64 and df["sharpe_per_bar"].dtype == np.float64
    assert list(ledger.trials(kind="train")["family"]) == ["b"]
    assert list(ledger.trials(family="a")["trial_id"]) == [a]
    assert ledger.trials(kind="vault").empty


def test_reading_an_absent_ledger_creates_nothing(tmp_path: Path) -> None:
    ledger = TrialLedger.in_user_data(tmp_path / "ud")
    assert ledger.root == ledger_root(tmp_path / "ud") == tmp_path / "ud" / "ledger"
    df = ledger.trials()
    assert df.empty and tuple(df.columns) == TRIAL_COLUMNS
    assert ledger.n_trials() == 0 and ledger.vault_uses("m") == []
    assert not (tmp_path / "ud").exists()
    with pytest.raises(UsageError, match="no trial 'T000001'"):
        ledger.returns("T000001")


def test_an_open_instance_sees_trials_recorded_by_another(ledger: TrialLedger) -> None:
    reader = TrialLedger(ledger.root)
    assert reader.n_trials() == 0
    add(ledger, seed=1)
    add(ledger, seed=2)
    assert reader.n_trials() == 2


# ---------------------------------------------------------------------- config hash
def test_config_hash_is_canonical() -> None:
    base = {"a": 1, "b": [1, 2], "c": {"x": 0.5, "y": "z"}}
    h = config_hash(base)
    assert len(h) == 16 and int(h, 16) >= 0
    assert config_hash({"c": {"y": "z", "x": 0.5}, "b": (1, 2), "a": 1.0}) == h
    assert config_hash({"a": np.int64(1), "b": np.array([1, 2]), "c": {"x": np.float64(0.5), "y": "z"}}) == h
    assert config_hash({"a": 2, "b": [1, 2], "c": {"x": 0.5, "y": "z"}}) != h
    assert config_hash({"a": 1, "b": [2, 1], "c": {"x": 0.5, "y": "z"}}) != h  # lists keep their order
    assert config_hash({"a": True}) != config_hash({"a": 1})
    assert config_hash({"s": {3, 1, 2}}) == config_hash({"s": [1, 2, 3]})
    assert config_hash(StrategyParams()) == config_hash({"fast": 12, "slow": 26, "stop": 0.02})
    assert config_json({"b": 1, "a": Path("x/y")}) == '{"a":"x/y","b":1}'


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"lr": float("nan")}, "config.lr"),
        ({"a": {"b": object()}}, "config.a.b"),
        ({1: 2}, "config"),
        ([1], "config"),
    ],
)
def test_unhashable_config_is_refused(ledger: TrialLedger, config: object, field: str) -> None:
    ts, r = make_series()
    with pytest.raises(ValidationError) as ei:
        ledger.record("backtest", "n", "f", config, span(ts), ts, r)  # type: ignore[arg-type]
    assert ei.value.field == field and f"field '{field}'" in str(ei.value)
    assert ledger.n_trials() == 0


# ---------------------------------------------------------------------- counts
def test_n_trials_counts_each_family_and_leaves_the_vault_out(ledger: TrialLedger) -> None:
    for seed in range(3):
        add(ledger, "a", seed=seed)
    add(ledger, "b", "train", seed=10)
    add(ledger, "b", "evolve", seed=11)
    add(ledger, "a", "evaluate", seed=12, model_id="m1")
    add(ledger, "a", "vault", seed=13, model_id="m1")
    assert ledger.n_trials("a") == 4
    assert ledger.n_trials("b") == 2
    assert ledger.n_trials() == 6
    assert ledger.n_trials("a", kinds=list(TrialKind)) == 5
    assert ledger.n_trials("a", kinds=["backtest"]) == 3
    assert ledger.n_trials("nobody") == 0
    assert ledger.dsr_inputs("a").n_trials == 4
    assert [r.trial_id for r in ledger.records()] == [f"T{i:06d}" for i in range(1, 8)]


def test_same_config_twice_counts_twice(ledger: TrialLedger) -> None:
    # re-running a config is one more look at the data: N must not shrink because the hash repeats
    a = add(ledger, seed=5)
    b = add(ledger, seed=5)
    assert ledger.get(a).config_hash == ledger.get(b).config_hash
    assert ledger.n_trials("fam") == 2


# ---------------------------------------------------------------------- returns matrix
def test_returns_matrix_inner_and_outer_alignment(ledger: TrialLedger) -> None:
    ts1, r1 = make_series(100, seed=1)
    ts2, r2 = make_series(100, seed=2, start=T0 + 30 * HOUR)
    ts3, r3 = make_series(50, seed=3, start=T0 + 10 * HOUR)
    ids = [add(ledger, seed=i, series=s) for i, s in enumerate([(ts1, r1), (ts2, r2), (ts3, r3)])]

    ts, m, got_ids = ledger.returns_matrix(ids)
    assert got_ids == tuple(ids)
    np.testing.assert_array_equal(ts, np.arange(T0 + 30 * HOUR, T0 + 60 * HOUR, HOUR))
    assert m.shape == (30, 3) and m.dtype == np.float64 and m.flags.c_contiguous
    np.testing.assert_array_equal(m[:, 0], r1[30:60])
    np.testing.assert_array_equal(m[:, 1], r2[:30])
    np.testing.assert_array_equal(m[:, 2], r3[20:50])

    ts_u, m_u, _ = ledger.returns_matrix(ids[:2], join="outer")
    np.testing.assert_array_equal(ts_u, np.arange(T0, T0 + 130 * HOUR, HOUR))
    np.testing.assert_array_equal(m_u[:100, 0], r1)
    np.testing.assert_array_equal(m_u[100:, 0], 0.0)
    np.testing.assert_array_equal(m_u[30:, 1], r2)
    np.testing.assert_array_equal(m_u[:30, 1], 0.0)

    # a family selects its trials in recording order, the vault left out
    add(ledger, "fam", "vault", seed=9, model_id="m")
    assert ledger.returns_matrix(family="fam").trial_ids == tuple(ids)


def test_returns_matrix_feeds_pbo(ledger: TrialLedger) -> None:
    ts, _ = make_series(640)
    direct = np.random.default_rng(42).normal(0.0, 0.01, (640, 8))
    for j in range(8):
        ledger.record("evolve", f"cand-{j}", "run-1", {"j": j}, span(ts), ts, direct[:, j])
    _, m, ids = ledger.returns_matrix(family="run-1")
    np.testing.assert_array_equal(m, direct)
    res = probability_of_backtest_overfitting(m, 8)
    want = probability_of_backtest_overfitting(direct, 8)
    assert res.n_trials == ledger.n_trials("run-1") == 8
    assert res.pbo == want.pbo
    np.testing.assert_array_equal(res.logits, want.logits)
    assert len(ids) == 8


def test_returns_matrix_refusals(ledger: TrialLedger) -> None:
    a = add(ledger, seed=1, series=make_series(50, seed=1))
    b = add(ledger, seed=2, series=make_series(50, seed=2, bar=MINUTE))
    c = add(ledger, seed=3, series=make_series(50, seed=3, start=T0 + 1000 * HOUR))
    with pytest.raises(UsageError, match="different bar lengths"):
        ledger.returns_matrix([a, b])
    with pytest.raises(UsageError, match="share no timestamp"):
        ledger.returns_matrix([a, c])
    assert ledger.returns_matrix([a, c], join="outer").returns.shape == (100, 2)
    with pytest.raises(UsageError, match="exactly one"):
        ledger.returns_matrix([a], family="fam")
    with pytest.raises(UsageError, match="no trials of family"):
        ledger.returns_matrix(family="ghost")
    with pytest.raises(UsageError, match="no trial 'T999999'"):
        ledger.returns_matrix(["T999999"])


# ---------------------------------------------------------------------- DSR inputs
def test_dsr_inputs_agree_with_deflated_sharpe_from_trials(ledger: TrialLedger) -> None:
    ts, _ = make_series(1000)
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 0.01, (1000, 6)) + np.linspace(-0.0005, 0.001, 6)
    ids = [
        ledger.record("backtest", f"c{j}", "grid", {"j": j}, span(ts), ts, m[:, j]).trial_id for j in range(6)
    ]
    add(ledger, "grid", "vault", seed=99, model_id="best")  # a vault look is not one more trial
    add(ledger, "other", seed=98)  # another family does not count either

    srs = m.mean(axis=0) / m.std(axis=0, ddof=1)
    n, var = ledger.dsr_inputs("grid")
    assert n == 6
    assert var == pytest.approx(float(np.var(srs, ddof=1)), rel=1e-9)
    assert ledger.sharpe_variance("grid") == pytest.approx(var, rel=1e-12)

    best = int(np.argmax(srs))
    want = deflated_sharpe_from_trials(m)
    assert ledger.deflated_sharpe(ids[best]) == pytest.approx(want, rel=1e-9)
    mom = sharpe_moments(m[:, best])
    by_hand = deflated_sharpe_ratio(
        mom.sharpe, mom.n, **ledger.dsr_inputs("grid")._asdict(), skewness=mom.skewness, kurtosis=mom.kurtosis
    )
    assert by_hand == pytest.approx(want, rel=1e-9)
    # re-running the same six configs four more times raises the bar: DSR falls as N grows
    for rerun in range(4):
        for j in range(6):
            ledger.record(
                "backtest", f"c{j}", "grid", {"j": j}, span(ts), ts, m[:, j], notes=f"rerun {rerun}"
            )
    assert ledger.dsr_inputs("grid").n_trials == 30
    assert ledger.deflated_sharpe(ids[best]) < want - 0.05


def test_sharpe_variance_puts_mixed_bars_on_one_scale(ledger: TrialLedger) -> None:
    h = ledger.get(add(ledger, seed=1, series=make_series(300, seed=1, bar=HOUR, mu=0.002)))
    k = ledger.get(add(ledger, seed=2, series=make_series(300, seed=2, bar=MINUTE, mu=0.001)))
    with pytest.raises(UsageError, match="different bar lengths"):
        ledger.sharpe_variance("fam")
    hourly = [h.stats.sharpe, k.stats.sharpe * np.sqrt(60.0)]
    assert ledger.sharpe_variance("fam", bar_ms=HOUR) == pytest.approx(
        float(np.var(hourly, ddof=1)), rel=1e-12
    )
    assert ledger.dsr_inputs("fam", bar_ms=HOUR).n_trials == 2


def test_undefined_sharpe_counts_but_does_not_vary(ledger: TrialLedger) -> None:
    ts = T0 + np.arange(100, dtype=np.int64) * HOUR
    flat = ledger.record("backtest", "flat", "fam", {}, span(ts), ts, np.zeros(100))
    assert np.isnan(flat.stats.sharpe)
    assert np.isnan(ledger.trials()["sharpe_per_bar"].iloc[0])
    assert ledger.dsr_inputs("fam") == (1, 0.0)
    a = ledger.get(add(ledger, seed=1))
    b = ledger.get(add(ledger, seed=2))
    n, var = ledger.dsr_inputs("fam")
    assert n == 3
    assert var == pytest.approx(float(np.var([a.stats.sharpe, b.stats.sharpe], ddof=1)))
    with pytest.raises(UsageError, match="no Sharpe ratio"):
        ledger.deflated_sharpe(flat.trial_id)
    with pytest.raises(UsageError, match="no trials of family 'ghost'"):
        ledger.dsr_inputs("ghost")


# ---------------------------------------------------------------------- atomicity
def test_failure_writing_metadata_leaves_no_trial(
    ledger: TrialLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(ledger, seed=1)

    def boom(final: Path, text: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store_mod, "write_atomic_text", boom)
    with pytest.raises(OSError, match="disk full"):
        add(ledger, seed=2)
    assert ledger.n_trials() == 1 and TrialLedger(ledger.root).n_trials() == 1
    assert sorted(p.name for p in ledger.returns_dir.iterdir()) == ["T000001.parquet"]
    assert leftovers(ledger.root) == []
    monkeypatch.undo()
    assert add(ledger, seed=3) == "T000002"


def test_failure_writing_returns_leaves_no_trial(
    ledger: TrialLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(path: Path, ts: np.ndarray, ret: np.ndarray, trial_id: str) -> None:
        path.write_bytes(b"PAR1 half a file")
        raise OSError("interrupted")

    monkeypatch.setattr(store_mod, "write_series", half_written)
    with pytest.raises(OSError, match="interrupted"):
        add(ledger, seed=1)
    assert ledger.n_trials() == 0 and ledger.trials().empty
    assert list(ledger.returns_dir.iterdir()) == [] and list(ledger.trials_dir.iterdir()) == []


_CRASH = """
import os, sys
import numpy as np
import autoperp.metrics.ledger.atomic as atomic
from autoperp.metrics.ledger import DataRange, TrialLedger

real_replace = os.replace

def dying_replace(src, dst):
    if str(dst).endswith(".json"):
        os._exit(9)  # killed between the returns file and the metadata: no cleanup runs
    real_replace(src, dst)

atomic.os.replace = dying_replace
ts = 1_704_067_200_000 + np.arange(10, dtype=np.int64) * 3_600_000
TrialLedger(sys.argv[1]).record(
    "train", "doomed", "fam", {}, DataRange(("BTC/USDT:USDT",), "1h", int(ts[0]), int(ts[-1]) + 1), ts, np.full(10, 0.5)
)
"""


def test_a_crash_mid_write_leaves_no_half_trial(ledger: TrialLedger) -> None:
    first = add(ledger, seed=1)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CRASH), str(ledger.root)], cwd=REPO, timeout=120
    )
    assert proc.returncode == 9
    # the dead writer's returns file and temporary metadata are on disk, yet no trial is visible
    assert (ledger.returns_dir / "T000002.parquet").exists()
    assert len(leftovers(ledger.root)) == 1
    fresh = TrialLedger(ledger.root)
    assert fresh.n_trials() == 1 and [r.trial_id for r in fresh.records()] == [first]
    # the next writer clears the debris and reuses the number
    ts, r = make_series(20, seed=4)
    rec = fresh.record("train", "next", "fam", {}, span(ts), ts, r)
    assert rec.trial_id == "T000002"
    np.testing.assert_array_equal(fresh.returns("T000002")[1], r)
    assert leftovers(ledger.root) == []
    assert sorted(p.name for p in ledger.returns_dir.iterdir()) == ["T000001.parquet", "T000002.parquet"]


def test_corrupt_files_are_reported(ledger: TrialLedger) -> None:
    tid = add(ledger, seed=1)
    (ledger.returns_dir / f"{tid}.parquet").write_bytes(b"not parquet")
    with pytest.raises(StoreError, match=f"{tid}.parquet"):
        ledger.returns(tid)
    meta = ledger.trials_dir / "T000002.json"
    meta.write_text(json.dumps({**json.loads((ledger.trials_dir / f"{tid}.json").read_text()), "format": 99}))
    with pytest.raises(StoreError, match="newer autoperp"):
        TrialLedger(ledger.root).trials()


# ---------------------------------------------------------------------- lock
def test_a_held_lock_keeps_writers_out(ledger: TrialLedger) -> None:
    add(ledger, seed=1)
    other = TrialLedger(ledger.root, lock_timeout_s=0.2)
    with ledger.hold_lock():
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="lock"):
            add(other, seed=2)
        assert time.monotonic() - t0 >= 0.2
    assert ledger.n_trials() == 1
    assert add(other, seed=2) == "T000002"


def test_a_writer_waits_for_the_lock(ledger: TrialLedger) -> None:
    held = threading.Event()

    def hold() -> None:
        with ledger.hold_lock():
            held.set()
            time.sleep(0.3)

    th = threading.Thread(target=hold)
    th.start()
    held.wait(5)
    t0 = time.monotonic()
    tid = add(TrialLedger(ledger.root, lock_timeout_s=10), seed=1)
    waited = time.monotonic() - t0
    th.join()
    assert tid == "T000001" and waited >= 0.2


_WRITER = """
import sys
import numpy as np
from autoperp.metrics.ledger import DataRange, TrialLedger

root, worker = sys.argv[1], int(sys.argv[2])
ledger = TrialLedger(root, lock_timeout_s=60)
ts = 1_704_067_200_000 + np.arange(50, dtype=np.int64) * 3_600_000
for i in range(8):
    r = np.full(50, worker * 0.001 + i * 0.0001)
    ledger.record("evolve", f"w{worker}-{i}", "race", {"w": worker, "i": i},
                  DataRange(("BTC/USDT:USDT",), "1h", int(ts[0]), int(ts[-1]) + 1), ts, r)
"""


def test_concurrent_processes_get_distinct_trials(ledger: TrialLedger) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(_WRITER), str(ledger.root), str(w)], cwd=REPO)
        for w in range(3)
    ]
    assert [p.wait(timeout=180) for p in procs] == [0, 0, 0]
    recs = ledger.records(family="race")
    assert [r.trial_id for r in recs] == [f"T{i:06d}" for i in range(1, 25)]
    assert len({r.name for r in recs}) == 24
    for rec in recs:
        w, i = rec.config["w"], rec.config["i"]
        np.testing.assert_array_equal(ledger.returns(rec.trial_id)[1], np.full(50, w * 0.001 + i * 0.0001))
    assert leftovers(ledger.root) == []


# ---------------------------------------------------------------------- input checks
def _kw(**over: object) -> dict[str, object]:
    ts, r = make_series(30)
    kw: dict[str, object] = {
        "kind": "backtest",
        "name": "n",
        "family": "f",
        "config": {"a": 1},
        "data_range": span(ts),
        "ts": ts,
        "returns": r,
    }
    kw.update(over)
    return kw


_TS = T0 + np.arange(30, dtype=np.int64) * HOUR
_R = np.zeros(30)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"kind": "paper"}, "kind"),
        ({"name": ""}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"family": "  "}, "family"),
        ({"family": 3}, "family"),
        ({"data_range": (T0, T0 + 1)}, "data_range"),
        ({"ts": _TS.astype(np.float64)}, "ts"),
        ({"ts": _TS[::-1].copy()}, "ts"),
        ({"ts": np.where(np.arange(30) == 5, _TS[4], _TS)}, "ts"),
        ({"ts": _TS[:0], "returns": _R[:0]}, "ts"),
        ({"ts": _TS.reshape(5, 6)}, "ts"),
        ({"returns": _R[:29]}, "returns"),
        ({"returns": np.where(np.arange(30) == 7, np.nan, _R)}, "returns"),
        ({"returns": np.where(np.arange(30) == 7, np.inf, _R)}, "returns"),
        ({"returns": np.where(np.arange(30) == 7, -1.5, _R)}, "returns"),
        ({"returns": np.array(["x"] * 30)}, "returns"),
        ({"metrics": {"sharpe": "high"}}, "metrics.sharpe"),
        ({"metrics": {"ok": True}}, "metrics.ok"),
        ({"metrics": [1.0]}, "metrics"),
        ({"kind": "vault"}, "model_id"),
        ({"model_id": ""}, "model_id"),
        ({"notes": None}, "notes"),
    ],
)
def test_bad_input_names_the_field(ledger: TrialLedger, over: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as ei:
        ledger.record(**_kw(**over))  # type: ignore[arg-type]
    assert ei.value.field == field
    assert f"field '{field}'" in str(ei.value)
    assert not ledger.root.exists()  # refused before anything touched the disk


def test_bad_input_says_where(ledger: TrialLedger) -> None:
    with pytest.raises(ValidationError, match=r"index 5 \(1704081600000\) follows 1704081600000"):
        ledger.record(**_kw(ts=np.where(np.arange(30) == 5, _TS[4], _TS)))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"non-finite value \(nan\) at index 7"):
        ledger.record(**_kw(returns=np.where(np.arange(30) == 7, np.nan, _R)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (((), "1h", T0, T0 + 1), "data_range.symbols"),
        ((("BTC/USDT:USDT",), "", T0, T0 + 1), "data_range.timeframe"),
        ((("BTC/USDT:USDT",), "1h", T0, T0), "data_range.end_ms"),
        ((("BTC/USDT:USDT",), "1h", 1.5, T0), "data_range.start_ms"),
    ],
)
def test_bad_data_range(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as ei:
        DataRange(*args)  # type: ignore[arg-type]
    assert ei.value.field == field


def test_data_range_accepts_one_symbol_or_symbol_objects() -> None:
    from autoperp.core.symbols import Symbol

    assert DataRange("BTC/USDT:USDT", "1h", T0, T0 + 1).symbols == ("BTC/USDT:USDT",)
    eth = [Symbol.parse("eth/usdt:usdt")]
    assert DataRange(eth, "1h", T0, T0 + 1).symbols == ("ETH/USDT:USDT",)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- vault
def test_vault_gives_one_look_per_model(ledger: TrialLedger) -> None:
    add(ledger, "fam", "evaluate", seed=1, model_id="m1")
    assert ledger.vault_uses("m1") == []  # evaluating on CV is not a vault use
    first = add(ledger, "fam", "vault", seed=2, model_id="m1")
    assert [r.trial_id for r in ledger.vault_uses("m1")] == [first]
    with pytest.raises(VaultReuseError, match=f"model 'm1' already used the vault in trial {first}"):
        add(TrialLedger(ledger.root), "fam", "vault", seed=3, model_id="m1")
    assert len(ledger.vault_uses("m1")) == 1
    assert ledger.vault_uses("m2") == []
    add(ledger, "fam", "vault", seed=4, model_id="m2")
    assert len(ledger.vault_uses("m2")) == 1
    assert ledger.n_trials("fam") == 1
    assert sorted(os.listdir(ledger.trials_dir)) == [f"T{i:06d}.json" for i in (1, 2, 3)]
