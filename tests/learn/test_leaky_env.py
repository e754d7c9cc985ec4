"""Reward-hacking test (e): a deliberately leaky env is exploited at once; the real FeatureTable is causal.

The leak: on a market with no edge (the control of ``data.synthetic_edge``), the flow column
``taker_share`` of the feature table is replaced by the return of the *next* decision step. An agent that
sees it makes a fortune out of nothing, which is what a lookahead bug looks like from the outside, and why
the real table must pass the truncation check below: rows ≤ t never change when the data after t is cut.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from autoperp.data.synthetic import generate_series
from autoperp.data.synthetic_edge import generate_control
from autoperp.learn.feature_table import CLIP, FeatureTable, TableSpec, build_feature_table
from autoperp.learn.ppo_config import PPOConfig
from autoperp.sim import build_market
from tests.learn.edge_harness import (
    HELD_OUT_SEEDS,
    SPEC,
    EdgeData,
    edge_data,
    env_config,
    policy_targets,
    sharpe,
    train,
)


def leaky(data: EdgeData, k: int) -> EdgeData:
    """``data`` with flow column ``taker_share`` at bar j = the vol-scaled log return from j's close to
    the close k bars later (what a position decided at j earns): the future, in plain sight."""
    bars = data.table.bars.copy()
    col = data.table.columns.index("taker_share")
    for i, s in enumerate(data.series):
        c = np.log(s.close)
        fut = np.zeros_like(c)
        fut[:-k] = c[k:] - c[:-k]
        scale = np.std(np.diff(c)) * np.sqrt(k)
        bars[i, : len(c), col] = np.clip(fut / scale, -CLIP, CLIP)
    return dataclasses.replace(data, table=dataclasses.replace(data.table, bars=bars))


@pytest.mark.slow
def test_e_agent_exploits_a_leaky_env_at_once() -> None:
    cfg = env_config()
    k = cfg.bars_per_step("1m")
    train_data = leaky(edge_data(range(4), generator=generate_control), k)
    held_out = leaky(edge_data(HELD_OUT_SEEDS, generator=generate_control), k)
    ppo = PPOConfig(total_steps=16_384, n_envs=64, n_steps=32, epochs=4, minibatches=4, gamma=0.5,
                    gae_lambda=0.5, clip_vf=None, lr=1e-3, ent_coef=0.01, seed=0, torch_threads=1,
                    checkpoint_every=0)  # fmt: skip
    t0 = time.process_time()
    policy, _ = train(train_data, cfg, ppo)
    targets, _ = policy_targets(policy, held_out, cfg)
    cpu = time.process_time() - t0
    leak_sharpe = [sharpe(m, t) for m, t in zip(held_out.markets, targets, strict=True)]
    # a market with no edge at all: anything far above 0 after costs is the leak at work
    assert min(leak_sharpe) > 20.0, (leak_sharpe, cpu)


def _table_at(candles, mark, funding, n: int, spec: TableSpec) -> FeatureTable:  # type: ignore[no-untyped-def]
    c, m = candles.iloc[:n], mark.iloc[:n]
    f = funding[funding["ts"] <= int(c["ts"].iloc[-1])]
    market = build_market(c, mark=m, funding=f, symbol="SYN/USDT:USDT", timeframe="1m")
    frame = {"taker_buy_volume": c["taker_buy_volume"].to_numpy(), "trades": c["trades"].to_numpy()}
    return build_feature_table([market], [frame], spec)


@pytest.mark.parametrize("spec", [TableSpec(), SPEC], ids=["default", "short"])
def test_e_real_table_rows_do_not_change_when_the_future_is_cut(spec: TableSpec) -> None:
    # a full synthetic market (mark price, funding every 8 h, order flow): every input the table reads
    s = generate_series(7_000, seed=4)
    candles, mark, funding = s.candles.frame, s.mark.frame, s.funding.frame
    full = _table_at(candles, mark, funding, len(candles), spec)
    rng = np.random.default_rng(0)
    # Cuts from the second settlement on: the table infers the published funding schedule from two
    # settlements, so before that funding_eta reads "none known" in the cut data (not a data leak).
    second = int(np.searchsorted(candles["ts"].to_numpy(), funding["ts"].to_numpy()[1]))
    lo = max(second, full.warmup)
    cuts = [*rng.integers(lo, len(candles) - 1, 5).tolist(), lo, len(candles) - 2]
    for t in cuts:
        part = _table_at(candles, mark, funding, t + 1, spec)
        n = t + 1
        diff = np.flatnonzero(np.any(full.bars[0, :n] != part.bars[0, :n], axis=0))
        assert diff.size == 0, f"cut at {t}: columns {[full.columns[i] for i in diff]} changed"
        assert np.array_equal(full.slow_index[0, :n], part.slow_index[0, :n]), t
        assert np.array_equal(full.funding_eta[0, :n], part.funding_eta[0, :n]), t
        k = int(part.slow_index[0, t])
        if k >= 0:
            assert np.array_equal(full.slow[0, : k + 1], part.slow[0, : k + 1]), t
        assert part.warmup == full.warmup


def test_e_the_leak_is_visible_to_the_truncation_check() -> None:
    # the check above must be able to fail: the leaky table's rows change when the future is cut
    spec = SPEC
    a = edge_data([7], n_bars=3_000, generator=generate_control)
    short = dataclasses.replace(a.series[0], candles=a.series[0].candles.iloc[:2_000])
    b = EdgeData([short], [build_market(short.candles, symbol="SYN/USDT:USDT", timeframe="1m")], a.table)
    b = dataclasses.replace(b, table=build_feature_table(b.markets, [short.flow_frame()], spec))
    la, lb = leaky(a, 15), leaky(b, 15)
    col = a.table.columns.index("taker_share")
    assert not np.array_equal(la.table.bars[0, :2_000, col], lb.table.bars[0, :2_000, col])
    assert np.array_equal(a.table.bars[0, :2_000], b.table.bars[0, :2_000])
