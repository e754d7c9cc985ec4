"""Order execution: fees on a reversal, spread and square-root impact, delay, sizing rules, force-close."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoperp.sim import SimConfig, simulate
from autoperp.sim import layout as L
from tests.sim.markets import bars, config, flat, hold_after, market

NAN = math.nan
QTY = config(target_kind="qty")


def fills(res: object) -> list[tuple[int, float]]:
    log = res.trades  # type: ignore[attr-defined]
    rows = log[log["kind"] == "fill"]
    return [(int(b), float(q)) for b, q in zip(rows["bar"], rows["qty"], strict=True)]


@pytest.mark.parametrize("mode", ["cross", "isolated"])
def test_reversal_pays_the_fee_on_both_legs_and_realises_the_old_side(mode: str) -> None:
    # long 1 at 50 000 (fee 25), reversed to short 1 at 51 000: dq = −2, fee 2·51 000·0.05 % = 51,
    # realised 1·(51 000 − 50 000) = 1 000; force-closed at 51 000 (fee 25.5, no PnL).
    # wallet = 100 000 − 25 + 1 000 − 51 − 25.5 = 100 898.5
    cfg = config(QTY, initial_cash=100_000.0, taker_fee=0.0005, margin_mode=mode, leverage=10.0)
    res = simulate(market(bars([50_000, 50_000, 51_000, 51_000])), [1.0, -1.0, NAN, NAN], cfg)
    log = res.trades
    assert list(log["kind"]) == ["fill", "fill", "force_close"]
    rev = log.iloc[1]
    assert (rev["qty"], rev["price"], rev["fee"], rev["pnl"], rev["position"]) == (
        -2.0,
        51_000.0,
        51.0,
        1_000.0,
        -1.0,
    )
    assert log["fee"].iloc[2] == 25.5
    assert res.summary.final_equity == pytest.approx(100_898.5, rel=1e-15)
    assert res.summary.fees == pytest.approx(101.5, rel=1e-15)
    assert res.summary.turnover == pytest.approx(50_000 + 102_000 + 51_000, rel=1e-15)
    if mode == "isolated":
        assert rev["isolated_margin"] == pytest.approx(5_100.0)  # the new short's 1·51 000/10


# closes 100 then 110: the causal σ at bar 2 is the one log return seen so far, ln(1.1)
SIGMA = math.log(1.1)


def _impact_case(target: float, **kw: object) -> float:
    spread = kw.pop("spread", None)
    volume = kw.pop("volume", 100.0)
    cfg = config(QTY, **{"half_spread": 0.0005, "impact_k": 0.1, "impact_cap": 0.01, **kw})
    candles = bars([100, 100, 110, 110], close=[100, 110, 110, 110], volume=volume)  # type: ignore[arg-type]
    m = market(candles, spread=spread)
    assert m.field(L.M_SIGMA)[2] == pytest.approx(SIGMA, rel=1e-12)
    res = simulate(m, [NAN, target, NAN, NAN], cfg, force_close=False)
    assert fills(res) == [(2, target)]
    return float(res.trades["price"].iloc[0])


def test_fill_price_is_open_plus_half_spread_plus_square_root_impact() -> None:
    # buy 4 with bar volume 100: impact = 0.1·ln(1.1)·sqrt(4/100) = 0.0019062036
    #   price = 110·(1 + 0.0005 + 0.0019062036) = 110.26468240
    impact = 0.1 * SIGMA * math.sqrt(4 / 100)
    assert _impact_case(4.0) == pytest.approx(110 * (1 + 0.0005 + impact), rel=1e-14)
    assert _impact_case(4.0) == pytest.approx(110.2646824, rel=1e-9)
    # a sell moves the price the other way
    assert _impact_case(-4.0) == pytest.approx(110 * (1 - 0.0005 - impact), rel=1e-14)
    # square-root law: 4x the size, 2x the impact
    assert _impact_case(16.0) == pytest.approx(110 * (1 + 0.0005 + 2 * impact), rel=1e-14)
    # the bar's extra half-spread adds on top
    spread = np.array([0.0, 0.0, 0.001, 0.0])
    assert _impact_case(4.0, spread=spread) == pytest.approx(110 * (1 + 0.0015 + impact), rel=1e-14)


def test_impact_is_capped_and_a_bar_without_volume_pays_the_cap() -> None:
    # k = 10: 10·ln(1.1)·0.2 = 0.19 > cap 0.01 → price = 110·(1 + 0.0005 + 0.01) = 111.155
    assert _impact_case(4.0, impact_k=10.0) == pytest.approx(111.155, rel=1e-14)
    assert _impact_case(4.0, volume=0.0) == pytest.approx(111.155, rel=1e-14)


@pytest.mark.parametrize(("delay", "fill_bar"), [(0, 4), (1, 5), (3, 7)])
def test_decision_fills_after_delay_bars(delay: int, fill_bar: int) -> None:
    targets = np.full(10, NAN)
    targets[3] = 10.0  # decided at bar 3's close
    res = simulate(market(flat(10)), targets, config(QTY, delay_bars=delay), force_close=False)
    assert fills(res) == [(fill_bar, 10.0)]
    assert np.all(res.position[:fill_bar] == 0.0) and np.all(res.position[fill_bar:] == 10.0)


def test_decisions_too_late_to_fill_are_dropped() -> None:
    targets = np.full(6, NAN)
    targets[4] = 10.0  # with delay 1 it would fill at bar 6, past the end
    res = simulate(market(flat(6)), targets, config(QTY, delay_bars=1))
    assert len(res.trades) == 0


def test_lot_step_rounds_down_and_keeps_exact_multiples() -> None:
    # exposure 1 at 3 000 with 10 000 equity = 3.333 units → 3.3 with a 0.1 lot
    res = simulate(market(flat(4, 3_000.0)), hold_after(1.0, 4), config(lot_step=0.1), force_close=False)
    assert res.position[-1] == pytest.approx(3.3, rel=1e-12)
    # 0.3/0.1 is 2.9999999999999996 in floating point: still 3 lots
    res = simulate(market(flat(4, 3_000.0)), hold_after(0.3, 4), config(QTY, lot_step=0.1), force_close=False)
    assert res.position[-1] == pytest.approx(0.3, rel=1e-12)
    # below one lot: nothing
    res = simulate(market(flat(4, 3_000.0)), hold_after(0.09, 4), config(QTY, lot_step=0.1))
    assert len(res.trades) == 0


@pytest.mark.parametrize("target", [5.0, -5.0])
def test_leverage_caps_the_target_notional(target: float) -> None:
    # 5x exposure asked at 2x leverage: notional capped at 2·10 000 → 200 units at 100
    res = simulate(market(flat(4)), hold_after(target, 4), config(leverage=2.0), force_close=False)
    assert res.position[-1] == pytest.approx(math.copysign(200.0, target), rel=1e-12)
    res = simulate(market(flat(4)), hold_after(target * 100, 4), config(QTY, leverage=2.0), force_close=False)
    assert res.position[-1] == pytest.approx(math.copysign(200.0, target), rel=1e-12)


def test_bracket_table_caps_the_notional_at_the_chosen_leverage() -> None:
    # BTCUSDT at 50x: tiers allowing ≥ 50x end at 8 M notional → 160 BTC at 50 000, not the 1 000 asked
    cfg = config(initial_cash=1_000_000.0, leverage=50.0)
    res = simulate(market(flat(4, 50_000.0)), hold_after(50.0, 4), cfg, force_close=False)
    assert res.position[-1] == pytest.approx(160.0, rel=1e-12)


def test_rebalance_band_skips_small_same_side_resizes_only() -> None:
    # band 10 % of 10 000 equity = 1 000 USDT at price 100: 50 → 55 (500) skipped, 55 → 70 from 50
    # (2 000) filled, 70 → 65 (500) skipped, → 0 closes, → −1 reverses even though tiny
    targets = [50.0, 55.0, 70.0, 65.0, 0.0, -1.0, NAN, NAN]
    res = simulate(market(flat(8)), targets, config(QTY, rebalance_band=0.1), force_close=False)
    assert fills(res) == [(1, 50.0), (3, 20.0), (5, -70.0), (6, -1.0)]


def test_min_notional_skips_small_orders_but_never_a_close() -> None:
    # min 600 USDT at price 100: open 5 (500) skipped, 10 filled, 10 → 14 (400) skipped,
    # 10 → 4 (600) filled, 4 → 0 (400) closes anyway
    targets = [5.0, 10.0, 14.0, 4.0, 0.0, NAN, NAN]
    res = simulate(market(flat(7)), targets, config(QTY, min_notional=600.0))
    assert fills(res) == [(2, 10.0), (4, -6.0), (5, -4.0)]


def test_nan_target_holds_while_a_repeated_target_rebalances() -> None:
    candles = bars([100, 100, 105, 110, 115, 120])
    held = simulate(market(candles), hold_after(0.5, 6), config(), force_close=False)
    assert fills(held) == [(1, 50.0)]
    # a repeated 0.5x drifts with price (equity 5 000 + 50·P over notional 50·P), so every bar whose
    # close moved trades back to 0.5x: decisions at bars 2, 3, 4 fill at bars 3, 4, 5
    repeated = simulate(market(candles), np.full(6, 0.5), config(), force_close=False)
    assert [b for b, _ in fills(repeated)] == [1, 3, 4, 5]


def test_force_close_at_the_last_close_pays_spread_and_fee() -> None:
    # long 10 from 100; last close 120 sold at 120·(1 − 0.0005) = 119.94, fee 10·119.94·0.05 %
    candles = bars([100, 100, 110, 115], close=[100, 110, 115, 120])
    cfg = config(QTY, half_spread=0.0005, taker_fee=0.0005)
    res = simulate(market(candles), hold_after(10.0, 4), cfg)
    row = res.trades.iloc[-1]
    assert (row["kind"], row["bar"], row["qty"]) == ("force_close", 3, -10.0)
    assert row["price"] == pytest.approx(119.94, rel=1e-14)
    assert row["fee"] == pytest.approx(10 * 119.94 * 0.0005, rel=1e-14)
    assert res.position[-1] == 0.0 and res.equity[-1] == res.summary.final_equity
    kept = simulate(market(candles), hold_after(10.0, 4), cfg, force_close=False)
    assert "force_close" not in set(kept.trades["kind"]) and kept.position[-1] == 10.0


def test_unvalidated_config_copies_pack_like_validated_ones() -> None:
    # model_copy(update=...) stores plain strings; the packer must still see "qty" and "isolated".
    # Default costs on flat prices: σ = 0, so the fill is 100·(1 + 0.005 % half-spread)
    copied = SimConfig().model_copy(update={"target_kind": "qty", "margin_mode": "isolated", "leverage": 2.0})
    validated = config(SimConfig(), target_kind="qty", margin_mode="isolated", leverage=2.0)
    a = simulate(market(flat(5)), hold_after(10.0, 5), copied, force_close=False)
    b = simulate(market(flat(5)), hold_after(10.0, 5), validated, force_close=False)
    assert a.position[-1] == b.position[-1] == 10.0
    assert a.trades["isolated_margin"].iloc[0] == pytest.approx(10 * 100 * (1 + 0.00005) / 2)
