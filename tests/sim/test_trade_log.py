"""The trade log grows while the run goes: the kernel stops before its log is full, the wrapper continues."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from autoperp.sim import SimConfig, bracket_table, simulate
from autoperp.sim import layout as L
from autoperp.sim.audit import reconstruct_equity
from autoperp.sim.batch import simulate_batch
from autoperp.sim.brackets import pack_brackets
from autoperp.sim.config import pack_params
from autoperp.sim.kernel import MAX_EVENTS_PER_BAR, init_state, run_range
from tests.sim.markets import funding_frame, market, random_walk

# the package re-exports the function ``simulate`` under the submodule's name, so fetch the module itself
simulate_module = importlib.import_module("autoperp.sim.simulate")
N = 5_000
CFG = SimConfig(leverage=2.0)


@pytest.fixture(scope="module")
def flipping() -> tuple:
    candles = random_walk(N, seed=1, vol=0.005)
    fund = funding_frame(np.arange(0, N, 8), np.random.default_rng(1).normal(1e-4, 2e-4, len(range(0, N, 8))))
    m = market(candles, funding=fund)
    targets = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)  # long, short, long, ... every bar
    return m, targets, simulate(m, targets, CFG)


def test_a_strategy_flipping_every_bar_logs_every_fill(flipping: tuple) -> None:
    m, _, res = flipping
    log = res.trades
    kinds = log["kind"].value_counts()
    # decisions at bars 0..4 998 fill at bars 1..4 999; the last bar's decision has no next open
    assert kinds["fill"] == N - 1
    assert kinds["force_close"] == 1
    # funding is logged at every settlement from bar 2 on (bar 1's settlement would precede the first fill)
    settle = ~np.isnan(m.field(L.M_FUNDING))
    assert kinds["funding"] == int(settle[2:].sum())
    assert kinds.get("liquidation", 0) == 0
    assert np.all(np.diff(log["bar"].to_numpy()) >= 0)
    assert log.groupby("bar").size().max() <= MAX_EVENTS_PER_BAR
    fills = log[log["kind"] == "fill"]
    assert list(fills["bar"]) == list(range(1, N))
    # each fill after the first is a reversal of the whole position
    assert np.all(np.sign(fills["position"].to_numpy()[1:]) == -np.sign(fills["position"].to_numpy()[:-1]))
    assert res.summary.fills == N  # 4 999 fills and the force-close
    assert log["fee"].sum() == pytest.approx(res.summary.fees, rel=1e-12)
    assert log["funding"].sum() == pytest.approx(res.summary.funding_net, rel=1e-9, abs=1e-9)


def test_the_grown_log_reproduces_the_equity_curve(flipping: tuple) -> None:
    m, _, res = flipping
    np.testing.assert_allclose(reconstruct_equity(res, m), res.equity, rtol=1e-9)


def test_growing_the_log_changes_nothing(flipping: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    m, targets, grown = flipping
    monkeypatch.setattr(simulate_module, "_initial_log_rows", lambda n, settlements: 4 * n + settlements)
    roomy = simulate(m, targets, CFG)
    np.testing.assert_array_equal(roomy.equity, grown.equity)
    np.testing.assert_array_equal(roomy.position, grown.position)
    pd.testing.assert_frame_equal(roomy.trades, grown.trades)
    assert roomy.summary == grown.summary
    batch = simulate_batch([m], targets, [CFG], [bracket_table("BTCUSDT")]).summary.iloc[0]
    assert batch["final_equity"] == pytest.approx(grown.summary.final_equity, rel=1e-12)
    assert batch["fills"] == grown.summary.fills


def test_kernel_stops_before_the_log_overflows_and_resumes_where_it_stopped(flipping: tuple) -> None:
    m, targets, whole = flipping
    params = pack_params(CFG, bracket_table("BTCUSDT"))
    brackets = pack_brackets(bracket_table("BTCUSDT"))
    state = np.empty(L.N_STATE)
    init_state(state, params)
    pending = np.full(1, np.nan)
    equity = np.empty(N)
    position = np.empty(N)
    cap = 40
    j, rows = 0, 0
    calls = 0
    while j < N:
        ev_i = np.empty((cap, L.N_EVENT_INT), dtype=np.int64)
        ev_f = np.empty((cap, L.N_EVENT_FLOAT))
        ev_n = np.zeros(1, dtype=np.int64)
        nxt = run_range(state, pending, m.data, m.ts, targets, params, brackets, j, N, N - 1,
                        equity, position, ev_i, ev_f, ev_n)  # fmt: skip
        assert ev_n[0] <= cap  # nothing was written past the end
        if nxt < N:
            assert ev_n[0] + MAX_EVENTS_PER_BAR > cap  # it stopped only because the next bar might not fit
        assert nxt > j
        rows += int(ev_n[0])
        j = nxt
        calls += 1
    assert calls > N // cap  # the small log forced many stops
    assert rows == len(whole.trades)
    np.testing.assert_array_equal(equity, whole.equity)
    assert state[L.S_LAST_EQUITY] == whole.summary.final_equity
