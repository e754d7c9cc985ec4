"""The trial ledger: every backtest, training run, evolution trial and evaluation recorded with its config
hash, data range and per-bar returns, so that DSR's N and PBO's matrix are real counts.

    ledger = TrialLedger.in_user_data(cfg.data.user_data_dir)
    ledger.record("backtest", "ema-cross-12-26", "ema-cross", params, DataRange(...), ts, returns)
    ts, m, ids = ledger.returns_matrix(family="ema-cross")     # -> probability_of_backtest_overfitting(m)
    deflated_sharpe_ratio(sr, n, **ledger.dsr_inputs("ema-cross")._asdict())
"""

from autoperp.metrics.ledger.hashing import canonical_config, config_hash, config_json
from autoperp.metrics.ledger.matrix import ReturnsMatrix, align_returns
from autoperp.metrics.ledger.record import (
    SELECTION_KINDS,
    DataRange,
    ReturnStats,
    TrialKind,
    TrialRecord,
)
from autoperp.metrics.ledger.selection import DSRInputs
from autoperp.metrics.ledger.store import TRIAL_COLUMNS, TrialLedger, VaultReuseError, ledger_root

__all__ = [
    "SELECTION_KINDS",
    "TRIAL_COLUMNS",
    "DSRInputs",
    "DataRange",
    "ReturnStats",
    "ReturnsMatrix",
    "TrialKind",
    "TrialLedger",
    "TrialRecord",
    "VaultReuseError",
    "align_returns",
    "canonical_config",
    "config_hash",
    "config_json",
    "ledger_root",
]
