"""Liquidation: Binance's one-way liquidation price, the adverse mark extreme, gaps, the capped fee.

Binance's one-way formula (USDⓈ-M "How to calculate liquidation price"):
    LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q)
WB = wallet balance (cross) or isolated margin = Q·EP/leverage (isolated), side = +1 long / −1 short,
Q = |qty|, EP = entry price, MMR and cum from the tier whose notional band holds Q·LP.
BTCUSDT tiers used below (shipped table): ≤50k: 0.4 %, cum 0; ≤500k: 0.5 %, cum 50; ≤8M: 1 %, cum 2550.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoperp.sim import SimConfig, simulate
from tests.sim.markets import bars, hold_after, market

NAN = math.nan

# 1 BTC long at 50 000, 10x isolated: WB = 1·50 000/10 = 5 000 and the 40 000-ish notional at LP is tier 1:
#   LP = (5 000 + 0 − 1·1·50 000) / (1·0.004 − 1·1) = −45 000 / −0.996
LP_LONG_ISO = 45_000 / 0.996  # 45 180.722891566...
# the same short: tier 1 would give (5 000 + 0 + 50 000) / (0.004 + 1) = 54 780.88, a notional above
# tier 1's 50 000 cap, so tier 2 (MMR 0.5 %, cum 50) holds it: LP = (5 000 + 50 + 50 000) / (0.005 + 1)
LP_SHORT_ISO = 55_050 / 1.005  # 54 776.119402985...
# cross, 1 BTC long: WB = wallet after the 25 USDT opening fee (50 000 · 0.05 %) = 9 975
#   LP = (9 975 − 50 000) / (0.004 − 1) = 40 025 / 0.996
LP_LONG_CROSS = 40_025 / 0.996  # 40 185.742971887...


def qty_config(**kw: object) -> SimConfig:
    base: dict[str, object] = {
        "initial_cash": 10_000.0,
        "leverage": 10.0,
        "margin_mode": "isolated",
        "taker_fee": 0.0005,
        "half_spread": 0.0,
        "impact_k": 0.0,
        "liquidation_fee": 0.0125,
        "target_kind": "qty",
    }
    base.update(kw)
    return SimConfig.model_validate(base)


def test_isolated_long_liquidates_at_binance_price_when_mark_low_reaches_it() -> None:
    # bar 2's low stays one dollar above LP; bar 3's low goes a dollar below it
    candles = bars(
        [50_000, 50_000, 50_000, 46_000, 45_500],
        high=[50_000, 50_000, 50_000, 46_000, 45_500],
        low=[50_000, 50_000, 45_181, 45_180, 45_500],
        close=[50_000, 50_000, 46_000, 45_500, 45_500],
    )
    res = simulate(market(candles), hold_after(1.0, 5), qty_config())
    log = res.trades
    assert list(log["kind"]) == ["fill", "liquidation"]
    fill, liq = log.iloc[0], log.iloc[1]
    assert (fill["bar"], fill["qty"], fill["price"], fill["fee"]) == (1, 1.0, 50_000.0, 25.0)
    assert fill["isolated_margin"] == pytest.approx(5_000.0)
    assert liq["bar"] == 3 and liq["qty"] == -1.0
    assert liq["price"] == pytest.approx(LP_LONG_ISO, rel=1e-12)
    # at LP the margin left is 5 000 + (LP − 50 000) = 0.004·LP = MM; the 1.25 % clearance fee
    # (564.76) is capped by it, so the isolated margin is lost in full: wallet 10 000 − 25 − 5 000
    assert liq["fee"] == pytest.approx(0.004 * LP_LONG_ISO, rel=1e-12)
    assert liq["pnl"] == pytest.approx(LP_LONG_ISO - 50_000, rel=1e-12)
    np.testing.assert_allclose(res.equity, [10_000, 9_975, 5_975, 4_975, 4_975], rtol=1e-12)
    assert res.summary.liquidations == 1
    assert res.summary.fees == pytest.approx(25 + 0.004 * LP_LONG_ISO, rel=1e-12)
    # bar 2: isolated balance 5 000 − 4 000 = 1 000, MM = 0.4 % · 46 000 = 184
    assert res.margin_ratio[2] == pytest.approx(0.184, rel=1e-12)
    assert res.margin_ratio[3] == 0.0 and res.position[3] == 0.0


def test_isolated_short_is_tested_on_the_mark_high_not_the_trade_high() -> None:
    candles = bars(
        [50_000, 50_000, 50_000, 50_000, 50_000],
        high=[50_000, 50_000, 56_000, 54_500, 50_000],
        low=[50_000] * 5,
        close=[50_000] * 5,
    )
    # the mark never trades through 54 000 on bar 2 (the trade wick to 56 000 does not liquidate);
    # on bar 3 the mark high 54 781 passes LP although the trade high 54 500 does not
    mark = candles.copy()
    mark["high"] = [50_000, 50_000, 54_000, 54_781, 50_000]
    res = simulate(market(candles, mark=mark), hold_after(-1.0, 5), qty_config())
    log = res.trades
    assert list(log["kind"]) == ["fill", "liquidation"]
    assert log["bar"].iloc[1] == 3
    assert log["price"].iloc[1] == pytest.approx(LP_SHORT_ISO, rel=1e-12)
    assert log["qty"].iloc[1] == 1.0
    # margin left at LP: 5 000 − (LP − 50 000) = 0.005·LP − 50 = MM, all of it taken by the capped fee
    assert log["wallet"].iloc[1] == pytest.approx(4_975.0, rel=1e-12)


def test_isolated_long_is_tested_on_the_mark_low_not_the_trade_low() -> None:
    # a trade wick to 40 000 on bar 2 with the mark holding 46 000 does not liquidate; the mark low
    # of 45 180 on bar 3 (trade low 45 500) does, at LP
    candles = bars([50_000] * 5, low=[50_000, 50_000, 40_000, 45_500, 50_000])
    mark = candles.copy()
    mark["low"] = [50_000, 50_000, 46_000, 45_180, 50_000]
    res = simulate(market(candles, mark=mark), hold_after(1.0, 5), qty_config())
    assert list(res.trades["kind"]) == ["fill", "liquidation"]
    assert res.trades["bar"].iloc[1] == 3
    assert res.trades["price"].iloc[1] == pytest.approx(LP_LONG_ISO, rel=1e-12)


def test_cross_long_uses_the_whole_wallet_and_an_uncapped_fee() -> None:
    candles = bars([50_000, 50_000, 42_000, 41_000], low=[50_000, 50_000, 40_186, 40_185])
    # clearance fee 0.1 % is below the 0.4 % maintenance rate, so it is not capped:
    # wallet = 9 975 + (LP − 50 000) − 0.001·LP = 0.004·LP − 0.001·LP = 0.003·LP
    res = simulate(
        market(candles), hold_after(1.0, 4), qty_config(margin_mode="cross", liquidation_fee=0.001)
    )
    liq = res.trades.iloc[-1]
    assert liq["kind"] == "liquidation" and liq["bar"] == 3
    assert liq["price"] == pytest.approx(LP_LONG_CROSS, rel=1e-12)
    assert liq["fee"] == pytest.approx(0.001 * LP_LONG_CROSS, rel=1e-12)
    assert res.summary.final_equity == pytest.approx(0.003 * LP_LONG_CROSS, rel=1e-9)
    assert not res.summary.blown


def test_cross_liquidation_with_the_capped_fee_leaves_nothing_and_blocks_new_orders() -> None:
    candles = bars([50_000, 50_000, 42_000, 41_000, 41_000], low=[50_000, 50_000, 40_000, 41_000, 41_000])
    targets = np.array([1.0, NAN, NAN, 0.5, 0.5])  # tries to reopen after the liquidation
    res = simulate(market(candles), targets, qty_config(margin_mode="cross"))
    assert list(res.trades["kind"]) == ["fill", "liquidation"]
    assert res.trades["price"].iloc[1] == pytest.approx(LP_LONG_CROSS, rel=1e-12)
    assert res.summary.final_equity == pytest.approx(0.0, abs=1e-9)
    assert res.summary.blown


def test_liquidation_price_picks_the_tier_holding_its_own_notional() -> None:
    # 20 BTC at 50 000 (1 M notional), 20x isolated: WB = 1 000 000 / 20 = 50 000. Tier 3 (0.5–8 M,
    # MMR 1 %, cum 2 550): LP = (50 000 + 2 550 − 1 000 000) / (20·0.01 − 20) = 947 450 / 19.8, whose
    # notional 957 020 lies in tier 3. Tier 2 would give 949 950 / 19.9 = 47 736.18 (notional 954 724,
    # outside tier 2's ≤ 500 000 band), so the kernel must not use it.
    lp = 947_450 / 19.8
    candles = bars([50_000] * 4, low=[50_000, 50_000, 47_852, 47_851])
    cfg = qty_config(initial_cash=100_000.0, leverage=20.0)
    res = simulate(market(candles), hold_after(20.0, 4), cfg)
    liq = res.trades.iloc[-1]
    assert liq["kind"] == "liquidation" and liq["bar"] == 3
    assert liq["price"] == pytest.approx(lp, rel=1e-12)
    # check: MM at LP = 0.01·20·LP − 2 550 equals the margin balance 50 000 + 20·(LP − 50 000)
    assert 0.2 * lp - 2_550 == pytest.approx(50_000 + 20 * (lp - 50_000), rel=1e-12)


def test_gap_through_the_liquidation_price_liquidates_at_the_open_before_new_orders() -> None:
    # bar 2 opens at 44 000, below LP: liquidated at the open (step 2) at the bankruptcy-bounded LP,
    # then the short decided at bar 1's close fills at that same open
    candles = bars([50_000, 50_000, 44_000, 44_000], close=[50_000, 50_000, 43_000, 43_000])
    targets = np.array([1.0, -1.0, NAN, NAN])
    res = simulate(market(candles), targets, qty_config(), force_close=False)
    log = res.trades
    assert list(log["kind"]) == ["fill", "liquidation", "fill"]
    assert list(log["bar"]) == [1, 2, 2]
    assert log["price"].iloc[1] == pytest.approx(LP_LONG_ISO, rel=1e-12)
    assert log["fee"].iloc[1] == pytest.approx(0.004 * LP_LONG_ISO, rel=1e-12)
    assert (log["qty"].iloc[2], log["price"].iloc[2]) == (-1.0, 44_000.0)
    # wallet 4 975 after the liquidation, − 22 fee for the short at 44 000, + 1 000 unrealised at 43 000
    assert res.equity[2] == pytest.approx(4_975 - 22 + 1_000, rel=1e-12)


def test_isolated_gap_loss_is_bounded_by_the_position_margin() -> None:
    # an open far below the bankruptcy price: the loss stops at the isolated margin (5 000) plus the
    # opening fee; the rest of the wallet is untouched
    candles = bars([50_000, 50_000, 20_000, 20_000])
    res = simulate(market(candles), hold_after(1.0, 4), qty_config())
    assert res.trades["kind"].iloc[-1] == "liquidation"
    assert res.summary.final_equity == pytest.approx(4_975.0, rel=1e-12)


def test_fill_that_starts_inside_the_liquidation_zone_is_liquidated_on_the_same_bar() -> None:
    # 125x cross with 1 % impact cap hit (volume 0): the entry costs more than the margin allows
    candles = bars([50_000, 50_000, 50_000], low=[50_000, 49_990, 49_990], volume=0.0)
    cfg = qty_config(margin_mode="cross", leverage=125.0, initial_cash=400.0, impact_k=0.1, impact_cap=0.01)
    res = simulate(market(candles), hold_after(1.0, 3), cfg)
    assert list(res.trades["kind"]) == ["fill", "liquidation"]
    assert list(res.trades["bar"]) == [1, 1]
    assert res.summary.final_equity == pytest.approx(0.0, abs=1e-9)


def test_margin_ratio_stays_below_one_while_a_position_is_open() -> None:
    rng = np.random.default_rng(7)
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    candles = pd.DataFrame(
        {
            "ts": bars([1.0] * 300)["ts"],
            "open": np.r_[50_000, close[:-1]],
            "high": np.maximum(np.r_[50_000, close[:-1]], close) * 1.01,
            "low": np.minimum(np.r_[50_000, close[:-1]], close) * 0.99,
            "close": close,
            "volume": 1e3,
        }
    )
    targets = np.where(rng.uniform(size=300) < 0.2, rng.choice([-20.0, 20.0], 300), NAN)
    for mode in ("cross", "isolated"):
        res = simulate(market(candles), targets, SimConfig(leverage=25.0, margin_mode=mode))
        assert res.summary.liquidations > 0, mode
        open_ = res.position != 0
        assert np.all(res.margin_ratio[open_] < 1.0), mode
        assert np.all(res.margin_ratio[~open_] == 0.0), mode


def test_isolated_margin_never_exceeds_the_wallet_so_a_liquidation_cannot_overdraw_it() -> None:
    # Long 1 at 50 000 (isolated 10x); at bar 1's close a short of 1.9 is decided (95 000 ≤ 10 × 9 975).
    # Bar 2 gaps to 44 000: the long is liquidated first (wallet 4 975), then the short fills at 44 000
    # (fee 41.8, wallet 4 933.2). Its 10x margin would be 8 360, more than the wallet, so it holds
    # 4 933.2. Tier 2 then gives LP = (4 933.2 + 50 + 1.9·44 000) / (1.9·0.005 + 1.9) = 88 583.2/1.9095
    # and bar 3's spike liquidates it there with the capped fee: the wallet ends at 0, not at
    # 4 933.2 − 1.9·(48 185 − 44 000) − 408 = −3 426 as an 8 360 margin would have made it.
    candles = bars([50_000, 50_000, 44_000, 44_000], high=[50_000, 50_000, 44_000, 60_000])
    res = simulate(market(candles), [1.0, -1.9, NAN, NAN], qty_config())
    log = res.trades
    assert list(log["kind"]) == ["fill", "liquidation", "fill", "liquidation"]
    assert log["wallet"].iloc[1] == pytest.approx(4_975.0, rel=1e-12)
    assert log["isolated_margin"].iloc[2] == pytest.approx(4_933.2, rel=1e-12)
    assert log["price"].iloc[3] == pytest.approx(88_583.2 / 1.9095, rel=1e-12)
    assert res.summary.final_equity == pytest.approx(0.0, abs=1e-9)
    assert np.all(res.equity >= -1e-9)


def test_a_close_past_the_bankruptcy_price_costs_at_most_the_wallet() -> None:
    # Cross 20x: long 0.4 at 50 000 (fee 10, wallet 990), LP = (990 − 20 000)/(0.4·0.004 − 0.4) = 47 716.4.
    # Bar 2 opens at 47 800 (above LP) with no volume, so the close pays the 1 % impact cap:
    # 47 800·0.99 = 47 322, a loss of 0.4·2 678 = 1 071.2 plus a 9.46 fee on a 990 wallet. The wallet
    # stops at 0 (logged PnL = fee − wallet = −980.54); the insurance fund takes the rest.
    candles = bars([50_000, 50_000, 47_800], low=[50_000, 50_000, 47_750], volume=[1e6, 1e6, 0.0])
    cfg = qty_config(margin_mode="cross", leverage=20.0, initial_cash=1_000.0, impact_k=0.1)
    res = simulate(market(candles), [0.4, 0.0, NAN], cfg)
    close = res.trades.iloc[-1]
    assert (close["kind"], close["bar"], close["price"]) == ("fill", 2, pytest.approx(47_322.0, rel=1e-12))
    assert close["fee"] == pytest.approx(0.4 * 47_322 * 0.0005, rel=1e-12)
    assert close["pnl"] == pytest.approx(close["fee"] - 990.0, rel=1e-12)
    assert close["wallet"] == pytest.approx(0.0, abs=1e-9)
    assert res.summary.blown
