"""Built-in rule strategies: the baselines of the promotion gate (DESIGN.md §6) and examples of the
:class:`~autoperp.backtest.strategy.Strategy` interface. Each has a vectorised ``targets`` that equals
asking ``decide`` bar by bar."""

from autoperp.backtest.strategies.buy_and_hold import BuyAndHold
from autoperp.backtest.strategies.funding_carry import FundingCarry
from autoperp.backtest.strategies.registry import STRATEGIES, get_strategy, make_strategy
from autoperp.backtest.strategies.sma_trend import SmaTrend

__all__ = ["STRATEGIES", "BuyAndHold", "FundingCarry", "SmaTrend", "get_strategy", "make_strategy"]
