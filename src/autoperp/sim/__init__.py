"""The perpetual-futures accounting kernel, the batched simulator and the event-driven venue.

One kernel, three uses (DESIGN.md §1): backtests call :func:`simulate` / :func:`simulate_batch`, the RL
environment steps :func:`~autoperp.sim.kernel.run_range` directly, and the paper venue books its fills
through the same :mod:`autoperp.sim.accounting` primitives.
"""

from autoperp.sim.brackets import BracketTable, bracket_table, load_bracket_file
from autoperp.sim.config import SimConfig, TargetKind
from autoperp.sim.market import SimMarket, build_market
from autoperp.sim.result import AccountSummary, SimResult
from autoperp.sim.simulate import simulate
from autoperp.sim.venue import SimVenue
from autoperp.sim.venue_orders import OrderStatus, VenueBar, VenueConfig, VenueOrder

__all__ = [
    "AccountSummary",
    "BracketTable",
    "OrderStatus",
    "SimConfig",
    "SimMarket",
    "SimResult",
    "SimVenue",
    "TargetKind",
    "VenueBar",
    "VenueConfig",
    "VenueOrder",
    "bracket_table",
    "build_market",
    "load_bracket_file",
    "simulate",
]
