"""The runner: per-pair sub-accounts, the portfolio curve on the union of bar times, the ledger record,
and market data from the store or straight from files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.backtest.data_source import load_from_files, load_from_store
from autoperp.backtest.portfolio import combine_equity, portfolio_returns
from autoperp.backtest.runner import allocation_weights, run_backtest
from autoperp.backtest.strategies import get_strategy
from autoperp.core.errors import ConfigError, DataError, StoreError, UsageError, ValidationError
from autoperp.core.time import TimeRange
from autoperp.core.types import MarginMode
from autoperp.data.archive_writer import write_klines_csv
from autoperp.data.synthetic import SyntheticSeries
from autoperp.metrics.ledger import TrialKind, TrialLedger
from autoperp.sim import SimConfig, simulate
from autoperp.sim.layout import M_CLOSE, M_MARK
from autoperp.sim.market import SimMarket
from tests.backtest.synthetic_inputs import (
    BTC,
    ETH,
    EXCHANGE,
    MIN,
    T0,
    fill_store,
    sim_market,
    synthetic,
    write_files,
)

N = 3_000


@pytest.fixture(scope="module")
def market() -> dict:
    return synthetic([BTC, ETH], N, seed=4)


@pytest.fixture(scope="module")
def markets(market: dict) -> list[SimMarket]:
    return [sim_market(market[BTC]), sim_market(market[ETH])]


def test_single_pair_equals_simulating_directly(markets: list[SimMarket]) -> None:
    cfg = SimConfig(leverage=2.0, taker_fee=0.0004)
    strategy = get_strategy("sma_trend", fast=10, slow=40)
    run = run_backtest(strategy, markets[:1], cfg)
    from autoperp.backtest.market_data import market_data_from_sim

    direct = simulate(markets[0], strategy.targets(market_data_from_sim(markets[0])), cfg)
    np.testing.assert_array_equal(run.pairs[0].result.equity, direct.equity)
    np.testing.assert_array_equal(run.equity, direct.equity)
    np.testing.assert_array_equal(run.ts, markets[0].ts)
    assert run.strategy == "sma_trend" and run.strategy_params["fast"] == 10
    assert run.pairs[0].allocation == 1.0 and run.initial_cash == 10_000.0
    assert run.timeframe == "1m" and run.trial_id is None
    assert run.run_id.endswith("_sma_trend")


def test_multi_pair_sub_accounts_and_portfolio_curve(markets: list[SimMarket]) -> None:
    late_eth = markets[1].slice(1_000, N)  # ETH starts 1000 bars later and so spans fewer bars
    early_btc = markets[0].slice(0, 2_500)  # BTC ends 500 bars early
    run = run_backtest(get_strategy("buy_and_hold"), [early_btc, late_eth], SimConfig(initial_cash=20_000))
    btc, eth = run.pairs
    assert btc.result.summary.initial_cash == 10_000.0 and eth.result.summary.initial_cash == 10_000.0
    np.testing.assert_array_equal(run.ts, markets[0].ts)  # the union of both spans
    # before ETH's first bar its sub-account is cash; after BTC's last bar BTC's equity is carried
    np.testing.assert_allclose(run.equity[:1_000], btc.result.equity[:1_000] + 10_000.0)
    np.testing.assert_allclose(run.equity[2_500:], btc.result.equity[-1] + eth.result.equity[1_500:])
    np.testing.assert_allclose(run.equity[1_000:2_500], btc.result.equity[1_000:] + eth.result.equity[:1_500])
    assert any("cross margin is per pair sub-account" in n for n in run.notes)


def test_allocations_and_idle_cash(markets: list[SimMarket]) -> None:
    run = run_backtest(
        get_strategy("buy_and_hold"), markets, SimConfig(), allocations={BTC.ccxt: 0.5, ETH.ccxt: 0.2}
    )
    assert [p.result.summary.initial_cash for p in run.pairs] == [5_000.0, 2_000.0]
    np.testing.assert_allclose(run.equity, run.pairs[0].result.equity + run.pairs[1].result.equity + 3_000.0)
    assert allocation_weights(["A", "B", "C", "D"], None) == [0.25] * 4


@pytest.mark.parametrize(
    ("alloc", "needle"),
    [
        ([0.7, 0.6], "sum to 1.3"),
        ([0.5], "1 given for 2 pair(s)"),
        ([0.5, -0.1], "ETH/USDT:USDT has -0.1"),
        ({"BTC/USDT:USDT": 0.5}, "no allocation for ETH/USDT:USDT"),
        ({"BTC/USDT:USDT": 0.5, "ETH/USDT:USDT": 0.1, "SOL/USDT:USDT": 0.1}, "unknown pair(s) SOL/USDT:USDT"),
    ],
)
def test_bad_allocations(markets: list[SimMarket], alloc: object, needle: str) -> None:
    with pytest.raises(UsageError) as ei:
        run_backtest(get_strategy("buy_and_hold"), markets, SimConfig(), allocations=alloc)  # type: ignore[arg-type]
    assert needle in ei.value.one_line()


def test_every_run_is_recorded_in_the_ledger(markets: list[SimMarket], tmp_path: Path) -> None:
    ledger = TrialLedger.in_user_data(tmp_path)
    cfg = SimConfig(leverage=2.0, margin_mode=MarginMode.ISOLATED)
    run = run_backtest(get_strategy("sma_trend", fast=5, slow=30), markets, cfg, ledger=ledger)
    assert run.trial_id == "T000001" and run.run_id.endswith("_T000001")
    rec = ledger.get("T000001")
    assert rec.kind is TrialKind.BACKTEST and rec.family == "sma_trend"
    assert rec.name == "sma_trend(exposure=1.0,fast=5,slow=30)"
    assert rec.config["params"] == {"fast": 5, "slow": 30, "exposure": 1}
    assert rec.config["sim"]["leverage"] == 2 and rec.config["sim"]["margin_mode"] == "isolated"
    assert rec.config["allocations"] == {BTC.ccxt: 0.5, ETH.ccxt: 0.5}
    assert rec.data_range.symbols == (BTC.ccxt, ETH.ccxt) and rec.data_range.timeframe == "1m"
    assert (rec.data_range.start_ms, rec.data_range.end_ms) == (T0, T0 + N * MIN)
    ts, r = ledger.returns("T000001")
    np.testing.assert_array_equal(ts, run.ts)
    np.testing.assert_allclose(r, portfolio_returns(run.equity, run.initial_cash))
    assert math.isclose(np.prod(1 + r) * run.initial_cash, run.equity[-1], rel_tol=1e-9)
    assert math.isclose(rec.metrics["total_return"], run.equity[-1] / 10_000 - 1, rel_tol=1e-9)
    run_backtest(get_strategy("sma_trend", fast=6, slow=30), markets, cfg, ledger=ledger)
    run_backtest(get_strategy("buy_and_hold"), markets, cfg, ledger=ledger)
    assert ledger.n_trials("sma_trend") == 2 and ledger.n_trials("buy_and_hold") == 1


def test_an_object_with_decide_is_a_strategy(markets: list[SimMarket]) -> None:
    class Policy:  # what a trained model will look like: no autoperp base class
        def decide(self, window: object) -> float:
            return 0.5

    run = run_backtest(Policy(), markets[:1], SimConfig())
    assert run.strategy == "Policy"
    assert (run.pairs[0].targets == 0.5).all()
    assert run.pairs[0].result.summary.fills > 1  # re-asks 0.5 x equity every bar: rebalancing fills


def test_a_failing_user_strategy_names_its_file_and_line(markets: list[SimMarket], tmp_path: Path) -> None:
    from autoperp.backtest.loader import load_strategy_file

    path = tmp_path / "bad.py"
    path.write_text(
        "class Bad:\n    def decide(self, window):\n        if len(window) > 50:\n            raise ValueError('boom')\n        return 1.0\n"
    )
    strategy = load_strategy_file(path)()
    with pytest.raises(UsageError) as ei:
        run_backtest(strategy, markets[:1], SimConfig())
    assert ei.value.one_line() == f"{path}: line 4: strategy Bad failed on BTC/USDT:USDT: ValueError: boom"
    # a decide that returns something that is not a number fails inside autoperp, yet is the file's fault
    odd = tmp_path / "odd.py"
    odd.write_text(
        "from autoperp.backtest.strategy import Strategy\n\n\nclass Odd(Strategy):\n"
        "    def decide(self, window):\n        return 'long'\n"
    )
    with pytest.raises(UsageError) as ei:
        run_backtest(load_strategy_file(odd)(), markets[:1], SimConfig())
    assert ei.value.one_line().startswith(
        f"{odd}: strategy Odd failed on BTC/USDT:USDT: ValueError: could not convert"
    )


def test_bad_targets_are_refused(markets: list[SimMarket]) -> None:
    class Short:
        def decide(self, window: object) -> float:
            return 1.0

        def targets(self, data: object) -> np.ndarray:
            return np.ones(10)

    with pytest.raises(UsageError, match=r"\(10,\) targets for 3000 bars of BTC/USDT:USDT"):
        run_backtest(Short(), markets[:1], SimConfig())

    class Infinite(Short):
        def targets(self, data: object) -> np.ndarray:
            t = np.full(N, np.nan)
            t[7] = np.inf
            return t

    with pytest.raises(UsageError, match="target inf at bar 7"):
        run_backtest(Infinite(), markets[:1], SimConfig())


def test_bracket_file_overrides_the_bundled_tiers(markets: list[SimMarket], tmp_path: Path) -> None:
    path = tmp_path / "brackets.json"
    tiers = [
        {"notionalFloor": 0, "notionalCap": 1e9, "initialLeverage": 5, "maintMarginRatio": 0.02, "cum": 0}
    ]
    path.write_text(json.dumps([{"symbol": "BTCUSDT", "brackets": tiers}]))
    run = run_backtest(get_strategy("buy_and_hold"), markets, SimConfig(leverage=3), brackets_file=path)
    assert run.pairs[0].result.brackets_source == str(path)
    assert run.pairs[0].result.brackets[0, 3] == 0.02
    assert any("ETH/USDT:USDT: not in" in n for n in run.notes)
    with pytest.raises(ConfigError, match="leverage 10x exceeds"):
        run_backtest(get_strategy("buy_and_hold"), markets[:1], SimConfig(leverage=10), brackets_file=path)


def test_combine_equity_carries_forward() -> None:
    class R:
        def __init__(self, ts: list[int], eq: list[float], cash: float) -> None:
            self.ts, self.equity = np.array(ts), np.array(eq)
            self.summary = type("S", (), {"initial_cash": cash})()

    class P:
        def __init__(self, r: R) -> None:
            self.result = r

    pairs = [P(R([1, 3], [110.0, 120.0], 100.0)), P(R([2, 3, 4], [45.0, 40.0, 60.0], 50.0))]
    ts, eq = combine_equity(pairs, 200.0)  # type: ignore[arg-type]
    assert ts.tolist() == [1, 2, 3, 4]
    assert eq.tolist() == [50 + 110 + 50, 50 + 110 + 45, 50 + 120 + 40, 50 + 120 + 60]
    assert portfolio_returns(np.array([100.0, 0.0, 0.0, -5.0]), 100.0).tolist() == [0.0, -1.0, 0.0, 0.0]


# ------------------------------------------------------------------------------------------------ store
@pytest.fixture(scope="module")
def store_root(market: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store") / "data"
    fill_store(root, market)
    return root


def test_store_gives_candles_mark_and_funding(store_root: Path, markets: list[SimMarket]) -> None:
    from autoperp.data.store.parquet import ParquetStore

    loaded = load_from_store(ParquetStore(store_root), EXCHANGE, [BTC, ETH], "1m", TimeRange())
    btc = loaded.markets[0]
    assert [m.symbol for m in loaded.markets] == [BTC.ccxt, ETH.ccxt]
    np.testing.assert_array_equal(btc.ts, markets[0].ts)
    np.testing.assert_array_equal(btc.data, markets[0].data)  # same bars, mark and funding as in memory
    assert btc.mark_source == "mark" and btc.n_settlements == markets[0].n_settlements > 0
    assert len(loaded.sources) == 6


def test_store_timerange_and_resampling(store_root: Path) -> None:
    from autoperp.data.store.parquet import ParquetStore

    store = ParquetStore(store_root)
    tr = TimeRange(T0 + 100 * MIN, T0 + 500 * MIN)
    m = load_from_store(store, EXCHANGE, [BTC], "1m", tr).markets[0]
    assert len(m) == 400 and m.ts[0] == T0 + 100 * MIN
    five = load_from_store(store, EXCHANGE, [BTC], "5m", TimeRange()).markets[0]
    assert len(five) == N // 5 and five.timeframe == "5m"
    np.testing.assert_array_equal(
        five.data[M_CLOSE], store.read_candles(EXCHANGE, BTC, "1m")["close"].to_numpy()[4::5]
    )


def test_store_refusals(store_root: Path) -> None:
    from autoperp.core.symbols import Symbol
    from autoperp.data.store.parquet import ParquetStore

    store = ParquetStore(store_root)
    with pytest.raises(UsageError) as ei:
        load_from_store(store, EXCHANGE, [BTC], "1m", TimeRange.parse("20250101-20250201"))
    msg = ei.value.one_line()
    assert "no 1m bars of BTC/USDT:USDT in [2025-01-01 00:00:00, 2025-02-01 00:00:00)" in msg
    assert "stored: 2024-01-01 00:00:00 → 2024-01-03 01:59:00" in msg
    with pytest.raises(StoreError, match="SOL/USDT:USDT"):
        load_from_store(store, EXCHANGE, [Symbol.parse("SOL/USDT:USDT")], "1m", TimeRange())


# ------------------------------------------------------------------------------------------------ files
def test_files_give_the_same_market_as_memory(market: dict, markets: list[SimMarket], tmp_path: Path) -> None:
    files = write_files(tmp_path, market[BTC], parts=3)
    loaded = load_from_files(
        files["candles"], "1m", TimeRange(), mark_files=files["mark"], funding_files=files["funding"]
    )
    m = loaded.markets[0]
    assert m.symbol == BTC.ccxt and len(m) == N
    np.testing.assert_array_equal(m.ts, markets[0].ts)
    np.testing.assert_allclose(m.data[M_CLOSE], markets[0].data[M_CLOSE], rtol=0, atol=0)
    np.testing.assert_allclose(m.data[M_MARK], markets[0].data[M_MARK], rtol=0, atol=0)
    assert m.mark_source == "mark" and m.n_settlements == markets[0].n_settlements
    assert loaded.sources == [str(p) for p in files["candles"] + files["mark"] + files["funding"]]
    # a funding file among --datafile is recognised by its content and name
    auto = load_from_files(files["candles"] + files["funding"], "1m", TimeRange()).markets[0]
    assert auto.n_settlements == markets[0].n_settlements and auto.mark_source == "trade"


def test_files_timerange_pairs_and_resampling(market: dict, tmp_path: Path) -> None:
    files = write_files(tmp_path, market[BTC], parts=2)
    tr = TimeRange(T0 + 60 * MIN, T0 + 1_260 * MIN)
    five = load_from_files(files["candles"], "5m", tr, symbols=[BTC]).markets[0]
    assert len(five) == 240 and five.ts[0] == T0 + 60 * MIN
    closes = market[BTC].candles.frame["close"].to_numpy()
    np.testing.assert_array_equal(five.data[M_CLOSE], closes[64:1_260:5])
    with pytest.raises(
        UsageError, match=r"no candles of ETH/USDT:USDT in the data files \(they hold: BTC/USDT:USDT\)"
    ):
        load_from_files(files["candles"], "1m", TimeRange(), symbols=[ETH])
    with pytest.raises(UsageError, match="no 1m bars of BTC/USDT:USDT in"):
        load_from_files(files["candles"], "1m", TimeRange.parse("20250101-20250102"))
    columns = {c: five.data[i] for i, c in enumerate(("open", "high", "low", "close", "volume"))}
    five_file = write_klines_csv(
        pd.DataFrame(columns).assign(ts=five.ts), tmp_path / "BTCUSDT-5m-2024-01.csv", 5 * MIN
    )
    with pytest.raises(UsageError, match="cannot make 1m bars from 5m bars"):
        load_from_files([five_file], "1m", TimeRange())


def test_file_refusals_name_the_file(market: dict, tmp_path: Path) -> None:
    series: SyntheticSeries = market[BTC]
    files = write_files(tmp_path, series, parts=2)
    frame = series.candles.frame.iloc[:10].copy()
    frame.loc[3, "close"] = frame.loc[3, "close"] * 1.0001
    frame.loc[3, "high"] = frame.loc[3, ["high", "close"]].max()
    clash = write_klines_csv(frame, tmp_path / "BTCUSDT-1m-clash.csv", MIN)
    with pytest.raises(DataError) as ei:
        load_from_files([*files["candles"], clash], "1m", TimeRange())
    assert (
        "two different rows for 2024-01-01 00:03:00" in ei.value.one_line()
        and "clash.csv" in ei.value.one_line()
    )
    broken = series.candles.frame.iloc[:20].copy()
    broken.loc[7, "high"] = broken.loc[7, "low"] * 0.5
    bad = write_klines_csv(broken, tmp_path / "BTCUSDT-1m-bad.csv", MIN)
    with pytest.raises(ValidationError) as vi:
        load_from_files([bad], "1m", TimeRange())
    assert vi.value.path is not None and "BTCUSDT-1m-bad.csv" in vi.value.path and vi.value.row == 8
    with pytest.raises(UsageError, match="data file not found"):
        load_from_files([tmp_path / "nope.csv"], "1m", TimeRange())
    with pytest.raises(UsageError, match="no candle data among the --datafile files"):
        load_from_files(files["funding"], "1m", TimeRange())


def test_gaps_in_files_are_stepped_over_and_noted(market: dict, tmp_path: Path) -> None:
    frame = market[BTC].candles.frame
    holed = pd.concat([frame.iloc[:1_000], frame.iloc[1_100:]], ignore_index=True)
    path = write_klines_csv(holed, tmp_path / "BTCUSDT-1m-2024-01.csv", MIN)
    loaded = load_from_files([path], "1m", TimeRange())
    assert len(loaded.markets[0]) == N - 100
    assert any("gap" in n for n in loaded.notes)
    run = run_backtest(get_strategy("sma_trend"), loaded.markets, SimConfig())
    assert np.isfinite(run.equity).all()
