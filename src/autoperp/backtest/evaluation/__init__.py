"""Out-of-sample evaluation of a strategy (DESIGN.md §6): walk-forward or CPCV segments simulated after
costs, the baselines (flat, buy-and-hold, SMA trend, funding carry) on the same segments, PBO by CSCV over
the strategy's parameter grid and DSR with N from the trial ledger; as a terminal table, an HTML page with
plots and JSON."""

from autoperp.backtest.evaluation.evaluate import evaluate_strategy
from autoperp.backtest.evaluation.export import evaluation_json, write_evaluation
from autoperp.backtest.evaluation.html import render_evaluation_html
from autoperp.backtest.evaluation.result import CandidateResult, DeflatedSharpe, Evaluation
from autoperp.backtest.evaluation.scores import Score, score_returns
from autoperp.backtest.evaluation.segments import Segments, make_segments
from autoperp.backtest.evaluation.settings import DEFAULT_BASELINES, EvaluationSettings, Scheme
from autoperp.backtest.evaluation.terminal import print_evaluation

__all__ = [
    "DEFAULT_BASELINES",
    "CandidateResult",
    "DeflatedSharpe",
    "Evaluation",
    "EvaluationSettings",
    "Scheme",
    "Score",
    "Segments",
    "evaluate_strategy",
    "evaluation_json",
    "make_segments",
    "print_evaluation",
    "render_evaluation_html",
    "score_returns",
    "write_evaluation",
]
