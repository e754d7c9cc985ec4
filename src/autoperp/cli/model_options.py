"""``--model ID`` for ``evaluate`` and ``lookahead-analysis``: a trained policy as the strategy."""

from __future__ import annotations

from pathlib import Path

from autoperp.backtest.strategy import Strategy
from autoperp.cli import backtest_options as opt
from autoperp.core.errors import UsageError
from autoperp.learn.model_store import LoadedModel, load_model
from autoperp.learn.model_strategy import ModelStrategy

__all__ = ["strategy_or_model"]


def strategy_or_model(
    model_id: str | None,
    user_data: Path,
    *,
    strategy: str | None,
    strategy_path: Path | None,
    params: list[str] | None,
    device: str = "cpu",
) -> tuple[Strategy, LoadedModel | None]:
    """The strategy the options name, or the model ``user_data/models/<model_id>`` as a strategy (its
    markets bound later with :meth:`ModelStrategy.bind_markets`); a model and a strategy together are
    refused."""
    if model_id is None:
        return opt.resolve_strategy(strategy, strategy_path, params), None
    if strategy or strategy_path is not None or params:
        raise UsageError("--model replaces --strategy, --strategy-path and --param: give one or the other")
    loaded = load_model(user_data, model_id, device)
    strat = ModelStrategy(
        loaded.policy, loaded.env_config(), loaded.table_spec(), model_id=model_id, device=device
    )
    return strat, loaded
