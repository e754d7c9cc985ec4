"""reconstruct_equity: the equity curve rebuilt from the trade log plus the market data only."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.core.errors import ValidationError
from autoperp.sim import SimConfig, simulate
from autoperp.sim import layout as L
from autoperp.sim.audit import reconstruct_equity, replay_log
from tests.sim.markets import bars, config, flat, funding_frame, hold_after, market

NAN = math.nan


def test_hand_case_rebuilds_every_bar() -> None:
    # long 10 at 100 (fee 0.5), funding 1 % at 4h on 10·105 = 10.5, reversed to short 10 at 110
    # (fee 2·10·110·0.05 % = 1.1, realised 100), force-closed at 100 (fee 0.5, realised 100)
    candles = bars([100, 100, 105, 105, 105, 110, 100], close=[100, 105, 105, 105, 110, 100, 100])
    fund = funding_frame([4], 0.01, mark=[105.0])
    targets = [10.0, NAN, NAN, NAN, -10.0, NAN, NAN]
    cfg = config(target_kind="qty", taker_fee=0.0005)
    m = market(candles, funding=fund)
    res = simulate(m, targets, cfg)
    wallet = [
        10_000,
        9_999.5,
        9_999.5,
        9_999.5,
        9_989.0,
        9_989.0 + 100 - 1.1,
        9_989.0 + 100 - 1.1 + 100 - 0.5,
    ]
    unrealised = [0, 50, 50, 50, 100, 100, 0]
    expected = np.add(wallet, unrealised)
    np.testing.assert_allclose(res.equity, expected, rtol=1e-12)
    np.testing.assert_allclose(reconstruct_equity(res, m), expected, rtol=1e-12)
    replay = replay_log(res)
    np.testing.assert_allclose(replay.entry, [100, 100, 110, 0])
    np.testing.assert_allclose(replay.fill_pnl, [0, NAN, 100, 100])


def test_no_trades_gives_the_initial_cash_everywhere() -> None:
    m = market(flat(5), funding=funding_frame([1, 2], 0.01))
    res = simulate(m, np.full(5, NAN), SimConfig())
    np.testing.assert_array_equal(reconstruct_equity(res, m), np.full(5, 10_000.0))


def test_result_and_market_must_have_the_same_bars() -> None:
    res = simulate(market(flat(5)), hold_after(1.0, 5), SimConfig())
    with pytest.raises(ValidationError, match="5 bars, the market 6"):
        reconstruct_equity(res, market(flat(6)))


def _feather_frame(path: Path) -> pd.DataFrame:
    df = pd.read_feather(path)
    df["ts"] = df["date"].astype("datetime64[ms, UTC]").astype("int64")
    return df


def test_real_btc_run_with_real_funding_is_reproducible(real_dir: Path) -> None:
    folder = real_dir / "binance_um_1m_typhonun"
    candles_path = folder / "BTC_USDT_USDT-1h-futures.feather"
    funding_path = folder / "BTC_USDT_USDT-8h-funding_rate.feather"
    if not (candles_path.is_file() and funding_path.is_file()):
        pytest.skip(f"{candles_path.name} or {funding_path.name} not in {folder}")
    candles = _feather_frame(candles_path)[["ts", "open", "high", "low", "close", "volume"]]
    raw = _feather_frame(funding_path)
    funding = pd.DataFrame({"ts": raw["ts"], "rate": raw["open"]})  # freqtrade keeps the rate in `open`
    m = market(candles, funding=funding)
    # Binance stamps settlements up to a few ms late; each still lands on the bar opening at its hour
    on_hour = m.ts[~np.isnan(m.field(L.M_FUNDING))] % 3_600_000
    assert m.n_settlements > 50 and np.all(on_hour == 0)
    close = candles["close"].to_numpy()
    momentum = np.sign(close - pd.Series(close).rolling(24, min_periods=1).mean().to_numpy())
    for mode in ("cross", "isolated"):
        res = simulate(m, 3.0 * momentum, SimConfig(leverage=3.0, margin_mode=mode))
        assert res.summary.funding_paid + res.summary.funding_received > 0
        np.testing.assert_allclose(reconstruct_equity(res, m), res.equity, rtol=1e-9)
