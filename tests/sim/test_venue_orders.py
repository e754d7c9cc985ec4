"""The event-driven venue's matching: every order type, partial fills, reduce-only, post-only, cancel."""

from __future__ import annotations

import math

import pytest

from autoperp.core.errors import UsageError, ValidationError
from autoperp.core.symbols import Symbol
from autoperp.core.types import MarginBracket, Order, OrderType, Side
from autoperp.sim.venue import SimVenue
from autoperp.sim.venue_orders import OrderStatus, VenueBar, VenueConfig
from tests.sim.markets import HOUR, T0, config

SYM = Symbol.parse("BTC/USDT:USDT")
TAKER = 0.0005
MAKER = 0.0002
# fees but no spread or impact, so every fill price is one the test wrote down
CFG = config(taker_fee=TAKER, maker_fee=MAKER, initial_cash=100_000.0, leverage=10.0)
# one open-ended tier (0.5 % maintenance): liquidation prices the tests can work out by hand
BRACKETS = (MarginBracket(0.0, 1e12, 125.0, 0.005, 0.0),)


def venue(cfg: object = CFG, participation: float | None = None) -> SimVenue:
    return SimVenue(BRACKETS, cfg, SYM, VenueConfig(participation=participation))  # type: ignore[arg-type]


def feed(v: SimVenue, o: float, h: float | None = None, lo: float | None = None, c: float | None = None,
         volume: float = 1e6, **kw: float) -> None:  # fmt: skip
    """Process the next bar (hourly); missing high/low/close default to a flat bar at the open."""
    c = o if c is None else c
    h = max(o, c) if h is None else h
    lo = min(o, c) if lo is None else lo
    v.process_bar(VenueBar(T0 + HOUR * (v.bar + 1), o, h, lo, c, volume, **kw))


def order(side: Side, qty: float, type_: OrderType = OrderType.MARKET, **kw: object) -> Order:
    return Order("", SYM, side, qty, type_, **kw)  # type: ignore[arg-type]


def fills_of(v: SimVenue, oid: str) -> list[tuple[float, float, float]]:
    return [(f.qty, f.price, f.fee) for f in v.fills if f.order_id == oid]


def test_market_order_fills_at_the_next_open_as_taker_never_at_prices_already_seen() -> None:
    v = venue()
    feed(v, 100.0, 110.0, 90.0, 105.0)
    oid = v.submit(order(Side.BUY, 2.0))
    assert v.fills == [] and v.order(oid).eligible_from == 1
    feed(v, 107.0, 108.0, 106.0, 107.5)
    assert fills_of(v, oid) == [(2.0, 107.0, pytest.approx(2.0 * 107.0 * TAKER))]
    assert v.position == 2.0 and v.order(oid).status is OrderStatus.FILLED
    log = v.trades
    assert list(log["kind"]) == ["fill"] and int(log["bar"].iloc[0]) == 1
    assert v.equity() == pytest.approx(100_000.0 - 2 * 107 * TAKER + 2 * 0.5)


def test_market_fill_price_carries_spread_and_impact() -> None:
    v = venue(config(CFG, half_spread=0.001, impact_k=0.0))
    feed(v, 100.0)
    oid = v.submit(order(Side.SELL, 1.0))
    feed(v, 200.0)
    assert fills_of(v, oid)[0][1] == pytest.approx(200.0 * (1 - 0.001), rel=1e-15)


def test_delay_bars_push_eligibility_back() -> None:
    v = venue(config(CFG, delay_bars=2))
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0))
    feed(v, 101.0)
    feed(v, 102.0)
    assert v.fills == []
    feed(v, 103.0)
    assert fills_of(v, oid)[0][1] == 103.0


def test_resting_limit_fills_at_its_price_as_maker_only_when_traded_through() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 3.0, OrderType.LIMIT, price=95.0))
    feed(v, 100.0, 101.0, 95.0, 99.0)  # low touches 95: the queue ahead may not have traded
    assert v.fills == [] and v.order(oid).status is OrderStatus.WORKING
    feed(v, 99.0, 99.5, 94.0, 96.0)  # trades through
    assert fills_of(v, oid) == [(3.0, 95.0, pytest.approx(3.0 * 95.0 * MAKER, rel=1e-15))]
    assert v.trades["fee"].iloc[0] == pytest.approx(3 * 95 * MAKER, rel=1e-15)
    assert v.position == 3.0 and v.entry_price == 95.0
    pos = v.position_record()
    assert (pos.symbol, pos.qty, pos.entry_price) == (SYM, 3.0, 95.0)


