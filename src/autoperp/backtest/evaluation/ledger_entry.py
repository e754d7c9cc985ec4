"""How an evaluation enters the trial ledger, and the vault's one-look rule.

An evaluation is a trial of its strategy's family (kind ``evaluate``): it counts toward DSR's N from then
on. A run on the vault (the untouched final test set) is kind ``vault`` and names the model it tests; the
ledger refuses a second vault trial for the same model. Forcing a second look records it as kind
``evaluate`` instead: looking at the vault again and acting on it is one more round of selection, and N
must count it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import ValidationError
from autoperp.metrics.ledger import TrialLedger, TrialRecord, VaultReuseError, config_hash

__all__ = ["check_vault_unused", "strategy_model_id", "trial_config"]


def _params_hash(name: str, params: Mapping[str, Any]) -> str:
    try:
        return config_hash({"strategy": name, "params": dict(params)})
    except ValidationError:  # a user parameter JSON cannot hold: its repr still tells configs apart
        return config_hash({"strategy": name, "params": {k: repr(v) for k, v in params.items()}})


def strategy_model_id(strategy: Strategy) -> str:
    """The vault's identity of a strategy configuration: ``<name>@<hash of name and parameters>``."""
    name = getattr(strategy, "name", "") or type(strategy).__name__
    return f"{name}@{_params_hash(name, strategy.params())}"


def trial_config(strategy: Strategy, extra: Mapping[str, Any]) -> dict[str, Any]:
    """What defines an evaluation trial: the strategy, its parameters (as text when JSON cannot hold
    them) and ``extra`` (scheme, folds, costs...)."""
    name = getattr(strategy, "name", "") or type(strategy).__name__
    params = dict(strategy.params())
    try:
        config_hash({"p": params})
    except ValidationError:
        params = {k: repr(v) for k, v in params.items()}
    return {"strategy": name, "params": params, **extra}


def check_vault_unused(ledger: TrialLedger, model_id: str, force: bool) -> list[TrialRecord]:
    """The model's earlier vault trials; :class:`VaultReuseError` when there are any and not ``force``."""
    used = ledger.vault_uses(model_id)
    if used and not force:
        raise VaultReuseError(
            f"model '{model_id}' already used the vault in trial {used[0].trial_id}: the final test set "
            "gives one look per model (--force looks again, recorded as one more selection trial)"
        )
    return used
