"""Order-flow candle columns travel with the market (the kernel ignores them; features read them)."""

from __future__ import annotations

import numpy as np

from autoperp.backtest.market_data import market_data_from_sim
from autoperp.data.synthetic import generate_series
from autoperp.sim.market import EXTRA_COLUMNS, build_market


def test_extras_are_kept_sliced_and_truncated_with_the_bars() -> None:
    candles = generate_series(300, seed=3).candles.frame
    market = build_market(candles, symbol="SYN", timeframe="1m")
    assert set(market.extras) == set(EXTRA_COLUMNS)
    np.testing.assert_array_equal(market.extras["trades"], candles["trades"].to_numpy(np.float64))
    part = market.slice(100, 160)
    np.testing.assert_array_equal(
        part.extras["taker_buy_volume"], candles["taker_buy_volume"].to_numpy(np.float64)[100:160]
    )
    view = market_data_from_sim(part).truncated(10)
    assert view.extras["trades"].shape == (10,)
    np.testing.assert_array_equal(view.extras["trades"], part.extras["trades"][:10])


def test_candles_without_flow_columns_have_no_extras() -> None:
    candles = generate_series(50, seed=1).candles.frame[["ts", "open", "high", "low", "close", "volume"]]
    assert build_market(candles).extras == {}