def test_sell_limit_at_the_touch_does_not_fill_through_does() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=105.0))
    feed(v, 100.0, 105.0, 99.0, 104.0)
    assert v.fills == []
    feed(v, 104.0, 105.5, 103.0, 105.0)
    assert fills_of(v, oid) == [(1.0, 105.0, pytest.approx(105.0 * MAKER))]
    assert v.position == -1.0


def test_resting_limit_gapped_through_at_a_later_open_fills_at_its_limit() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=98.0))
    feed(v, 100.0, 100.5, 99.0, 99.5)  # arrives and rests
    feed(v, 96.0, 97.0, 95.0, 96.5)  # opens below the bid
    assert fills_of(v, oid) == [(1.0, 98.0, pytest.approx(98.0 * MAKER))]


def test_limit_that_crosses_on_arrival_takes_at_the_open_as_taker() -> None:
    v = venue(config(CFG, half_spread=0.001))
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=103.0))
    feed(v, 101.0, 102.0, 100.0, 101.0)
    px = 101.0 * 1.001  # the open's market price beats the limit: the better price, taker fee
    assert fills_of(v, oid) == [(1.0, pytest.approx(px, rel=1e-15), pytest.approx(px * TAKER, rel=1e-12))]


def test_crossing_limit_never_fills_worse_than_its_limit() -> None:
    v = venue(config(CFG, half_spread=0.01))
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=101.5))
    feed(v, 100.0, 100.0, 99.0, 99.5)  # 101.5 ≥ the ask 100 · 1.01: it crosses, and 101 ≤ the limit
    assert fills_of(v, oid)[0][1] == pytest.approx(101.0, rel=1e-15)
    v2 = venue(config(CFG, half_spread=0.01, impact_k=1.0))
    feed(v2, 100.0)
    oid2 = v2.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=101.5))
    # on a thin bar the (capped) impact takes the market price to 100 · 1.02 = 102, past the limit
    feed(v2, 100.0, 100.0, 99.0, 99.5, volume=1.0, sigma=0.05)
    assert fills_of(v2, oid2)[0][1] == 101.5


def test_post_only_is_rejected_when_it_would_cross_at_submission() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=100.0, post_only=True))
    rec = v.order(oid)
    assert rec.status is OrderStatus.REJECTED and "post-only" in rec.reason
    assert v.working_orders == []
    feed(v, 99.0, 100.0, 98.0, 99.0)
    assert v.fills == []


def test_post_only_is_rejected_on_arrival_when_the_open_moved_through_it() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=101.0, post_only=True))
    assert v.order(oid).status is OrderStatus.WORKING
    feed(v, 102.0, 103.0, 101.5, 102.0)
    rec = v.order(oid)
    assert rec.status is OrderStatus.REJECTED and "at the open" in rec.reason and v.fills == []


def test_post_only_that_rests_fills_as_maker() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=101.0, post_only=True))
    feed(v, 100.0, 102.0, 99.0, 100.0)
    assert fills_of(v, oid) == [(1.0, 101.0, pytest.approx(101.0 * MAKER))]


def test_buy_stop_triggers_at_the_touch_and_fills_off_the_stop_with_slippage() -> None:
    v = venue(config(CFG, half_spread=0.001))
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0, OrderType.STOP, stop_price=102.0))
    feed(v, 100.0, 101.9, 99.0, 101.0)
    assert v.fills == []
    feed(v, 101.0, 102.0, 100.5, 101.5)
    px = 102.0 * 1.001
    assert fills_of(v, oid) == [(1.0, pytest.approx(px, rel=1e-15), pytest.approx(px * TAKER, rel=1e-12))]


def test_stop_gapped_at_the_open_fills_off_the_open() -> None:
    v = venue(config(CFG, half_spread=0.001))
    feed(v, 100.0)
    v.submit(order(Side.BUY, 1.0))
    sl = v.submit(order(Side.SELL, 1.0, OrderType.STOP, stop_price=95.0, reduce_only=True))
    feed(v, 100.0)
    assert v.position == 1.0
    feed(
        v, 90.0, 91.0, 89.0, 90.0
    )  # the open is already below the stop: max(stop, open) for a sell is the open
    assert fills_of(v, sl)[0][1] == pytest.approx(90.0 * 0.999, rel=1e-15)
    assert v.position == 0.0 and v.order(sl).status is OrderStatus.FILLED


