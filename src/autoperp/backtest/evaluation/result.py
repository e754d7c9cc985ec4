"""What an evaluation produces: per-candidate out-of-sample results, PBO, DSR and where it was recorded."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoperp.backtest.evaluation.scores import Score
from autoperp.backtest.evaluation.segments import Segments
from autoperp.backtest.evaluation.settings import EvaluationSettings
from autoperp.metrics import PBOResult
from autoperp.sim.config import SimConfig

__all__ = ["CandidateResult", "DeflatedSharpe", "Evaluation"]


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass
class CandidateResult:
    """One candidate (the strategy, a baseline or a grid variant) over every out-of-sample segment.

    ``oos``: the score of all segments' bar returns strung together in time order; ``folds``: one score per
    segment. Money totals are USDT summed over segments and pairs.
    """

    role: str  # "strategy", "baseline" or "grid"
    label: str
    name: str
    params: dict[str, Any]
    oos: Score
    folds: list[Score]
    fees: float
    funding_net: float  # paid minus received
    turnover: float
    fills: int
    liquidations: int
    returns: np.ndarray = field(repr=False)  # per-bar simple returns, out of sample, fractions

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "label": self.label,
            "name": self.name,
            "params": self.params,
            "oos": self.oos.to_json(),
            "folds": [f.to_json() for f in self.folds],
            "fees": self.fees,
            "funding_net": self.funding_net,
            "turnover": self.turnover,
            "fills": self.fills,
            "liquidations": self.liquidations,
        }


@dataclass(frozen=True)
class DeflatedSharpe:
    """DSR of the strategy's out-of-sample returns against ``n_trials`` trials of ``family`` in the ledger
    whose per-bar Sharpe ratios vary by ``sharpe_variance`` (per bar²). ``expected_max_sharpe``: the per-bar
    Sharpe the best of that many unskilled trials would show (the bar DSR sets)."""

    dsr: float
    family: str
    n_trials: int
    sharpe_variance: float
    expected_max_sharpe: float
    sharpe_per_bar: float
    skewness: float
    kurtosis: float
    bars: int

    def to_json(self) -> dict[str, Any]:
        return {
            "dsr": _num(self.dsr),
            "family": self.family,
            "n_trials": self.n_trials,
            "sharpe_variance": _num(self.sharpe_variance),
            "expected_max_sharpe": _num(self.expected_max_sharpe),
            "sharpe_per_bar": _num(self.sharpe_per_bar),
            "skewness": _num(self.skewness),
            "kurtosis": _num(self.kurtosis),
            "bars": self.bars,
        }


@dataclass
class Evaluation:
    """The whole evaluation. ``oos_ts``: open time (ms UTC) of every out-of-sample bar, aligned with each
    candidate's ``returns``. ``pbo_source``: "grid" (the strategy's parameter grid), "ledger" (the family's
    recorded trials) or "" when PBO could not be computed (see ``notes``)."""

    strategy: str
    label: str
    params: dict[str, Any]
    family: str
    symbols: list[str]
    timeframe: str
    bar_ms: int
    start_ms: int
    end_ms: int
    n_bars: int
    settings: EvaluationSettings
    sim_config: SimConfig
    segments: Segments
    oos_ts: np.ndarray
    result: CandidateResult
    baselines: list[CandidateResult]
    grid: list[CandidateResult]
    pbo: PBOResult | None
    pbo_source: str
    dsr: DeflatedSharpe | None
    trial_id: str | None = None
    ledger_kind: str = "evaluate"
    vault: bool = False
    model_id: str | None = None
    data_sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def is_strategy(self, baseline: CandidateResult) -> bool:
        """True when ``baseline`` is the evaluated strategy itself (same name and parameters)."""
        return baseline.name == self.result.name and baseline.params == self.result.params

    def beats(self) -> dict[str, bool]:
        """Baseline label → whether the strategy's out-of-sample Sharpe (after costs) is above its; a
        baseline that is the strategy itself is left out."""
        mine = self.result.oos.sharpe
        out = {}
        for b in self.baselines:
            if self.is_strategy(b):
                continue
            theirs = b.oos.sharpe
            out[b.label] = bool(math.isfinite(mine) and (not math.isfinite(theirs) or mine > theirs))
        return out

    def to_json(self) -> dict[str, Any]:
        pbo = None
        if self.pbo is not None:
            pbo = {
                "source": self.pbo_source,
                "pbo": self.pbo.pbo,
                "n_splits": self.pbo.n_splits,
                "n_trials": self.pbo.n_trials,
                "mean_logit": _num(self.pbo.mean_logit),
                "prob_oos_loss": self.pbo.prob_oos_loss,
                "degradation_slope": _num(self.pbo.degradation_slope),
                "logits": [_num(x) for x in self.pbo.logits.tolist()],
            }
        return {
            "strategy": self.strategy,
            "label": self.label,
            "params": self.params,
            "family": self.family,
            "symbols": self.symbols,
            "timeframe": self.timeframe,
            "bar_ms": self.bar_ms,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "n_bars": self.n_bars,
            "settings": self.settings.model_dump(mode="json"),
            "sim_config": self.sim_config.model_dump(mode="json"),
            "segments": [list(r) for r in self.segments.ranges],
            "oos_bars": int(self.oos_ts.shape[0]),
            "result": self.result.to_json(),
            "baselines": [b.to_json() for b in self.baselines],
            "beats": self.beats(),
            "grid": [g.to_json() for g in self.grid],
            "pbo": pbo,
            "dsr": self.dsr.to_json() if self.dsr is not None else None,
            "trial_id": self.trial_id,
            "ledger_kind": self.ledger_kind,
            "vault": self.vault,
            "model_id": self.model_id,
            "data_sources": self.data_sources,
            "notes": self.notes,
        }
