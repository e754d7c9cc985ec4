"""Property tests of the accounting kernel over random markets, strategies and settings (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoperp.sim import SimConfig, SimMarket, SimResult, simulate
from autoperp.sim import layout as L
from autoperp.sim.audit import reconstruct_equity, replay_log
from tests.sim.markets import FREE, config, flat, funding_frame, market, random_walk

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Case:
    market: SimMarket
    targets: np.ndarray
    config: SimConfig
    result: SimResult


def _mark_bars(candles: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    # mark tracks the trade price within a few bp, with its own (consistent) wicks
    n = len(candles)
    m_open = candles["open"].to_numpy() * (1 + rng.normal(0, 3e-4, n))
    m_close = candles["close"].to_numpy() * (1 + rng.normal(0, 3e-4, n))
    wick = rng.uniform(0, 0.01, (2, n))
    return candles.assign(
        open=m_open,
        close=m_close,
        high=np.maximum(m_open, m_close) * (1 + wick[0]),
        low=np.minimum(m_open, m_close) * (1 - wick[1]),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(10, 150))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    candles = random_walk(n, seed, vol=draw(st.sampled_from([0.002, 0.01, 0.04])))
    mark = _mark_bars(candles, rng) if draw(st.booleans()) else None
    every = draw(st.sampled_from([0, 1, 4, 8]))
    fund = None
    if every:
        hours = np.arange(0, n, every)
        fund = funding_frame(hours, rng.normal(0, 5e-4, len(hours)), jitter_ms=int(rng.integers(0, 10)))
    leverage = draw(st.sampled_from([1.0, 3.0, 10.0, 25.0, 50.0]))
    kind = draw(st.sampled_from(["exposure", "qty"]))
    cfg = SimConfig(
        initial_cash=draw(st.sampled_from([1_000.0, 10_000.0])),
        leverage=leverage,
        margin_mode=draw(st.sampled_from(["cross", "isolated"])),
        taker_fee=draw(st.sampled_from([0.0, 0.0005])),
        half_spread=draw(st.sampled_from([0.0, 0.0001])),
        impact_k=draw(st.sampled_from([0.0, 0.1, 2.0])),
        liquidation_fee=draw(st.sampled_from([0.0, 0.001, 0.0125])),
        lot_step=draw(st.sampled_from([0.0, 0.001, 1.0])),
        min_notional=draw(st.sampled_from([0.0, 5.0])),
        delay_bars=draw(st.integers(0, 3)),
        rebalance_band=draw(st.sampled_from([0.0, 0.05])),
        target_kind=kind,
    )
    scale = leverage * 1.3 * (cfg.initial_cash / 100.0 if kind == "qty" else 1.0)
    t = rng.uniform(-scale, scale, n)
    t[rng.uniform(size=n) < draw(st.sampled_from([0.0, 0.5, 0.9]))] = np.nan
    m = market(candles, mark=mark, funding=fund)
    return Case(m, t, cfg, simulate(m, t, cfg, force_close=draw(st.booleans())))


def _per_bar(values: np.ndarray, bars: np.ndarray, n: int, before: float) -> np.ndarray:
    """The value after each bar's last log row (``before`` until the first row)."""
    last = np.searchsorted(bars, np.arange(n), side="right") - 1
    return np.where(last >= 0, values[np.maximum(last, 0)] if len(values) else before, before)


@PROPS
@given(case=cases())
def test_equity_is_reproducible_from_the_trade_log_plus_data(case: Case) -> None:
    res = case.result
    rebuilt = reconstruct_equity(res, case.market)
    np.testing.assert_allclose(rebuilt, res.equity, rtol=1e-9, atol=1e-9 * case.config.initial_cash)
    assert res.equity[-1] == res.summary.final_equity


