"""Round trips rebuilt from the trade log: entries, exits, flips, costs, exit reasons."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.backtest.report.stats import held_position
from autoperp.backtest.report.trades import ROUND_TRIP_COLUMNS, round_trips
from tests.backtest.test_report_runs import (
    BTC,
    FEE,
    hand_case,
    isolated_liquidation_case,
    ruin_case,
    synthetic_run,
)


def test_hand_case_round_trips() -> None:
    pair, _ = hand_case()
    trips = round_trips(pair.result, BTC)
    assert list(trips.columns) == list(ROUND_TRIP_COLUMNS)
    assert trips["side"].tolist() == ["long", "short", "long"]
    assert trips["exit_reason"].tolist() == ["signal", "signal", "force_close"]
    assert trips["entry_bar"].tolist() == [1, 5, 9]
    assert trips["exit_bar"].tolist() == [5, 7, 11]
    assert trips["bars_held"].tolist() == [4, 2, 2]
    assert trips["fills"].tolist() == [3, 2, 2]
    np.testing.assert_allclose(trips["qty"], [2.0, 1.0, 1.0])
    np.testing.assert_allclose(trips["entry_price"], [110.0, 100.0, 100.0])  # the add averages the entry
    np.testing.assert_allclose(trips["exit_price"], [100.0, 90.0, 105.0])
    np.testing.assert_allclose(trips["gross_pnl"], [-20.0, 10.0, 5.0])
    # the flip at 100 trades 3 units: 2 close the long (its fee share 2/3), 1 opens the short
    fees = [FEE * (100 + 120 + 200), FEE * (100 + 90), FEE * (100 + 105)]
    np.testing.assert_allclose(trips["fees"], fees)
    np.testing.assert_allclose(trips["funding"], [0.11, -0.18, 0.0])
    np.testing.assert_allclose(trips["pnl"], [-20 - fees[0] - 0.11, 10 - fees[1] + 0.18, 5 - fees[2]])
    # return: PnL over the account's equity before the entry bar
    assert trips["return"].iloc[0] == pytest.approx(trips["pnl"].iloc[0] / 10_000)
    assert trips["return"].iloc[2] == pytest.approx(trips["pnl"].iloc[2] / pair.result.equity[8])
    assert (trips["symbol"] == BTC).all()


def test_an_open_trip_is_valued_at_the_last_mark() -> None:
    pair, _ = hand_case(force_close=False)
    trips = round_trips(pair.result)
    last = trips.iloc[-1]
    assert last["exit_reason"] == "open" and last["exit_bar"] == 11
    assert last["exit_price"] == pytest.approx(105.0)  # no mark data: marked at the close
    assert last["gross_pnl"] == pytest.approx(5.0)
    assert last["fees"] == pytest.approx(FEE * 100)  # nothing paid to close it yet
    assert trips["pnl"].sum() == pytest.approx(pair.result.equity[-1] - 10_000)


def test_liquidation_ends_a_trip() -> None:
    pair, _ = isolated_liquidation_case()
    trips = round_trips(pair.result)
    assert trips["exit_reason"].tolist() == ["liquidation", "force_close"]
    liq = trips.iloc[0]
    assert liq["exit_bar"] == 3 and liq["exit_price"] < 100.0
    log = pair.result.trades
    fee_paid = log.loc[log["kind"] == "liquidation", "fee"].iloc[0]
    assert fee_paid > 0 and liq["fees"] == pytest.approx(FEE * 100 * liq["qty"] + fee_paid)
    # isolated: the loss is bounded by the position's margin (half the equity at 10x → 500 USDT + fees)
    assert -liq["pnl"] == pytest.approx(500.0 + liq["fees"], rel=0.05)
    assert trips["pnl"].sum() == pytest.approx(pair.result.summary.final_equity - 10_000)


def test_held_position_counts_the_bar_a_position_was_closed_in() -> None:
    pair, _ = ruin_case()
    held = held_position(pair.result)
    assert pair.result.position[2] == 0.0 and held[2] > 0  # liquidated inside bar 2: it was held there
    hand, _ = hand_case()
    held = held_position(hand.result)
    assert np.count_nonzero(held) == 9  # bars 1-6 and 9-11; bar 11 is force-closed at its close


def test_round_trips_add_up_to_the_account_on_a_busy_run() -> None:
    run = synthetic_run()
    for pair in run.pairs:
        trips = round_trips(pair.result, pair.symbol)
        s = pair.result.summary
        assert len(trips) > 20
        assert trips["pnl"].sum() == pytest.approx(s.final_equity - s.initial_cash, abs=1e-6)
        assert trips["fees"].sum() == pytest.approx(s.fees)
        assert trips["funding"].sum() == pytest.approx(s.funding_net)
        assert (trips["entry_ts"] <= trips["exit_ts"]).all() and (np.diff(trips["exit_bar"]) >= 0).all()
        # a flip closes one trip and opens the next at the same bar
        flips = trips["entry_bar"].to_numpy()[1:] == trips["exit_bar"].to_numpy()[:-1]
        assert flips.any()
