"""simulate_batch runs the same kernel as simulate: every path equals its single run."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.core.errors import ValidationError
from autoperp.sim import SimConfig, SimMarket, bracket_table, simulate
from autoperp.sim.batch import simulate_batch
from tests.sim.markets import funding_frame, market, random_walk

SYMBOLS = ("BTCUSDT", "PAXGUSDT", "DOGEUSDT")  # the last falls back to the default tiers


def _markets() -> list[SimMarket]:
    out = []
    for i, (n, sym) in enumerate(zip((240, 180, 120), SYMBOLS, strict=True)):
        candles = random_walk(n, seed=10 + i, vol=0.02)
        mark = candles.assign(close=candles["close"] * 1.0005) if i == 1 else None
        hours = np.arange(0, n, 4 if sym == "DOGEUSDT" else 8)
        fund = funding_frame(hours, np.random.default_rng(i).normal(0, 3e-4, len(hours)))
        out.append(market(candles, symbol=sym, mark=mark, funding=fund))
    return out


CONFIGS = [
    SimConfig(),
    SimConfig(leverage=10.0, margin_mode="isolated", rebalance_band=0.0),
    SimConfig(leverage=20.0, delay_bars=2, lot_step=0.01, min_notional=50.0, impact_k=0.5),
    SimConfig(
        leverage=5.0, margin_mode="isolated", target_kind="qty", taker_fee=0.0004, liquidation_fee=0.02
    ),
]


@pytest.mark.parametrize("force_close", [True, False])
def test_batch_paths_equal_single_runs(force_close: bool) -> None:
    markets = _markets()
    rng = np.random.default_rng(3)
    n_max = max(len(m) for m in markets)
    targets = np.where(rng.uniform(size=(3, n_max)) < 0.3, rng.uniform(-8, 8, (3, n_max)), np.nan)
    targets[2] = np.where(np.isnan(targets[2]), np.nan, np.round(targets[2]))  # qty-sized row
    paths = [(s, t, c) for s in range(3) for t in range(3) for c in range(len(CONFIGS))]
    series = [p[0] for p in paths]
    configs = [CONFIGS[p[2]] for p in paths]
    batch = simulate_batch(
        markets,
        targets,
        configs,
        [bracket_table(s) for s in SYMBOLS],
        series_index=series,
        target_index=[p[1] for p in paths],
        bracket_index=series,
        record_equity=True,
        force_close=force_close,
    )
    assert batch.equity is not None
    liquidated = 0
    for k, (s, t, c) in enumerate(paths):
        m = markets[s]
        single = simulate(m, targets[t, : len(m)], CONFIGS[c], force_close=force_close)
        row = batch.summary.iloc[k]
        sm = single.summary
        for name in ("final_equity", "fees", "funding_net", "funding_paid", "funding_received", "turnover"):
            assert row[name] == pytest.approx(getattr(sm, name), rel=1e-12, abs=1e-9), (k, name)
        for name in ("fills", "liquidations", "bars", "blown"):
            assert row[name] == getattr(sm, name), (k, name)
        assert row["max_drawdown"] == pytest.approx(sm.max_drawdown, rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(batch.equity[k, : len(m)], single.equity, rtol=1e-12)
        r = single.returns()
        assert row["mean_return"] == pytest.approx(r.mean(), rel=1e-9, abs=1e-15)
        assert row["std_return"] == pytest.approx(r.std(), rel=1e-6, abs=1e-12)
        liquidated += sm.liquidations
    assert liquidated > 0  # the leveraged configurations exercise the liquidation path too


def test_batch_without_recorded_equity_keeps_the_return_moments() -> None:
    markets = _markets()[:1]
    targets = np.sign(np.sin(np.arange(len(markets[0])) / 7.0))
    tables = [bracket_table("BTCUSDT")]
    a = simulate_batch(markets, targets, [SimConfig()], tables, record_equity=False).summary.iloc[0]
    b = simulate_batch(markets, targets, [SimConfig()], tables, record_equity=True).summary.iloc[0]
    for name in ("final_equity", "mean_return", "std_return", "max_drawdown"):
        assert a[name] == pytest.approx(b[name], rel=1e-12), name


def test_batch_refuses_bad_indices() -> None:
    markets = _markets()[:1]
    with pytest.raises(ValidationError, match="series_index: path 1"):
        simulate_batch(
            markets, np.zeros(240), [SimConfig()] * 2, [bracket_table("BTCUSDT")], series_index=[0, 3]
        )
