"""``--model ID`` for ``evaluate`` and ``lookahead-analysis``: a trained policy as the strategy."""

from __future__ import annotations

from pathlib import Path

from autoperp.cli import backtest_options as opt
from autoperp.core.errors import UsageError
from autoperp.learn.model_store import LoadedModel, load_model
from autoperp.learn.model_strategy import ModelStrategy
from autoperp.sim.config import MarginMode, SimConfig

__all__ = ["model_sim_config", "model_strategy"]


def model_strategy(
    model_id: str,
    user_data: Path,
    *,
    strategy: str | None,
    strategy_path: Path | None,
    params: list[str] | None,
    device: str = "cpu",
) -> tuple[ModelStrategy, LoadedModel]:
    """The model ``user_data/models/<model_id>`` as a strategy (markets bound later with
    :meth:`ModelStrategy.bind_markets`); refuses a strategy given alongside it."""
    if strategy or strategy_path is not None or params:
        raise UsageError("--model replaces --strategy, --strategy-path and --param: give one or the other")
    loaded = load_model(user_data, model_id, device)
    strat = ModelStrategy(
        loaded.policy, loaded.env_config(), loaded.table_spec(), model_id=model_id, device=device
    )
    return strat, loaded


def model_sim_config(
    loaded: LoadedModel,
    *,
    leverage: float | None,
    fee: float | None,
    margin_mode: MarginMode | None,
    initial_cash: float | None,
    delay_bars: int | None,
) -> SimConfig:
    """The costs the model was trained under, with the cost options that were given on top."""
    return opt.sim_config(
        base=loaded.env_config().sim,
        leverage=leverage,
        fee=fee,
        margin_mode=margin_mode,
        initial_cash=initial_cash,
        delay_bars=delay_bars,
    )
