"""Backtest speed: our kernel against vectorbt and backtrader on one SMA(20/100) workload, plus batching.

Workload: one 1,000,000-bar 1m series from the project's synthetic generator (deterministic by seed, with
its funding process), an always-in-market SMA(20/100) crossover holding ±1 unit, decided at each bar's
close and filled at the next bar's open, 0.04% taker fee, no spread or impact (the peers have neither).

1. Agreement first (funding off, no force-close, so the three engines model the same thing): order
   count and final equity of ours, vectorbt ``Portfolio.from_signals`` (its numba engine) and backtrader
   (``order_target_size`` market orders, which fill at the next bar's open) must match.
2. Timing, in the same process: ``simulate`` with funding and liquidation on (the default) from targets
   to results (per-bar equity and position, trade log) against ``from_signals`` + ``final_value``,
   best of ``--repeat`` alternating runs each after a warm-up; backtrader once (it takes minutes).
3. Batched: ``simulate_batch`` over 1,024 paths (fee × leverage variants) of the first ``--batch-bars``
   bars, all cores, best of ``--repeat``.

Peers come from the ``bench`` extra (``pip install -e .[bench]``); they are never imported by the package.
Last line: JSON {"bars_per_s": X, "ratio_vs_vectorbt": A, "ratio_vs_backtrader": B, "batched_steps_per_s": C}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from autoperp.data.synthetic import generate_series
from autoperp.sim import SimConfig, bracket_table, build_market, simulate
from autoperp.sim.batch import simulate_batch

FAST, SLOW = 20, 100
FEE = 0.0004
CASH = 1_000_000.0


def sma(x: np.ndarray, n: int) -> np.ndarray:
    c = np.concatenate(([0.0], np.cumsum(x)))
    out = np.full(x.shape[0], np.nan)
    out[n - 1 :] = (c[n:] - c[:-n]) / n
    return out


def sma_targets(close: np.ndarray) -> np.ndarray:
    f, s = sma(close, FAST), sma(close, SLOW)
    t = np.where(f > s, 1.0, -1.0)
    t[: SLOW - 1] = np.nan
    return t


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run_vectorbt(candles: pd.DataFrame, targets: np.ndarray) -> Callable[[], object]:
    import vectorbt as vbt  # bench extra

    idx = pd.to_datetime(candles["ts"], unit="ms")
    close = pd.Series(candles["close"].to_numpy(), idx)
    price = pd.Series(candles["open"].to_numpy(), idx)
    long = np.nan_to_num(targets) > 0
    short = np.nan_to_num(targets) < 0
    # a decision at bar t's close executes at bar t+1's open: shift the signals, trade at `price`=open
    entries = pd.Series(np.r_[False, long[:-1]], idx)
    short_entries = pd.Series(np.r_[False, short[:-1]], idx)

    def go() -> object:
        pf = vbt.Portfolio.from_signals(
            close, entries=entries, short_entries=short_entries, price=price, size=1.0, size_type="amount",
            fees=FEE, init_cash=CASH, freq="1min",
        )  # fmt: skip
        return pf, pf.final_value()

    return go


def run_backtrader(candles: pd.DataFrame) -> tuple[float, int, float]:
    import backtrader as bt  # bench extra

    class Sma(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.fast = bt.indicators.SMA(self.data.close, period=FAST)
            self.slow = bt.indicators.SMA(self.data.close, period=SLOW)
            self.orders = 0

        def notify_order(self, order: bt.Order) -> None:
            if order.status == order.Completed:
                self.orders += 1

        def next(self) -> None:
            self.order_target_size(target=1.0 if self.fast[0] > self.slow[0] else -1.0)

    df = candles[["open", "high", "low", "close", "volume"]].copy()
    df.index = pd.to_datetime(candles["ts"], unit="ms")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=df))
    cerebro.addstrategy(Sma)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=FEE)
    t0 = time.perf_counter()
    strat = cerebro.run()[0]
    return time.perf_counter() - t0, strat.orders, cerebro.broker.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--paths", type=int, default=1024)
    ap.add_argument("--batch-bars", type=int, default=200_000)
    ap.add_argument("--skip-backtrader", action="store_true", help="(it takes minutes on 1M bars)")
    args = ap.parse_args()

    series = generate_series(args.bars, symbol="BTC/USDT:USDT", seed=7)
    candles = series.candles.frame
    funding = series.funding.frame
    with_funding = build_market(
        candles, mark=series.mark.frame, funding=funding, symbol="BTCUSDT", timeframe="1m"
    )
    # marked at the trade close like the peers (the timed run marks at the mark price)
    no_funding = build_market(candles, symbol="BTCUSDT", timeframe="1m")
    targets = sma_targets(with_funding.data[3])
    cfg = SimConfig(initial_cash=CASH, target_kind="qty", taker_fee=FEE, half_spread=0.0, impact_k=0.0)

    # 1. agreement
    ours = simulate(no_funding, targets, cfg, force_close=False)
    vbt_go = run_vectorbt(candles, targets)
    pf, vbt_final = vbt_go()  # type: ignore[misc]
    vbt_orders = int(pf.orders.count())
    print(f"agreement  ours: {ours.summary.fills} fills, final {ours.summary.final_equity:,.4f} USDT")
    print(f"           vectorbt: {vbt_orders} orders, final {vbt_final:,.4f} USDT")
    ok = ours.summary.fills == vbt_orders and abs(ours.summary.final_equity - vbt_final) < 1e-6 * CASH
    bt_time = float("nan")
    if not args.skip_backtrader:
        bt_time, bt_orders, bt_final = run_backtrader(candles)
        print(f"           backtrader: {bt_orders} orders, final {bt_final:,.4f} USDT ({bt_time:.1f} s)")
        ok = (
            ok and bt_orders == ours.summary.fills and abs(bt_final - ours.summary.final_equity) < 1e-6 * CASH
        )
    if not ok:
        print("engines disagree: timings would compare different work", file=sys.stderr)
        sys.exit(1)

    # 2. timing, alternating, funding + liquidation on
    def ours_go() -> object:
        return simulate(with_funding, targets, cfg)

    ours_go()
    ours_times, vbt_times = [], []
    for _ in range(args.repeat):
        ours_times.append(best_of(ours_go, 1))
        vbt_times.append(best_of(vbt_go, 1))
    t_ours, t_vbt = min(ours_times), min(vbt_times)
    res = ours_go()
    print(f"ours       {t_ours * 1e3:8.2f} ms  ({args.bars / t_ours / 1e6:.1f} M bars/s; funding paid/received "
          f"{res.summary.funding_paid:,.2f}/{res.summary.funding_received:,.2f} USDT)")  # type: ignore[attr-defined]  # fmt: skip
    print(
        f"vectorbt   {t_vbt * 1e3:8.2f} ms  (median {np.median(vbt_times) * 1e3:.2f}; ours median {np.median(ours_times) * 1e3:.2f})"
    )

    # 3. batched
    part = with_funding.slice(0, args.batch_bars)
    fees = np.linspace(0.0002, 0.0006, args.paths // 4)
    configs = [
        SimConfig(initial_cash=CASH, leverage=lev, taker_fee=float(f))
        for lev in (1.0, 2.0, 3.0, 5.0)
        for f in fees
    ]
    batch_targets = sma_targets(part.data[3])[None, :]
    table = bracket_table("BTCUSDT")
    simulate_batch([part], batch_targets, configs[:2], [table])
    t_batch = best_of(
        lambda: simulate_batch([part], batch_targets, configs, [table]), max(args.repeat // 2, 2)
    )
    steps = len(configs) * args.batch_bars
    print(f"batched    {t_batch * 1e3:8.2f} ms for {len(configs)} paths × {args.batch_bars} bars")

    print(json.dumps({
        "bars_per_s": round(args.bars / t_ours),
        "ratio_vs_vectorbt": round(t_vbt / t_ours, 2),
        "ratio_vs_backtrader": round(bt_time / t_ours, 1) if bt_time == bt_time else None,
        "batched_steps_per_s": round(steps / t_batch),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
