"""ObservationGather: windows equal a brute-force reference, nothing after the bar is read, bad rows raise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.core.errors import ValidationError
from autoperp.data.synthetic import generate_series
from autoperp.learn.feature_table import FeatureTable, TableSpec, build_feature_table
from autoperp.learn.gather import ObservationGather
from autoperp.sim import build_market

SPEC = TableSpec(fast_window=8, slow_window=3, vol_windows=(5, 10, 20), norm_window=10, volume_window=20,
                 funding_z_window=50, obs_window=4)  # fmt: skip
TINY: dict[str, Any] = {
    "d_model": 16, "n_heads": 2, "h_layers": 1, "l_layers": 1, "n_cycles": 1, "t_steps": 2,
    "fast_window": 8, "slow_window": 3, "modalities": ("fast", "slow", "flow", "alt", "account"),
}  # fmt: skip
FLOW_COLS = ("taker_buy_volume", "trades")


def _series(n: int, seed: int) -> tuple[Any, dict[str, np.ndarray]]:
    s = generate_series(n, seed=seed)
    market = build_market(s.candles.frame, funding=s.funding.frame, mark=s.mark.frame,
                          symbol="BTC/USDT:USDT", timeframe="1m")  # fmt: skip
    return market, {c: s.candles.frame[c].to_numpy(np.float64) for c in FLOW_COLS}


@pytest.fixture(scope="module")
def parts() -> list[tuple[Any, dict[str, np.ndarray]]]:
    # Two series of different lengths, so the padded rows of the shorter one exist.
    return [_series(900, 1), _series(700, 2)]


@pytest.fixture(scope="module")
def table(parts: list[tuple[Any, dict[str, np.ndarray]]]) -> FeatureTable:
    return build_feature_table([m for m, _ in parts], [f for _, f in parts], SPEC)


def _queries(table: FeatureTable, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    series = rng.integers(0, table.n_series, n)
    bars = np.array([rng.integers(table.warmup, table.n_bars[s]) for s in series])
    bars[:2] = [table.warmup, table.n_bars[series[1]] - 1]  # both ends of the usable range
    account = rng.standard_normal((n, 4)).astype(np.float32)
    return series, bars, account


def _reference(table: FeatureTable, cfg: PolicyConfig, s: int, b: int) -> dict[str, np.ndarray]:
    g = table.groups
    k = int(table.slow_index[s, b])
    return {
        "fast": table.bars[s, b - cfg.fast_window + 1 : b + 1][:, list(g["price"])],
        "slow": table.slow[s, k - cfg.slow_window + 1 : k + 1],
        "regime": table.bars[s, b, list(g["regime"])],
        "flow": table.bars[s, b, list(g["flow"])],
        "alt": table.bars[s, b, list(g["alt"])],
    }


def test_gather_equals_brute_force(table: FeatureTable) -> None:
    assert table.has_flow
    cfg = PolicyConfig(**TINY)
    series, bars, account = _queries(table, 64)
    obs = ObservationGather(table, cfg)(series, bars, account)
    assert obs.batch == 64 and obs.presence == {}
    for i, (s, b) in enumerate(zip(series, bars, strict=True)):
        ref = _reference(table, cfg, int(s), int(b))
        for name, want in ref.items():
            got = getattr(obs, name)[i].numpy()
            assert got.shape == want.shape, name
            np.testing.assert_array_equal(got, want, err_msg=f"{name} row {i}")
    assert obs.account is not None
    np.testing.assert_array_equal(obs.account.numpy(), account)
    # Modalities not switched on are not gathered.
    assert obs.day is None and obs.chart is None and obs.sentiment is None


def test_gather_is_causal(table: FeatureTable) -> None:
    cfg = PolicyConfig(**TINY)
    series, bars, account = _queries(table, 6, seed=3)
    before = ObservationGather(table, cfg)(series, bars, account)
    for i, (s, b) in enumerate(zip(series, bars, strict=True)):
        k = int(table.slow_index[s, b])
        future = replace(
            table,
            bars=table.bars.copy(),
            slow=table.slow.copy(),
            slow_index=table.slow_index.copy(),
        )
        future.bars[s, b + 1 :] = np.nan
        future.slow[s, k + 1 :] = np.nan
        future.slow_index[s, b + 1 :] = table.slow.shape[1] - 1  # a later hourly row, if it were read
        after = ObservationGather(future, cfg)(series[i : i + 1], bars[i : i + 1], account[i : i + 1])
        for name in ("fast", "slow", "regime", "flow", "alt"):
            got, want = getattr(after, name)[0], getattr(before, name)[i]
            assert torch.isfinite(got).all(), f"{name} read a row after bar {b}"
            assert torch.equal(got, want), name


def test_torch_and_numpy_inputs_agree_and_policy_runs(table: FeatureTable) -> None:
    cfg = PolicyConfig(**TINY)
    gather = ObservationGather(table, cfg)
    series, bars, account = _queries(table, 5)
    a = gather(series, bars, account)
    b = gather(torch.from_numpy(series), torch.from_numpy(bars), torch.from_numpy(account))
    assert a.fast is not None and b.fast is not None and torch.equal(a.fast, b.fast)
    out = Policy(cfg).eval()(b)
    assert out.value.shape == (5,) and torch.isfinite(out.value).all()


def test_table_without_flow_leaves_flow_absent(parts: list[tuple[Any, dict[str, np.ndarray]]]) -> None:
    table = build_feature_table([m for m, _ in parts], [{} for _ in parts], SPEC)
    assert not table.has_flow
    obs = ObservationGather(table, PolicyConfig(**TINY))(*_queries(table, 4))
    assert obs.flow is None and not bool(obs.present("flow").any())


def test_short_hourly_history_marks_slow_absent(table: FeatureTable) -> None:
    cfg = PolicyConfig(**{**TINY, "slow_window": 6})
    k = table.slow_index[0]
    early = int(np.flatnonzero(k >= 0)[0])  # has an hourly bar, but fewer than 6
    late = int(table.n_bars[0] - 1)
    assert k[early] < 5 <= k[late]
    obs = ObservationGather(table, cfg)(
        np.array([0, 0]), np.array([early, late]), np.zeros((2, 4), np.float32)
    )
    assert obs.present("slow").tolist() == [False, True]
    assert obs.slow is not None and torch.isfinite(obs.slow).all()


def test_out_of_range_rows_raise(table: FeatureTable) -> None:
    gather = ObservationGather(table, PolicyConfig(**TINY))
    acc = np.zeros((2, 4), np.float32)
    with pytest.raises(ValidationError, match="row 1: bar 3 "):
        gather(np.array([0, 0]), np.array([100, 3]), acc)
    n1 = int(table.n_bars[1])
    with pytest.raises(ValidationError, match=f"row 0: bar {n1} of series 1"):
        gather(np.array([1, 0]), np.array([n1, 100]), acc)  # padding of the shorter series
    with pytest.raises(ValidationError, match="row 1: series 2"):
        gather(np.array([0, 2]), np.array([100, 100]), acc)
    with pytest.raises(ValidationError, match="account"):
        gather(np.array([0, 0]), np.array([100, 100]), np.zeros((2, 3), np.float32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu(table: FeatureTable) -> None:
    cfg = PolicyConfig(**TINY)
    series, bars, account = _queries(table, 32)
    cpu = ObservationGather(table, cfg)(series, bars, account)
    gpu = ObservationGather(table, cfg, "cuda")(series, bars, account)
    assert gpu.fast is not None and gpu.fast.is_cuda
    for name in ("fast", "slow", "regime", "flow", "alt", "account"):
        assert torch.equal(getattr(gpu, name).cpu(), getattr(cpu, name)), name