def test_reduce_only_is_cut_to_the_position_and_never_flips() -> None:
    v = venue()
    feed(v, 100.0)
    v.submit(order(Side.BUY, 2.0))
    feed(v, 100.0)
    ro = v.submit(order(Side.SELL, 5.0, reduce_only=True))
    feed(v, 101.0)
    assert fills_of(v, ro) == [(2.0, 101.0, pytest.approx(2.0 * 101.0 * TAKER))]
    assert v.position == 0.0
    feed(v, 101.0)
    rec = v.order(ro)
    assert rec.status is OrderStatus.CANCELED and "reduce-only" in rec.reason
    assert rec.filled == 2.0 and v.position == 0.0


def test_reduce_only_on_the_same_side_or_flat_is_canceled_without_a_fill() -> None:
    v = venue()
    feed(v, 100.0)
    flat_ro = v.submit(order(Side.SELL, 1.0, reduce_only=True))
    feed(v, 100.0)
    assert v.order(flat_ro).status is OrderStatus.CANCELED and v.fills == []
    v.submit(order(Side.BUY, 1.0))
    feed(v, 100.0)
    same = v.submit(order(Side.BUY, 1.0, reduce_only=True))
    feed(v, 100.0)
    assert v.order(same).status is OrderStatus.CANCELED and v.position == 1.0


def test_participation_splits_a_market_order_across_bars() -> None:
    v = venue(participation=0.1)
    feed(v, 100.0, volume=100.0)
    oid = v.submit(order(Side.BUY, 25.0))
    for price in (100.0, 101.0, 102.0, 103.0):
        feed(v, price, volume=100.0)
    assert fills_of(v, oid) == [(10.0, 100.0, pytest.approx(1000 * TAKER)), (10.0, 101.0, pytest.approx(1010 * TAKER)),
                                (5.0, 102.0, pytest.approx(510 * TAKER))]  # fmt: skip
    rec = v.order(oid)
    assert rec.status is OrderStatus.FILLED and rec.fill_bars == [1, 2, 3]
    assert rec.avg_price == pytest.approx((1000 + 1010 + 510) / 25)
    assert v.position == 25.0


def test_participation_respects_the_lot_step_and_partial_limit_keeps_resting() -> None:
    v = venue(config(CFG, lot_step=0.5), participation=0.1)
    feed(v, 100.0, volume=12.0)
    oid = v.submit(order(Side.BUY, 2.0, OrderType.LIMIT, price=99.0))
    feed(v, 100.0, 100.0, 98.0, 99.5, volume=12.0)  # cap 1.2 → 1.0 lot-rounded
    assert fills_of(v, oid) == [(1.0, 99.0, pytest.approx(99.0 * MAKER))]
    assert v.order(oid).status is OrderStatus.WORKING and v.order(oid).left == 1.0
    feed(v, 99.5, 100.0, 99.2, 99.8, volume=12.0)  # not through the limit: no fill
    assert len(fills_of(v, oid)) == 1
    feed(v, 99.5, 99.6, 98.5, 99.0, volume=12.0)
    assert [f[0] for f in fills_of(v, oid)] == [1.0, 1.0] and v.order(oid).status is OrderStatus.FILLED


def test_zero_volume_bar_fills_nothing_under_a_participation_cap() -> None:
    v = venue(participation=0.5)
    feed(v, 100.0, volume=10.0)
    oid = v.submit(order(Side.BUY, 1.0))
    feed(v, 100.0, volume=0.0)
    assert v.fills == []
    feed(v, 101.0, volume=10.0)
    assert fills_of(v, oid)[0][:2] == (1.0, 101.0)


def test_cancel_stops_a_working_order() -> None:
    v = venue()
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=95.0))
    feed(v, 100.0)
    assert v.cancel(oid) is True
    feed(v, 96.0, 97.0, 90.0, 91.0)
    assert v.fills == [] and v.order(oid).status is OrderStatus.CANCELED
    assert v.cancel(oid) is False
    with pytest.raises(UsageError, match="unknown order id"):
        v.cancel("nope")


def test_pessimistic_path_hits_the_stop_loss_before_the_take_profit() -> None:
    v = venue()
    feed(v, 100.0)
    v.submit(order(Side.BUY, 1.0))
    feed(v, 100.0)
    tp = v.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=104.0, reduce_only=True))
    sl = v.submit(order(Side.SELL, 1.0, OrderType.STOP, stop_price=97.0, reduce_only=True))
    feed(v, 100.0, 105.0, 96.0, 101.0)  # both levels inside the bar: the long's adverse extreme comes first
    assert fills_of(v, sl)[0][1] == 97.0 and fills_of(v, tp) == []
    assert v.order(tp).status is OrderStatus.CANCELED and v.position == 0.0


