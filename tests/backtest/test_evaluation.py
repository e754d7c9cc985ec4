"""Out-of-sample evaluation: segments from the metrics splitters, every candidate simulated per segment
after costs, baselines on the same segments, PBO over the parameter grid, DSR with N from the ledger,
the vault's one-look rule, and the HTML/JSON written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from autoperp.backtest.evaluation import (
    EvaluationSettings,
    Scheme,
    evaluate_strategy,
    make_segments,
    write_evaluation,
)
from autoperp.backtest.evaluation.candidates import grid_candidates
from autoperp.backtest.evaluation.markets import align_markets
from autoperp.backtest.evaluation.segment_sim import held_target
from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategies import get_strategy
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError
from autoperp.metrics import deflated_sharpe_ratio, probability_of_backtest_overfitting, sharpe_moments
from autoperp.metrics.ledger import TrialLedger, VaultReuseError
from autoperp.sim import SimConfig, SimMarket
from autoperp.sim import layout as L
from tests.backtest.synthetic_inputs import BTC, ETH, sim_market, synthetic

N_BARS = 6_000
FREE = SimConfig(taker_fee=0.0, maker_fee=0.0, half_spread=0.0, impact_k=0.0)


@pytest.fixture(scope="module")
def markets() -> dict[str, SimMarket]:
    series = synthetic([BTC, ETH], N_BARS, seed=7)
    return {"BTC": sim_market(series[BTC]), "ETH": sim_market(series[ETH])}


@pytest.fixture
def ledger(tmp_path: Path) -> TrialLedger:
    return TrialLedger(tmp_path / "ledger")


class Momentum(Strategy):
    """A user strategy without a parameter grid: long after an up-move of ``lookback`` bars."""

    name = "momentum"
    lookback: int = 30

    def decide(self, window: Window) -> float:
        c = window.close
        return (1.0 if c[-1] > c[-self.lookback] else -1.0) if len(c) >= self.lookback else math.nan

    def targets(self, data: MarketData) -> np.ndarray:
        out = np.full(len(data), math.nan)
        c = data.close
        k = self.lookback
        out[k - 1 :] = np.where(c[k - 1 :] > c[: len(c) - k + 1], 1.0, -1.0)
        return out


# ------------------------------------------------------------------------------------------------ segments
def test_walk_forward_segments_follow_the_warm_up_window() -> None:
    ts = np.arange(1_200, dtype=np.int64) * 60_000
    seg = make_segments(1_200, ts, EvaluationSettings(folds=5))
    assert seg.ranges == [(200, 400), (400, 600), (600, 800), (800, 1000), (1000, 1200)]
    assert seg.train[0] == (0, 200) and seg.train[-1] == (0, 1000)  # anchored
    rolling = make_segments(1_200, ts, EvaluationSettings(folds=5, anchored=False))
    assert rolling.train[-1] == (800, 1000)
    assert np.array_equal(seg.oos_index(), np.arange(200, 1200))


def test_cpcv_segments_cover_every_bar_once() -> None:
    ts = np.arange(1_000, dtype=np.int64) * 60_000
    seg = make_segments(1_000, ts, EvaluationSettings(scheme=Scheme.CPCV, folds=6, test_groups=2))
    assert np.array_equal(seg.oos_index(), np.arange(1_000))
    assert seg.n_splits == 15 and seg.n_paths == 5


def test_too_short_a_history_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="fewer --folds"):
        make_segments(50, np.arange(50, dtype=np.int64), EvaluationSettings(folds=8))


def test_settings_refuse_odd_partitions() -> None:
    with pytest.raises(ValueError, match="even"):
        EvaluationSettings(pbo_partitions=5)


# ------------------------------------------------------------------------------------------------ costs
def test_held_target_carries_the_position_into_a_segment() -> None:
    t = np.array([np.nan, 1.0, np.nan, np.nan, -0.5, np.nan])
    assert held_target(t, 0) != held_target(t, 0)  # NaN: nothing held yet
    assert held_target(t, 3) == 1.0 and held_target(t, 5) == -0.5


def test_buy_and_hold_is_in_the_market_in_every_segment(ledger: TrialLedger) -> None:
    bare = sim_market(synthetic([BTC], 3_000, seed=2)[BTC], mark=False, funding=False)
    ev = evaluate_strategy(get_strategy("buy_and_hold"), [bare], ledger=ledger, sim_config=FREE)
    bh = ev.result
    assert bh.fills == 2 * len(ev.segments.ranges)  # in at each segment's second bar, out at its last
    close = bare.data[L.M_CLOSE]
    opens = bare.data[L.M_OPEN]
    for (a, b), fold in zip(ev.segments.ranges, bh.folds, strict=True):
        # without costs, a segment earns exactly the move from the fill (next open) to the last close
        assert fold.total_return == pytest.approx(close[b - 1] / opens[a + 1] - 1.0, rel=1e-9, abs=1e-12)


def test_costs_are_charged(markets: dict[str, SimMarket], ledger: TrialLedger) -> None:
    s = get_strategy("sma_trend", fast=10, slow=60)
    free = evaluate_strategy(s, [markets["BTC"]], ledger=ledger, sim_config=FREE)
    paid = evaluate_strategy(s, [markets["BTC"]], ledger=ledger)
    assert free.result.fees == 0.0 and paid.result.fees > 0.0
    assert paid.result.fills == free.result.fills > 20
    assert paid.result.oos.total_return < free.result.oos.total_return


# ------------------------------------------------------------------------------------------------ results
def test_evaluation_reports_baselines_grid_pbo_and_dsr(
    markets: dict[str, SimMarket], ledger: TrialLedger
) -> None:
    ev = evaluate_strategy(get_strategy("sma_trend"), [markets["BTC"]], ledger=ledger)
    assert [b.label for b in ev.baselines] == ["flat", "buy_and_hold", "sma_trend", "funding_carry"]
    flat = ev.baselines[0]
    assert flat.fills == 0 and not flat.returns.any() and flat.oos.sharpe == 0.0
    assert all(b.returns.shape == ev.oos_ts.shape for b in ev.baselines)
    assert "sma_trend" not in ev.beats()  # the strategy is not compared with itself
    assert set(ev.beats()) == {"flat", "buy_and_hold", "funding_carry"}
    # the grid: sma_trend fast x slow, the evaluated parameters included, and PBO measured on it
    assert len(ev.grid) == 9 and any(g.params == ev.result.params for g in ev.grid)
    assert ev.pbo is not None and ev.pbo_source == "grid"
    again = probability_of_backtest_overfitting(np.column_stack([g.returns for g in ev.grid]), 16)
    assert ev.pbo.pbo == again.pbo and 0.0 <= ev.pbo.pbo <= 1.0
    # DSR: N is the ledger's count for the family, this evaluation included
    assert ev.dsr is not None and ev.dsr.n_trials == 1 == ledger.n_trials("sma_trend")
    mom = sharpe_moments(ev.result.returns)
    expected = deflated_sharpe_ratio(
        mom.sharpe, mom.n, n_trials=1, sharpe_variance=0.0, skewness=mom.skewness, kurtosis=mom.kurtosis
    )
    assert ev.dsr.dsr == pytest.approx(expected)
    rec = ledger.get(ev.trial_id or "")
    assert rec.kind.value == "evaluate" and rec.family == "sma_trend"
    ts, ret = ledger.returns(rec.trial_id)
    assert np.array_equal(ts, ev.oos_ts) and np.allclose(ret, ev.result.returns)


def test_dsr_n_grows_with_the_ledger(markets: dict[str, SimMarket], ledger: TrialLedger) -> None:
    ns = []
    for fast in (10, 20, 30):
        ev = evaluate_strategy(get_strategy("sma_trend", fast=fast), [markets["BTC"]], ledger=ledger)
        assert ev.dsr is not None
        ns.append(ev.dsr.n_trials)
    assert ns == [1, 2, 3]
    assert ev.dsr.sharpe_variance > 0 and ev.dsr.expected_max_sharpe > 0
    assert ev.dsr.dsr < ev.result.oos.psr  # more trials, a higher bar


def test_cpcv_scheme(markets: dict[str, SimMarket], ledger: TrialLedger) -> None:
    settings = EvaluationSettings(scheme=Scheme.CPCV, folds=6, test_groups=2)
    ev = evaluate_strategy(
        get_strategy("sma_trend", fast=10, slow=50), [markets["BTC"]], ledger=ledger, settings=settings
    )
    assert len(ev.result.folds) == 6 and ev.oos_ts.shape[0] == N_BARS
    assert any("CPCV" in n for n in ev.notes)


def test_strategy_without_grid_uses_the_ledger_for_pbo(
    markets: dict[str, SimMarket], ledger: TrialLedger
) -> None:
    assert grid_candidates(Momentum()) == []
    first = evaluate_strategy(Momentum(), [markets["BTC"]], ledger=ledger)
    assert first.pbo is None and any("PBO" in n for n in first.notes)
    evaluate_strategy(Momentum(lookback=90), [markets["BTC"]], ledger=ledger)
    third = evaluate_strategy(Momentum(lookback=200), [markets["BTC"]], ledger=ledger)
    assert third.pbo is not None and third.pbo_source == "ledger" and third.pbo.n_trials == 3


def test_a_param_grid_classmethod_defines_the_pbo_trials(
    markets: dict[str, SimMarket], ledger: TrialLedger
) -> None:
    class GridMomentum(Momentum):
        name = "grid_momentum"

        @classmethod
        def param_grid(cls) -> dict[str, list[int]]:
            return {"lookback": [10, 60, 240]}

    labels = [c.label for c in grid_candidates(GridMomentum())]
    assert labels == [
        "grid_momentum",
        "grid_momentum(lookback=10)",
        "grid_momentum(lookback=60)",
        "grid_momentum(lookback=240)",
    ]
    ev = evaluate_strategy(GridMomentum(), [markets["BTC"]], ledger=ledger)
    assert ev.pbo is not None and ev.pbo.n_trials == 4 and ev.pbo_source == "grid"


def test_two_pairs_share_the_cash(markets: dict[str, SimMarket], ledger: TrialLedger) -> None:
    both = evaluate_strategy(
        get_strategy("buy_and_hold"), [markets["BTC"], markets["ETH"]], ledger=ledger, sim_config=FREE
    )
    one = [
        evaluate_strategy(get_strategy("buy_and_hold"), [m], ledger=ledger, sim_config=FREE)
        for m in markets.values()
    ]
    assert both.symbols == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert both.result.fills == one[0].result.fills + one[1].result.fills
    for i in range(len(both.segments.ranges)):
        # half the cash in each: the portfolio's segment return is the mean of the pairs'
        mean = (one[0].result.folds[i].total_return + one[1].result.folds[i].total_return) / 2
        assert both.result.folds[i].total_return == pytest.approx(mean, rel=1e-9)


def test_pairs_with_different_bars_are_refused(markets: dict[str, SimMarket]) -> None:
    btc = markets["BTC"]
    holed = SimMarket(
        np.delete(btc.ts, 500), np.delete(btc.data, 500, axis=1), symbol="X/USDT:USDT", timeframe="1m"
    )
    with pytest.raises(UsageError, match="one at a time"):
        align_markets([btc, holed])


# ------------------------------------------------------------------------------------------------ vault
def test_vault_gives_one_look_per_configuration(markets: dict[str, SimMarket], ledger: TrialLedger) -> None:
    s = get_strategy("sma_trend", fast=10, slow=200)
    first = evaluate_strategy(s, [markets["BTC"]], ledger=ledger, vault=True)
    assert first.vault and first.ledger_kind == "vault" and first.model_id
    assert first.dsr is not None and first.dsr.n_trials == 1  # no selection trial recorded: DSR = PSR
    assert ledger.n_trials("sma_trend") == 0  # a vault trial is not a selection trial
    with pytest.raises(VaultReuseError, match="already used the vault"):
        evaluate_strategy(s, [markets["BTC"]], ledger=ledger, vault=True)
    forced = evaluate_strategy(s, [markets["BTC"]], ledger=ledger, vault=True, force=True)
    assert forced.ledger_kind == "evaluate"  # a second look counts as one more selection round
    assert len(ledger.vault_uses(first.model_id or "")) == 1
    assert "forced second look" in ledger.get(forced.trial_id or "").notes
    # another configuration has its own look
    other = evaluate_strategy(
        get_strategy("sma_trend", fast=20, slow=200), [markets["BTC"]], ledger=ledger, vault=True
    )
    assert other.ledger_kind == "vault" and other.model_id != first.model_id


# ------------------------------------------------------------------------------------------------ reports
def test_reports_are_written(markets: dict[str, SimMarket], ledger: TrialLedger, tmp_path: Path) -> None:
    ev = evaluate_strategy(get_strategy("sma_trend"), [markets["BTC"]], ledger=ledger)
    paths = write_evaluation(ev, tmp_path / "out")
    doc = json.loads(paths["json"].read_text())
    assert doc["trial_id"] == ev.trial_id and doc["pbo"]["pbo"] == ev.pbo.pbo  # type: ignore[union-attr]
    assert doc["dsr"]["n_trials"] == 1 and len(doc["baselines"]) == 4 and len(doc["grid"]) == 9
    html = paths["html"].read_text()
    for div in (
        "fig-oos-equity",
        "fig-fold-sharpe",
        "fig-pbo",
        "fig-dsr",
        "table-baselines",
        "table-overfitting",
    ):
        assert f'id="{div}"' in html
    assert html.count("Plotly.newPlot(") == 4
    assert "<script src=" not in html  # plotly.js is inside: the page renders offline
    assert paths["html"].stat().st_size > 1_000_000
