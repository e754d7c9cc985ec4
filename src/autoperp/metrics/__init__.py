"""Layer 2: performance metrics, Sharpe inference (PSR/DSR/MinTRL), PBO by CSCV, purged/combinatorial
cross-validation, walk-forward splits and strategy diversity. Imports only ``autoperp.core`` and numerics."""

from autoperp.metrics.cross_validation import (
    CPCVSplits,
    combinatorial_purged_cv,
    n_backtest_paths,
    purged_kfold_splits,
    purged_train_mask,
)
from autoperp.metrics.diversity import Diversity, strategy_diversity
from autoperp.metrics.drawdown import DrawdownStats, drawdown_series, drawdown_stats
from autoperp.metrics.inputs import MetricsInputError, periods_per_year
from autoperp.metrics.pbo import PBOResult, probability_of_backtest_overfitting
from autoperp.metrics.performance import PerformanceReport, performance, performance_from_equity
from autoperp.metrics.sharpe_inference import (
    SharpeMoments,
    deflated_sharpe_from_trials,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    sharpe_moments,
)
from autoperp.metrics.walk_forward import walk_forward_splits

__all__ = [
    "CPCVSplits",
    "Diversity",
    "DrawdownStats",
    "MetricsInputError",
    "PBOResult",
    "PerformanceReport",
    "SharpeMoments",
    "combinatorial_purged_cv",
    "deflated_sharpe_from_trials",
    "deflated_sharpe_ratio",
    "drawdown_series",
    "drawdown_stats",
    "expected_max_sharpe",
    "min_track_record_length",
    "n_backtest_paths",
    "performance",
    "performance_from_equity",
    "periods_per_year",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "purged_kfold_splits",
    "purged_train_mask",
    "sharpe_moments",
    "strategy_diversity",
    "walk_forward_splits",
]
