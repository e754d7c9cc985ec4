"""Funding: sign, the settlement instant, 8h/4h/1h schedules with Binance's late stamps, valuation at mark."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoperp.sim import simulate
from tests.sim.markets import HOUR, MINUTE, T0, bars, config, flat, funding_frame, hold_after, market

NAN = math.nan
QTY = config(target_kind="qty")


@pytest.mark.parametrize(("side", "sign"), [(10.0, 1.0), (-10.0, -1.0)])
def test_longs_pay_positive_rates_and_shorts_receive_them(side: float, sign: float) -> None:
    # 10 units held from bar 1; settlements at 8h, 16h, 24h valued at the file's mark price 101:
    #   8h:  10·101·0.0001  = 0.101 paid by the long
    #   16h: 10·101·−0.0002 = 0.202 received by the long
    #   24h: 10·101·0.0003  = 0.303 paid by the long
    # a short sees every sign flipped
    fund = funding_frame([8, 16, 24], [0.0001, -0.0002, 0.0003], mark=[101.0] * 3)
    res = simulate(market(flat(26), funding=fund), hold_after(side, 26), QTY, force_close=False)
    rows = res.trades[res.trades["kind"] == "funding"]
    assert list(rows["bar"]) == [8, 16, 24]
    assert list(rows["ts"]) == [T0 + 8 * HOUR, T0 + 16 * HOUR, T0 + 24 * HOUR]
    np.testing.assert_allclose(rows["funding"], sign * np.array([0.101, -0.202, 0.303]), rtol=1e-12)
    np.testing.assert_allclose(rows["price"], 101.0)
    np.testing.assert_allclose(rows["rate"], [0.0001, -0.0002, 0.0003])
    s = res.summary
    assert s.funding_net == pytest.approx(sign * 0.202, rel=1e-12)
    paid, received = (0.404, 0.202) if sign > 0 else (0.202, 0.404)
    assert (s.funding_paid, s.funding_received) == (pytest.approx(paid), pytest.approx(received))
    # prices never move and nothing else costs: equity moves only at settlements, by their amount
    assert res.equity[7] == 10_000.0
    assert res.equity[8] == pytest.approx(10_000 - sign * 0.101, rel=1e-15)
    assert res.equity[-1] == pytest.approx(10_000 - sign * 0.202, rel=1e-15)


@pytest.mark.parametrize("every_h", [8, 4, 1])
@pytest.mark.parametrize("jitter_ms", [0, 3, 7, 999])
def test_settlements_land_on_the_bar_opening_at_their_hour(every_h: int, jitter_ms: int) -> None:
    # 15-minute bars over one day; Binance stamps each settlement a few ms after the hour
    n = 96
    candles = flat(n, step=15 * MINUTE)
    hours = np.arange(0, 24, every_h)
    fund = funding_frame(hours, 0.0001, jitter_ms=jitter_ms)
    m = market(candles, funding=fund)
    assert m.n_settlements == len(hours)
    res = simulate(m, hold_after(10.0, n), QTY)
    rows = res.trades[res.trades["kind"] == "funding"]
    # the hour-0 settlement falls before the first fill (no position yet): it is not logged
    assert list(rows["bar"]) == [4 * h for h in hours[1:]]
    assert list(rows["ts"]) == [T0 + h * HOUR for h in hours[1:]]
    np.testing.assert_allclose(rows["funding"], 10 * 100 * 0.0001, rtol=1e-12)
    assert res.summary.funding_net == pytest.approx(0.1 * (len(hours) - 1), rel=1e-12)
    assert not any("gap" in note for note in res.notes)


def test_funding_settles_before_the_fill_at_the_same_open() -> None:
    # settlement at 4h. (a) a position opened by the order filling at 4h's open was not held at the
    # settlement instant: no funding. (b) a position closed at 4h's open was: one payment of
    # 10·100·0.001 = 1, logged before the closing fill.
    fund = funding_frame([4], 0.001)
    opened = np.full(8, NAN)
    opened[3] = 10.0
    res = simulate(market(flat(8), funding=fund), opened, QTY)
    assert "funding" not in set(res.trades["kind"])
    closed = np.full(8, NAN)
    closed[0], closed[3] = 10.0, 0.0
    res = simulate(market(flat(8), funding=fund), closed, QTY)
    assert list(res.trades["kind"]) == ["fill", "funding", "fill"]
    assert list(res.trades["bar"]) == [1, 4, 4]
    assert res.trades["funding"].iloc[1] == pytest.approx(1.0, rel=1e-12)
    assert res.summary.final_equity == pytest.approx(9_999.0, rel=1e-15)


def _valuation_case(with_file_mark: bool, with_mark_bars: bool) -> tuple[float, str, list[str]]:
    # trade bars open at 100 and close at 110, so the previous close (110) differs from the open;
    # the mark bars open at 105; the funding file carries 107
    n = 10
    candles = bars([100.0] * n, high=[111.0] * n, low=[99.0] * n, close=[110.0] * n)
    mark = candles.assign(open=105.0, high=106.0, low=104.0, close=105.5) if with_mark_bars else None
    fund = funding_frame([5], 0.001, mark=[107.0] if with_file_mark else None)
    m = market(candles, mark=mark, funding=fund)
    res = simulate(m, hold_after(10.0, n), QTY)
    row = res.trades[res.trades["kind"] == "funding"].iloc[0]
    # payment = 10 · price · 0.001
    assert row["funding"] == pytest.approx(10 * row["price"] * 0.001, rel=1e-12)
    return float(row["price"]), m.funding_source, res.notes


def test_funding_is_valued_at_the_file_mark_then_the_mark_open_then_the_previous_close() -> None:
    price, source, notes = _valuation_case(with_file_mark=True, with_mark_bars=True)
    assert (price, source) == (107.0, "funding mark_price")
    assert not any("trade close" in n for n in notes)
    price, source, notes = _valuation_case(with_file_mark=False, with_mark_bars=True)
    assert (price, source) == (105.0, "mark open")
    assert not any("funding valued" in n for n in notes)
    price, source, notes = _valuation_case(with_file_mark=False, with_mark_bars=False)
    assert (price, source) == (110.0, "trade close")
    assert any("funding valued at the trade close" in n for n in notes)
    assert any("no mark-price data" in n for n in notes)


def test_mixed_valuation_is_labelled_mixed() -> None:
    candles = bars([100.0] * 20, close=[110.0] * 20)
    fund = funding_frame([4, 8, 12], 0.001, mark=[107.0, NAN, 107.0])
    m = market(candles, funding=fund)
    assert m.funding_source == "mixed"
    res = simulate(m, hold_after(10.0, 20), QTY)
    assert list(res.trades.loc[res.trades["kind"] == "funding", "price"]) == [107.0, 110.0, 107.0]


def test_settlement_in_a_data_gap_is_charged_once_at_the_next_bar_and_said() -> None:
    candles = flat(12)
    candles = candles[candles["ts"] != T0 + 8 * HOUR].reset_index(drop=True)  # the 8h bar is missing
    fund = funding_frame([4, 8], 0.001)
    m = market(candles, funding=fund)
    res = simulate(m, hold_after(10.0, len(candles)), QTY)
    rows = res.trades[res.trades["kind"] == "funding"]
    assert list(rows["ts"]) == [T0 + 4 * HOUR, T0 + 9 * HOUR]
    assert any("1 funding settlement(s) fell in data gaps" in n for n in res.notes)


def test_settlements_outside_the_bars_are_ignored() -> None:
    fund = pd.concat([funding_frame([-8, 4], 0.001), funding_frame([40], 0.5)], ignore_index=True)
    m = market(flat(12), funding=fund)
    assert m.n_settlements == 1
    res = simulate(m, hold_after(10.0, 12), QTY)
    assert res.summary.funding_net == pytest.approx(10 * 100 * 0.001, rel=1e-12)


def test_isolated_funding_comes_out_of_the_position_margin() -> None:
    # 10 units at 100, 2x isolated: margin 500; a 1 % settlement takes 10 from it and the wallet
    cfg = config(QTY, margin_mode="isolated", leverage=2.0)
    res = simulate(
        market(flat(8), funding=funding_frame([4], 0.01)), hold_after(10.0, 8), cfg, force_close=False
    )
    row = res.trades.iloc[-1]
    assert row["kind"] == "funding"
    assert (row["isolated_margin"], row["wallet"]) == (pytest.approx(490.0), pytest.approx(9_990.0))