@PROPS
@given(case=cases())
def test_equity_is_wallet_plus_unrealised_pnl_at_every_bar(case: Case) -> None:
    res, n = case.result, len(case.market)
    log = res.trades
    replay = replay_log(res)
    # the log's own wallet and position columns agree with its cash flows and traded quantities
    np.testing.assert_allclose(replay.wallet, log["wallet"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(replay.position, log["position"], rtol=1e-12, atol=1e-12)
    # every fill realised what its entry price says it should, unless the loss hit the empty wallet
    # (a close past the bankruptcy price, where the insurance fund takes the rest)
    trade = ~np.isnan(replay.fill_pnl) & (log["wallet"].to_numpy() > 1e-9 * case.config.initial_cash)
    np.testing.assert_allclose(log["pnl"].to_numpy()[trade], replay.fill_pnl[trade], rtol=1e-9, atol=1e-9)
    wallet = _per_bar(log["wallet"].to_numpy(), replay.bar, n, case.config.initial_cash)
    position = _per_bar(replay.position, replay.bar, n, 0.0)
    entry = _per_bar(replay.entry, replay.bar, n, 0.0)
    np.testing.assert_array_equal(res.position, position)
    unrealised = position * (case.market.field(L.M_MARK) - entry)
    np.testing.assert_allclose(
        res.equity, wallet + unrealised, rtol=1e-9, atol=1e-9 * case.config.initial_cash
    )
    # the summary's totals are the log's
    assert res.summary.fees == pytest.approx(log["fee"].sum(), rel=1e-9, abs=1e-9)
    assert res.summary.funding_net == pytest.approx(log["funding"].sum(), rel=1e-9, abs=1e-9)
    assert res.summary.liquidations == int((log["kind"] == "liquidation").sum())


@PROPS
@given(case=cases())
def test_margin_ratio_is_below_maintenance_or_the_position_was_liquidated(case: Case) -> None:
    res, m = case.result, case.market
    ratio = res.margin_ratio
    open_ = res.position != 0.0
    assert np.all(ratio[open_] < 1.0)
    assert np.all(ratio[~open_] == 0.0)
    assert np.all(res.equity >= -1e-9 * case.config.initial_cash)  # liquidation comes before bankruptcy
    log = res.trades
    for _, row in log[log["kind"] == "liquidation"].iterrows():
        j, price, closed = int(row["bar"]), float(row["price"]), float(row["qty"])
        if closed < 0:  # a long was closed: the open or the mark low reached the price
            assert min(m.field(L.M_OPEN)[j], m.field(L.M_LIQ_LOW)[j]) <= price
        else:
            assert max(m.field(L.M_OPEN)[j], m.field(L.M_LIQ_HIGH)[j]) >= price
        # the clearance fee never exceeds its rate and never pushes the wallet below zero
        assert row["fee"] <= case.config.liquidation_fee * abs(closed) * price * (1 + 1e-12)
        assert row["wallet"] >= -1e-9 * case.config.initial_cash


@settings(max_examples=40, deadline=None)
@given(
    price=st.floats(0.01, 100_000.0),
    seed=st.integers(0, 2**32 - 1),
    leverage=st.sampled_from([1.0, 5.0, 20.0]),
    mode=st.sampled_from(["cross", "isolated"]),
    kind=st.sampled_from(["exposure", "qty"]),
)
def test_zero_costs_and_one_price_give_back_the_start(
    price: float, seed: int, leverage: float, mode: str, kind: str
) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    scale = leverage * (10_000.0 / price if kind == "qty" else 1.0)
    targets = np.where(rng.uniform(size=n) < 0.7, rng.uniform(-scale, scale, n), np.nan)
    cfg = config(FREE, leverage=leverage, margin_mode=mode, target_kind=kind)
    res = simulate(market(flat(n, price)), targets, cfg)
    assert res.summary.fills > 0
    # every round trip buys and sells at the same price with nothing charged: nothing is won or lost
    np.testing.assert_allclose(res.equity, 10_000.0, rtol=1e-12)
    assert res.summary.final_equity == pytest.approx(10_000.0, rel=1e-12)
    assert res.trades["pnl"].abs().max() <= 1e-9 * 10_000


@settings(max_examples=40, deadline=None)
@given(
    side=st.floats(-3.0, 3.0).filter(lambda x: abs(x) > 0.01),
    every=st.sampled_from([1, 4, 8]),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["cross", "isolated"]),
)
def test_with_no_trades_only_funding_moves_equity(side: float, every: int, seed: int, mode: str) -> None:
    rng = np.random.default_rng(seed)
    n = 48
    hours = np.arange(0, n, every)
    fund = funding_frame(hours, rng.normal(0, 1e-3, len(hours)), mark=rng.uniform(90, 110, len(hours)))
    m = market(flat(n), funding=fund)
    cfg = config(FREE, leverage=3.0, margin_mode=mode)
    res = simulate(m, np.r_[side, np.full(n - 1, np.nan)], cfg, force_close=False)
    log = res.trades
    assert (log["kind"] == "fill").sum() == 1  # the one entry at bar 1, then nothing but funding
    paid = np.zeros(n)
    funding_rows = log[log["kind"] == "funding"]
    np.add.at(paid, funding_rows["bar"].to_numpy(), funding_rows["funding"].to_numpy())
    step = np.diff(np.r_[cfg.initial_cash, res.equity])
    np.testing.assert_allclose(step, -paid, rtol=1e-9, atol=1e-9)
    # every settlement after the entry was charged, on the held position at the settled mark price
    q = res.position[-1]
    charged = m.field(L.M_FUNDING)[2:]
    assert len(funding_rows) == int(np.count_nonzero(~np.isnan(charged)))
    np.testing.assert_allclose(
        funding_rows["funding"], q * funding_rows["price"] * funding_rows["rate"], rtol=1e-12
    )
    # and without a position funding moves nothing at all
    idle = simulate(m, np.full(n, np.nan), cfg)
    assert len(idle.trades) == 0 and np.all(idle.equity == cfg.initial_cash)
