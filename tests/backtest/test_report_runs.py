"""BacktestRuns for the report tests, built directly (hand-made or synthetic bars → build_market →
simulate → PairRun/BacktestRun), and checks that they are built the way the runner builds them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from autoperp.backtest.run_result import BacktestRun, PairRun
from autoperp.core.symbols import Symbol
from autoperp.data.synthetic import generate_market
from autoperp.sim import SimConfig, build_market, simulate

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
FEE = 0.001
# exact prices: no spread, no impact, every resize goes through
EXACT = {"half_spread": 0.0, "impact_k": 0.0, "taker_fee": FEE, "rebalance_band": 0.0}


def hand_candles(
    opens: Sequence[float], last_close: float, *, lows: dict[int, float] | None = None, start: int = T0
) -> pd.DataFrame:
    """Hourly bars whose close is the next open; ``lows`` overrides single bars' lows (wicks)."""
    o = np.asarray(opens, dtype=np.float64)
    c = np.r_[o[1:], last_close]
    low = np.minimum(o, c) - 0.5
    for j, v in (lows or {}).items():
        low[j] = v
    return pd.DataFrame({
        "ts": start + HOUR * np.arange(o.shape[0], dtype=np.int64),
        "open": o, "high": np.maximum(o, c) + 0.5, "low": low, "close": c, "volume": np.full(o.shape[0], 1e6),
    })  # fmt: skip


def targets_at(n: int, at: dict[int, float]) -> np.ndarray:
    t = np.full(n, np.nan)
    for j, v in at.items():
        t[j] = v
    return t


def pair_run(
    symbol: str,
    candles: pd.DataFrame,
    targets: np.ndarray,
    config: SimConfig,
    *,
    mark: pd.DataFrame | None = None,
    funding: pd.DataFrame | None = None,
    allocation: float = 1.0,
    force_close: bool = True,
) -> PairRun:
    market = build_market(candles, mark=mark, funding=funding, symbol=symbol, timeframe="1h")
    return PairRun(
        symbol, market, targets, simulate(market, targets, config, force_close=force_close), allocation
    )


def backtest_run(
    pairs: list[PairRun],
    initial_cash: float,
    *,
    strategy: str = "test",
    run_id: str = "",
    notes: Sequence[str] = (),
) -> BacktestRun:
    """The portfolio as the runner builds it: the union of bar times, each sub-account carried forward
    (its allocated cash before its first bar), plus idle cash."""
    ts = np.unique(np.concatenate([p.result.ts for p in pairs]))
    equity = np.full(ts.shape[0], initial_cash - sum(p.result.summary.initial_cash for p in pairs))
    for p in pairs:
        idx = np.searchsorted(p.result.ts, ts, side="right") - 1
        equity += np.where(idx >= 0, p.result.equity[np.maximum(idx, 0)], p.result.summary.initial_cash)
    return BacktestRun(
        strategy=strategy, strategy_params={"window": 24, "scale": 1.5}, timeframe="1h",
        config=SimConfig(initial_cash=initial_cash), pairs=pairs, ts=ts, equity=equity, initial_cash=initial_cash,
        data_sources=["synthetic seed 3"], notes=list(notes), run_id=run_id,
    )  # fmt: skip


def hand_case(force_close: bool = True) -> tuple[PairRun, BacktestRun]:
    """Long 1 at 100, add 1 at 120, flip to short 1 at 100, close at 90, long 1 at 100, force-closed at 105;
    funding paid 0.11 while long (rate 0.001 at mark 110) and received 0.18 while short."""
    opens = [100, 100, 110, 120, 120, 100, 90, 90, 95, 100, 100, 100]
    candles = hand_candles(opens, 105.0)
    funding = pd.DataFrame(
        {"ts": [T0 + 2 * HOUR, T0 + 6 * HOUR], "rate": [0.001, 0.002], "mark_price": [110.0, 90.0]}
    )
    targets = targets_at(len(opens), {0: 1.0, 2: 2.0, 4: -1.0, 6: 0.0, 8: 1.0})
    config = SimConfig(initial_cash=10_000.0, target_kind="qty", **EXACT)
    pair = pair_run(BTC, candles, targets, config, funding=funding, force_close=force_close)
    return pair, backtest_run([pair], 10_000.0, strategy="hand", run_id="hand-1")