def test_flat_account_takes_the_nearer_extreme_first() -> None:
    v = venue()
    feed(v, 100.0)
    buy = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=99.0))
    sell = v.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=103.0))
    feed(v, 100.0, 104.0, 98.0, 100.0)  # the low is nearer: buy at 99 first, then sell at 103 flattens
    log = v.trades
    assert list(log["price"]) == [99.0, 103.0] and list(log["qty"]) == [1.0, -1.0]
    assert v.order(buy).status is v.order(sell).status is OrderStatus.FILLED and v.position == 0.0


def test_liquidation_comes_before_a_stop_placed_beyond_it() -> None:
    cfg = config(CFG, leverage=50.0, liquidation_fee=0.0)
    v = venue(cfg)
    feed(v, 100.0)
    v.submit(order(Side.BUY, 40_000.0))  # 4 M notional on 100 k: liquidated about 2.5 % down
    feed(v, 100.0)
    lp = v.liquidation_price
    assert 95.0 < lp < 100.0
    sl = v.submit(order(Side.SELL, 40_000.0, OrderType.STOP, stop_price=95.0, reduce_only=True))
    feed(v, 100.0, 100.5, 90.0, 92.0)
    assert list(v.trades["kind"]) == ["fill", "liquidation"]
    assert v.trades["price"].iloc[1] == lp and fills_of(v, sl) == []
    assert v.order(sl).status is OrderStatus.CANCELED and v.fills[-1].liquidation
    assert v.order(sl).reason == "canceled by the liquidation"


def test_stop_loss_inside_the_liquidation_price_saves_the_account() -> None:
    cfg = config(CFG, leverage=50.0)
    v = venue(cfg)
    feed(v, 100.0)
    v.submit(order(Side.BUY, 40_000.0))
    feed(v, 100.0)
    sl = v.submit(order(Side.SELL, 40_000.0, OrderType.STOP, stop_price=99.0, reduce_only=True))
    feed(v, 100.0, 100.5, 90.0, 92.0)
    assert list(v.trades["kind"]) == ["fill", "fill"] and fills_of(v, sl)[0][1] == 99.0
    assert v.summary().liquidations == 0 and v.equity() > 50_000.0


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"qty": 200.0}, "insufficient margin"),  # 200 · 100 = 20 000 USDT > 10 × 1 000
        ({"qty": 0.25, "lot": 0.1}, "lot step"),
        ({"qty": 0.01, "min_notional": 5.0}, "min notional"),
    ],
)
def test_refusals_come_back_rejected_with_a_reason(kw: dict[str, float], reason: str) -> None:
    cfg = config(
        CFG, initial_cash=1_000.0, lot_step=kw.get("lot", 0.0), min_notional=kw.get("min_notional", 0.0)
    )
    v = venue(cfg)
    feed(v, 100.0)
    oid = v.submit(order(Side.BUY, kw["qty"]))
    rec = v.order(oid)
    assert rec.status is OrderStatus.REJECTED and reason in rec.reason
    feed(v, 100.0)
    assert v.fills == []


def test_margin_check_counts_working_orders_but_never_refuses_a_reduction() -> None:
    v = venue(config(CFG, initial_cash=1_000.0))
    feed(v, 100.0)
    first = v.submit(order(Side.BUY, 60.0))
    second = v.submit(order(Side.BUY, 60.0))  # 120 · 100 > 10 × 1 000 with the first still working
    assert v.order(first).status is OrderStatus.WORKING
    assert v.order(second).status is OrderStatus.REJECTED and "insufficient margin" in v.order(second).reason
    v.submit(order(Side.BUY, 30.0))
    feed(v, 100.0)
    feed(v, 95.0)  # equity 1 000 − 4.5 − 450 = 545.5: the 90 held (8 550 USDT) are now over the cap
    assert v.position == 90.0 and v.equity() == pytest.approx(545.5)
    cut = v.submit(order(Side.SELL, 10.0))  # not reduce-only, but it shrinks the position
    more = v.submit(order(Side.BUY, 1.0))
    assert v.order(cut).status is OrderStatus.WORKING
    assert v.order(more).status is OrderStatus.REJECTED


def test_a_blown_account_refuses_orders() -> None:
    v = venue(config(CFG, initial_cash=1_000.0, liquidation_fee=0.0125))
    feed(v, 100.0)
    v.submit(order(Side.BUY, 60.0))
    v.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=200.0))
    feed(v, 100.0)
    feed(v, 50.0)  # gaps through the liquidation price: the clearance fee takes what the margin had left
    assert v.blown and v.equity() == 0.0 and list(v.trades["kind"]) == ["fill", "liquidation"]
    assert v.working_orders == [] and v.orders[1].reason == "canceled by the liquidation"
    rec = v.order(v.submit(order(Side.BUY, 1.0)))
    assert rec.status is OrderStatus.REJECTED and rec.reason.startswith("account blown")


