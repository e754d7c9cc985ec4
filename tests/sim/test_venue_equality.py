"""The issue's test: given the same target positions, the venue books what the batch kernel books.

Targets become market orders at each bar's close; the venue then fills them at the next open through
the same accounting primitives, so fills, funding, liquidations and per-bar equity match ``simulate``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest

from autoperp.core.types import MarginBracket, Order, OrderType, Side
from autoperp.data.synthetic import generate_series
from autoperp.sim import SimConfig, SimMarket, SimResult, build_market, simulate
from autoperp.sim import layout as L
from autoperp.sim.venue import SimVenue
from autoperp.sim.venue_orders import VenueBar, VenueConfig

SYM = "SYN/USDT:USDT"
N = 4_000
# one open-ended tier, so high-exposure paths reach their liquidation price within a few thousand bars
BRACKETS = (MarginBracket(0.0, 1e12, 125.0, 0.005, 0.0),)
UNCAPPED = VenueConfig(participation=None)
COLUMNS = ["bar", "ts", "qty", "price", "fee", "pnl", "funding", "rate", "position", "wallet"]


@cache
def synthetic_market(seed: int) -> SimMarket:
    s = generate_series(N, symbol=SYM, seed=seed)
    return build_market(
        s.candles.frame, mark=s.mark.frame, funding=s.funding.frame, symbol=SYM, timeframe="1m"
    )


def random_targets(n: int, seed: int, scale: float, changes: int = 150) -> np.ndarray:
    """NaN (hold) except at ``changes`` random bars, where a target in ±scale is decided."""
    rng = np.random.default_rng(seed)
    t = np.full(n, np.nan)
    idx = rng.choice(n, changes, replace=False)
    t[idx] = rng.uniform(-scale, scale, changes)
    t[idx[: changes // 10]] = 0.0  # some closes
    return t


def divergence_bar(kernel: SimResult) -> int:
    """First bar where the open gapped through the liquidation price with an order pending (the kernel
    still fills its target there; the venue's liquidation cancels the order, by design), else n."""
    log = kernel.trades
    kinds, bars = list(log["kind"]), list(log["bar"])
    for i in range(len(kinds) - 1):
        if kinds[i] == "liquidation" and kinds[i + 1] == "fill" and bars[i] == bars[i + 1]:
            return int(bars[i])
    return len(kernel.equity)


def assert_same_books(kernel: SimResult, venue: SimResult) -> None:
    stop = divergence_bar(kernel)
    assert stop > len(kernel.equity) // 2, "too little history before the designed divergence to compare"
    a, b = kernel.trades, venue.trades
    a, b = a[a["bar"] < stop], b[b["bar"] < stop]
    assert list(a["kind"]) == list(b["kind"])
    for col in COLUMNS:
        x, y = a[col].to_numpy(np.float64), b[col].to_numpy(np.float64)
        np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(venue.equity[:stop], kernel.equity[:stop], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(venue.position[:stop], kernel.position[:stop], rtol=1e-9, atol=1e-12)
    if stop < len(kernel.equity):
        return
    ks, vs = kernel.summary, venue.summary
    assert (vs.fills, vs.liquidations, vs.bars, vs.blown) == (ks.fills, ks.liquidations, ks.bars, ks.blown)
    for name in (
        "final_equity",
        "fees",
        "funding_net",
        "funding_paid",
        "funding_received",
        "turnover",
        "max_drawdown",
    ):
        assert getattr(vs, name) == pytest.approx(getattr(ks, name), rel=1e-9, abs=1e-9), name


def by_target(targets: np.ndarray) -> object:
    """The strategy callback: at each close, the market order that moves the book to the target."""

    def on_close(venue: SimVenue, j: int) -> None:
        order = venue.order_for_target(float(targets[j]))
        if order is not None:
            venue.submit(order)

    return on_close


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["cross", "isolated"])
@pytest.mark.parametrize(("kind", "scale"), [("exposure", 30.0), ("qty", 3_000.0)])
def test_venue_fills_equal_the_kernel_for_the_same_targets(
    seed: int, mode: str, kind: str, scale: float
) -> None:
    market = synthetic_market(seed)
    cfg = SimConfig(leverage=40.0, margin_mode=mode, target_kind=kind)  # type: ignore[arg-type]
    targets = random_targets(N, seed + 10, scale)
    kernel = simulate(market, targets, cfg, BRACKETS)
    venue = SimVenue(BRACKETS, cfg, SYM, UNCAPPED)
    result = venue.run(market, by_target(targets))  # type: ignore[arg-type]
    assert kernel.summary.fills > 50 and market.n_settlements > 0
    assert_same_books(kernel, result)
    # the venue's own fill records carry the same money as its log
    log = result.trades
    fills = log[log["kind"] == "fill"]
    mine = [f for f in venue.fills if f.order_id not in ("liquidation", "force_close")]
    assert [f.price for f in mine] == list(fills["price"])
    assert [f.fee for f in mine] == list(fills["fee"])
    assert [f.ts for f in mine] == list(fills["ts"])


def test_equality_covers_liquidations_and_funding() -> None:
    # isolated margin at up to 40x: several liquidations, the account survives them
    market = synthetic_market(3)
    cfg = SimConfig(leverage=50.0, margin_mode="isolated", target_kind="exposure")  # type: ignore[arg-type]
    targets = random_targets(N, 7, 45.0, changes=300)
    kernel = simulate(market, targets, cfg, BRACKETS)
    result = SimVenue(BRACKETS, cfg, SYM, UNCAPPED).run(market, by_target(targets))  # type: ignore[arg-type]
    assert kernel.summary.liquidations >= 2 and not kernel.summary.blown
    assert int((kernel.trades["kind"] == "funding").sum()) >= 3
    assert_same_books(kernel, result)


def test_literal_orders_of_target_minus_position_match_the_kernel() -> None:
    # the wording: each target change becomes MARKET(target_qty − position) at bar t's close
    market = synthetic_market(4)
    cfg = SimConfig(leverage=20.0, target_kind="qty")  # type: ignore[arg-type]
    targets = random_targets(N, 11, 500.0)  # ≤ 5x exposure at the start price of 100: never clipped
    kernel = simulate(market, targets, cfg, BRACKETS)
    venue = SimVenue(BRACKETS, cfg, SYM, UNCAPPED)

    def on_close(v: SimVenue, j: int) -> None:
        t = targets[j]
        if not math.isnan(t) and t != v.position:
            dq = t - v.position
            v.submit(Order(f"t{j}", v.symbol, Side.BUY if dq > 0 else Side.SELL, abs(dq), OrderType.MARKET))

    result = venue.run(market, on_close)
    assert all(o.status == "filled" for o in venue.orders)
    assert_same_books(kernel, result)


def test_process_bar_feed_matches_the_replay_and_the_kernel() -> None:
    # a live-style feed: bars one by one, σ left to the venue's own EWMA (the kernel's causal_sigma)
    market = synthetic_market(5)
    cfg = SimConfig(leverage=10.0, target_kind="exposure")  # type: ignore[arg-type]
    targets = random_targets(N, 12, 8.0)
    kernel = simulate(market, targets, cfg, BRACKETS, force_close=False)
    venue = SimVenue(BRACKETS, cfg, SYM, UNCAPPED)
    d = market.data
    for j in range(N):
        venue.process_bar(
            VenueBar(
                int(market.ts[j]), *(float(d[k, j]) for k in (L.M_OPEN, L.M_HIGH, L.M_LOW, L.M_CLOSE, L.M_VOLUME)),
                mark=float(d[L.M_MARK, j]), mark_low=float(d[L.M_LIQ_LOW, j]), mark_high=float(d[L.M_LIQ_HIGH, j]),
                funding_rate=float(d[L.M_FUNDING, j]), settle_price=float(d[L.M_SETTLE_PRICE, j]),
            )
        )  # fmt: skip
        by_target(targets)(venue, j)  # type: ignore[operator]
    assert_same_books(kernel, venue.result())


def test_trade_log_has_the_kernel_format() -> None:
    market = synthetic_market(0)
    cfg = SimConfig(leverage=5.0, margin_mode="isolated")  # type: ignore[arg-type]
    targets = random_targets(N, 3, 3.0)
    kernel = simulate(market, targets, cfg, BRACKETS)
    venue = SimVenue(BRACKETS, cfg, SYM, UNCAPPED)
    result = venue.run(market, by_target(targets))  # type: ignore[arg-type]
    assert list(result.trades.columns) == list(kernel.trades.columns)
    assert result.trades.dtypes.equals(kernel.trades.dtypes)
    pd.testing.assert_frame_equal(venue.trades, result.trades)
    np.testing.assert_allclose(result.margin_ratio, kernel.margin_ratio, rtol=1e-9)