def isolated_liquidation_case() -> tuple[PairRun, BacktestRun]:
    """A 10x isolated long of half the equity whose margin a wick to 80 wipes out; it re-enters later."""
    opens = [100.0] * 8
    candles = hand_candles(opens, 100.0, lows={3: 80.0})
    targets = targets_at(len(opens), {0: 0.5, 4: 0.5})
    config = SimConfig(initial_cash=10_000.0, leverage=10, margin_mode="isolated", **EXACT)
    pair = pair_run(BTC, candles, targets, config)
    return pair, backtest_run([pair], 10_000.0, strategy="liq")


def ruin_case() -> tuple[PairRun, BacktestRun]:
    """A 10x cross long wiped out by a wick: the liquidation fee takes what margin is left, equity is 0."""
    opens = [100.0] * 6
    candles = hand_candles(opens, 100.0, lows={2: 80.0})
    targets = targets_at(len(opens), {0: 10.0, 3: 1.0})
    config = SimConfig(initial_cash=10_000.0, leverage=10, **EXACT)
    pair = pair_run(BTC, candles, targets, config)
    return pair, backtest_run([pair], 10_000.0, strategy="ruin")


def momentum_targets(close: np.ndarray, window: int = 24, scale: float = 1.5) -> np.ndarray:
    mean = pd.Series(close).rolling(window).mean().to_numpy()
    return np.where(np.isnan(mean), np.nan, np.sign(close - mean) * scale)


def synthetic_run(n_bars: int = 24 * 80, seed: int = 3, eth_offset: int = 100) -> BacktestRun:
    """BTC (60 %) and ETH (40 %, starting ``eth_offset`` bars later) on synthetic 1h bars with mark and
    funding, traded by a momentum rule at 2x leverage."""
    series = generate_market([Symbol.parse(BTC), Symbol.parse(ETH)], n_bars, timeframe="1h", seed=seed)
    pairs = []
    for symbol, alloc, first in ((BTC, 0.6, 0), (ETH, 0.4, eth_offset)):
        s = series[Symbol.parse(symbol)]
        candles = s.candles.frame.iloc[first:].reset_index(drop=True)
        config = SimConfig(initial_cash=10_000.0 * alloc, leverage=2)
        targets = momentum_targets(candles["close"].to_numpy())
        pairs.append(
            pair_run(
                symbol, candles, targets, config, mark=s.mark.frame, funding=s.funding.frame, allocation=alloc
            )
        )
    return backtest_run(pairs, 10_000.0, strategy="momentum", run_id="syn/run 1", notes=["a run note"])


def test_portfolio_equity_is_the_sum_of_the_sub_accounts() -> None:
    run = synthetic_run()
    btc, eth = run.pairs
    assert eth.result.ts[0] == run.ts[100]  # ETH joins later: its cash sits idle until then
    np.testing.assert_allclose(run.equity[:100], btc.result.equity[:100] + eth.result.summary.initial_cash)
    np.testing.assert_allclose(run.equity[-1], btc.result.equity[-1] + eth.result.equity[-1])


def test_hand_case_books_the_expected_money() -> None:
    pair, _ = hand_case()
    s = pair.result.summary
    assert s.fills == 6 and s.liquidations == 0
    assert s.funding_paid == pytest.approx(0.11) and s.funding_received == pytest.approx(0.18)
    # gross -20 + 10 + 5, fees 0.001 × (100 + 120 + 300 + 90 + 100 + 105), funding -0.11 + 0.18
    assert s.final_equity == pytest.approx(10_000 - 5 - 0.815 + 0.07)


def test_special_cases_liquidate() -> None:
    iso, _ = isolated_liquidation_case()
    assert iso.result.summary.liquidations == 1 and iso.result.summary.final_equity > 9_000
    ruin, _ = ruin_case()
    assert ruin.result.summary.liquidations == 1 and ruin.result.summary.final_equity == 0.0