def test_malformed_orders_raise() -> None:
    v = venue()
    with pytest.raises(UsageError, match="qty"):
        v.submit(order(Side.BUY, 0.0))
    with pytest.raises(UsageError, match="needs a price"):
        v.submit(order(Side.BUY, 1.0, OrderType.LIMIT))
    with pytest.raises(UsageError, match="stop_price"):
        v.submit(order(Side.BUY, 1.0, OrderType.STOP))
    with pytest.raises(UsageError, match="post-only"):
        v.submit(order(Side.BUY, 1.0, post_only=True))
    with pytest.raises(UsageError, match="symbol"):
        v.submit(Order("x", Symbol.parse("ETH/USDT:USDT"), Side.BUY, 1.0))
    oid = v.submit(Order("mine", SYM, Side.BUY, 1.0))
    assert oid == "mine"
    with pytest.raises(UsageError, match="already used"):
        v.submit(Order("mine", SYM, Side.BUY, 1.0))


def test_bad_bars_raise_naming_the_field() -> None:
    v = venue()
    with pytest.raises(ValidationError, match="field open"):
        v.process_bar(VenueBar(T0, math.nan, 1.0, 1.0, 1.0, 1.0))
    with pytest.raises(ValidationError, match="outside"):
        v.process_bar(VenueBar(T0, 100.0, 99.0, 98.0, 98.5, 1.0))
    feed(v, 100.0)
    with pytest.raises(ValidationError, match="ts not after"):
        v.process_bar(VenueBar(T0, 100.0, 100.0, 100.0, 100.0, 1.0))


def test_order_for_target_counts_working_market_orders_and_sizes_like_the_kernel() -> None:
    v = venue(config(CFG, target_kind="qty"), participation=0.1)
    feed(v, 100.0, volume=100.0)
    first = v.order_for_target(25.0)
    assert first is not None and (first.side, first.qty, first.type) == (Side.BUY, 25.0, OrderType.MARKET)
    v.submit(first)
    feed(v, 100.0, volume=100.0)  # 10 of 25 filled, 15 still working
    assert v.position == 10.0 and v.order_for_target(25.0) is None
    more = v.order_for_target(30.0)
    assert more is not None and more.qty == pytest.approx(5.0)
    close = v.order_for_target(0.0)
    assert close is not None and close.side is Side.SELL and close.reduce_only and close.qty == 25.0
    capped = v.order_for_target(50_000.0)  # clipped to 10 × equity (99 999.5 USDT) at the close of 100
    assert capped is not None and capped.qty == pytest.approx(9_999.95 - 25.0, rel=1e-12)
    assert v.order_for_target(math.nan) is None


def test_run_force_closes_and_cancels_what_is_still_working() -> None:
    from tests.sim.markets import bars, market

    m = market(bars([100.0, 101.0, 102.0, 103.0]), symbol="BTCUSDT")
    v = venue()
    placed: list[str] = []

    def on_close(venue: SimVenue, j: int) -> None:
        if j == 0:
            venue.submit(order(Side.BUY, 1.0))
            placed.append(venue.submit(order(Side.SELL, 1.0, OrderType.LIMIT, price=150.0, reduce_only=True)))

    res = v.run(m, on_close)
    assert list(res.trades["kind"]) == ["fill", "force_close"]
    assert res.trades["price"].iloc[-1] == 103.0 and v.position == 0.0
    rec = v.order(placed[0])
    assert rec.status is OrderStatus.CANCELED and rec.reason == "reduce-only: the position was closed"
    assert res.equity.shape == (4,) and res.summary.bars == 4


def test_a_liquidation_cancels_every_working_order() -> None:
    # the designed difference from the kernel: a market order pending when the open gaps through the
    # liquidation price is canceled with the rest, where a kernel target would still be filled
    v = venue(config(CFG, leverage=50.0))
    feed(v, 100.0)
    v.submit(order(Side.BUY, 40_000.0))
    feed(v, 100.0)
    pending = v.submit(order(Side.SELL, 60_000.0))
    far = v.submit(order(Side.BUY, 1.0, OrderType.LIMIT, price=50.0))
    feed(v, 90.0, 91.0, 89.0, 90.5)
    assert list(v.trades["kind"]) == ["fill", "liquidation"] and v.position == 0.0
    for oid in (pending, far):
        assert v.order(oid).status is OrderStatus.CANCELED
        assert v.order(oid).reason == "canceled by the liquidation"
