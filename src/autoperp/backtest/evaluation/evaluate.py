"""Evaluate a strategy out of sample: walk-forward or CPCV segments simulated after costs, next to the
baselines, with PBO over its parameter grid and DSR against every trial the ledger counts for its family."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autoperp.backtest.evaluation.candidates import (
    Candidate,
    baseline_candidates,
    grid_candidates,
    strategy_label,
)
from autoperp.backtest.evaluation.ledger_entry import check_vault_unused, strategy_model_id, trial_config
from autoperp.backtest.evaluation.markets import align_markets, bar_length_ms
from autoperp.backtest.evaluation.result import CandidateResult, DeflatedSharpe, Evaluation
from autoperp.backtest.evaluation.scores import score_returns
from autoperp.backtest.evaluation.segment_sim import SegmentRuns, simulate_segments
from autoperp.backtest.evaluation.segments import Segments, make_segments
from autoperp.backtest.evaluation.settings import EvaluationSettings
from autoperp.backtest.market_data import market_data_from_sim
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError
from autoperp.metrics import (
    PBOResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probability_of_backtest_overfitting,
    sharpe_moments,
)
from autoperp.metrics.inputs import MetricsInputError
from autoperp.metrics.ledger import DataRange, DSRInputs, TrialKind, TrialLedger
from autoperp.sim.config import SimConfig
from autoperp.sim.market import SimMarket

__all__ = ["evaluate_strategy"]

Progress = Callable[[str], None]


def _key(s: Strategy) -> str:
    return f"{type(s).__module__}.{type(s).__qualname__}:{sorted(s.params().items())!r}"


def _targets(strategy: Strategy, markets: Sequence[SimMarket], label: str) -> list[np.ndarray]:
    out = []
    for m in markets:
        data = market_data_from_sim(m)
        t = np.asarray(strategy.targets(data), dtype=np.float64)
        if t.shape != (len(data),):
            raise UsageError(
                f"{label}: targets() returned shape {t.shape} for {m.symbol}, expected ({len(data)},)"
            )
        out.append(t)
    return out


def _candidate_result(cand: Candidate, runs: SegmentRuns, index: int, bar_ms: int) -> CandidateResult:
    per_seg = runs.returns[index]
    rows = runs.summary[runs.summary["candidate"] == index]
    oos = np.concatenate(per_seg)
    return CandidateResult(
        role=cand.role,
        label=cand.label,
        name=cand.strategy.name or type(cand.strategy).__name__,
        params=dict(cand.strategy.params()),
        oos=score_returns(oos, bar_ms),
        folds=[score_returns(r, bar_ms) for r in per_seg],
        fees=float(rows["fees"].sum()),
        funding_net=float(rows["funding_net"].sum()),
        turnover=float(rows["turnover"].sum()),
        fills=int(rows["fills"].sum()),
        liquidations=int(rows["liquidations"].sum()),
        returns=oos,
    )


def _pbo(matrix: np.ndarray, partitions: int) -> PBOResult | None:
    s = partitions
    while s > 2 and matrix.shape[0] // s < 2:
        s -= 2
    if matrix.shape[1] < 2 or matrix.shape[0] // s < 2:
        return None
    return probability_of_backtest_overfitting(matrix, n_partitions=s)


def _ledger_pbo(ledger: TrialLedger, family: str, partitions: int, notes: list[str]) -> PBOResult | None:
    try:
        _, m, ids = ledger.returns_matrix(family=family)
    except UsageError as e:
        notes.append(f"PBO: {e}")
        return None
    result = _pbo(m, partitions) if m.size else None
    if result is None:
        notes.append(f"PBO: the ledger's {len(ids)} trial(s) of '{family}' share too few bars for CSCV")
    return result


def _dsr(
    ledger: TrialLedger, family: str, returns: np.ndarray, bar_ms: int, notes: list[str]
) -> DeflatedSharpe | None:
    try:
        mom = sharpe_moments(returns)
    except MetricsInputError as e:
        notes.append(f"DSR: {e}")
        return None
    try:
        inputs = ledger.dsr_inputs(family, bar_ms=bar_ms)
    except UsageError:
        # a vault run of a family with no recorded selection trials: nothing was selected among, N = 1
        inputs = DSRInputs(1, 0.0)
        notes.append(f"DSR: no selection trials of '{family}' in the ledger, N = 1 (DSR = PSR)")
    try:
        dsr = deflated_sharpe_ratio(
            mom.sharpe, mom.n, **inputs._asdict(), skewness=mom.skewness, kurtosis=mom.kurtosis
        )
    except MetricsInputError as e:
        notes.append(f"DSR: {e}")
        dsr = math.nan
    return DeflatedSharpe(
        dsr=dsr,
        family=family,
        n_trials=inputs.n_trials,
        sharpe_variance=inputs.sharpe_variance,
        expected_max_sharpe=expected_max_sharpe(inputs.n_trials, inputs.sharpe_variance),
        sharpe_per_bar=mom.sharpe,
        skewness=mom.skewness,
        kurtosis=mom.kurtosis,
        bars=mom.n,
    )


def evaluate_strategy(
    strategy: Strategy,
    markets: Sequence[SimMarket],
    *,
    ledger: TrialLedger,
    settings: EvaluationSettings | None = None,
    sim_config: SimConfig | None = None,
    vault: bool = False,
    force: bool = False,
    data_sources: Sequence[str] = (),
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate ``strategy`` on ``markets`` (one or more pairs sharing their bars, equal cash each).

    Every out-of-sample segment of ``settings.scheme`` is simulated after the costs of ``sim_config`` for
    the strategy, the baselines and the strategy's parameter grid. The strategy's out-of-sample returns are
    recorded in ``ledger`` (kind ``evaluate``; ``vault`` when ``vault`` is set) before DSR is computed, so
    N includes this evaluation. ``vault``: the markets are the final test set; a second evaluation of the
    same strategy configuration there raises :class:`VaultReuseError` unless ``force``.
    """
    settings = settings or EvaluationSettings()
    sim_config = sim_config or SimConfig()
    say = progress or (lambda _msg: None)
    notes: list[str] = []
    name = strategy.name or type(strategy).__name__
    label = strategy_label(strategy)
    model_id = strategy_model_id(strategy) if vault else None
    earlier_vault = check_vault_unused(ledger, model_id, force) if model_id is not None else []

    markets = align_markets(markets)
    ts = markets[0].ts
    n = len(markets[0])
    bar_ms = bar_length_ms(markets[0])
    segments: Segments = make_segments(n, ts, settings)
    if segments.scheme.value == "cpcv":
        notes.append(
            f"CPCV: {segments.n_splits} splits, {segments.n_paths} paths; a rule strategy trains on nothing, "
            "so every path strings the same group results together"
        )

    cands = [Candidate("strategy", label, strategy), *baseline_candidates(settings.baselines)]
    grid = grid_candidates(strategy)
    cands += grid
    unique: dict[str, int] = {}
    order: list[Candidate] = []
    for c in cands:
        unique.setdefault(_key(c.strategy), len(order))
        if unique[_key(c.strategy)] == len(order):
            order.append(c)
    say(f"targets of {len(order)} strategies on {len(markets)} pair(s), {n:,} bars")
    targets = [_targets(c.strategy, markets, c.label) for c in order]
    say(f"simulating {len(order)} × {len(segments.ranges)} segments after costs")
    runs = simulate_segments(markets, targets, segments.ranges, sim_config)
    results = [_candidate_result(c, runs, unique[_key(c.strategy)], bar_ms) for c in cands]
    # one simulation can serve several roles (sma_trend as the strategy, a baseline and a grid variant)
    for c, r in zip(cands, results, strict=True):
        r.role, r.label = c.role, c.label
    oos_ts = ts[segments.oos_index()]
    main = results[0]
    baselines = [r for r in results if r.role == "baseline"]
    grid_results = [r for r in results if r.role == "grid"]

    say("recording the evaluation in the ledger")
    symbols = [m.symbol or "UNKNOWN" for m in markets]
    data_range = DataRange(symbols, markets[0].timeframe or f"{bar_ms}ms", int(ts[0]), int(ts[-1]) + bar_ms)
    extra: dict[str, Any] = {
        "evaluation": settings.model_dump(mode="json", exclude={"max_plot_points"}),
        "sim": sim_config.model_dump(mode="json"),
        "vault": vault,
    }
    kind = TrialKind.VAULT if vault and not earlier_vault else TrialKind.EVALUATE
    trial_notes = ""
    if vault and earlier_vault:
        trial_notes = f"forced second look at the vault (first: {earlier_vault[0].trial_id})"
        notes.append(f"vault: {trial_notes}; recorded as an evaluate trial, so it counts toward N")
    rec = ledger.record(
        kind,
        f"{label} {settings.scheme.value}" + (" vault" if vault else ""),
        name,
        trial_config(strategy, extra),
        data_range,
        oos_ts,
        main.returns,
        metrics={
            "sharpe": main.oos.sharpe,
            "total_return": main.oos.total_return,
            "max_drawdown": main.oos.max_drawdown,
            "psr": main.oos.psr,
        },
        model_id=model_id,
        notes=trial_notes,
    )

    pbo_source = ""
    if grid_results:
        pbo = _pbo(np.column_stack([g.returns for g in grid_results]), settings.pbo_partitions)
        pbo_source = "grid" if pbo is not None else ""
        if pbo is None:
            notes.append("PBO: too few out-of-sample bars for CSCV")
    else:
        notes.append(f"PBO: {name} has no parameter grid (define param_grid()); using the ledger's trials")
        pbo = _ledger_pbo(ledger, name, settings.pbo_partitions, notes)
        pbo_source = "ledger" if pbo is not None else ""
    dsr = _dsr(ledger, name, main.returns, bar_ms, notes)
    return Evaluation(
        strategy=name,
        label=label,
        params=dict(strategy.params()),
        family=name,
        symbols=symbols,
        timeframe=markets[0].timeframe,
        bar_ms=bar_ms,
        start_ms=int(ts[0]),
        end_ms=int(ts[-1]) + bar_ms,
        n_bars=n,
        settings=settings,
        sim_config=sim_config,
        segments=segments,
        oos_ts=oos_ts,
        result=main,
        baselines=baselines,
        grid=grid_results,
        pbo=pbo,
        pbo_source=pbo_source,
        dsr=dsr,
        trial_id=rec.trial_id,
        ledger_kind=rec.kind.value,
        vault=vault,
        model_id=model_id,
        data_sources=list(data_sources),
        notes=list(dict.fromkeys(notes + [note for m in markets for note in m.notes])),
    )
