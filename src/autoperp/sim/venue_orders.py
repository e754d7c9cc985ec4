"""Order records of the event-driven venue: settings, an order's life (status, fills) and a bar of input.

An :class:`~autoperp.core.types.Order` is what a strategy asks for (frozen); a :class:`VenueOrder` is the
venue's mutable record of it: status, filled quantity, average price, fees and why it ended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from autoperp.core.types import Order, OrderType, Side

__all__ = ["OrderStatus", "VenueBar", "VenueConfig", "VenueOrder"]


class VenueConfig(BaseModel):
    """Matching settings of the venue (the money settings are the kernel's :class:`SimConfig`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    participation: float | None = Field(
        0.1, gt=0, description="max fill per order per bar, fraction of the bar's volume; None = unbounded"
    )
    sigma_halflife: float = Field(
        60.0, gt=0, description="bars; EWMA half-life of the impact model's volatility when bars bring none"
    )


class OrderStatus(StrEnum):
    """Where an order is in its life. ``WORKING`` covers partially filled orders (see ``filled``)."""

    WORKING = "working"
    FILLED = "filled"
    CANCELED = "canceled"  # by the user, by the venue (reduce-only with nothing to reduce), or at run end
    REJECTED = "rejected"  # refused at submission or on arrival (post-only that would take, no margin...)

    @property
    def is_open(self) -> bool:
        return self is OrderStatus.WORKING


@dataclass(eq=False)
class VenueOrder:
    """The venue's record of one order. Prices USDT, quantities base units (> 0), bars are venue bars."""

    order: Order
    seq: int  # submission sequence: orders at the same price level are matched in this order
    eligible_from: int  # first bar whose open the order can reach (no fills at prices already seen)
    status: OrderStatus = OrderStatus.WORKING
    filled: float = 0.0  # base units filled so far
    left: float = math.nan  # base units still to fill (NaN: the order's qty, set on creation)
    notional: float = 0.0  # USDT, Σ qty · price over fills
    fees: float = 0.0  # USDT, positive = paid
    arrived: bool = False  # a limit order that reached the book (rests as maker from then on)
    triggered: bool = False  # a stop whose trigger was reached: it now fills as a market order
    last_bar: int = -1  # the bar of its last match attempt: an order is matched at most once per bar
    reason: str = ""  # why it was rejected or canceled
    fill_bars: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.order.id

    @property
    def sign(self) -> float:
        """+1.0 buy, −1.0 sell."""
        return 1.0 if self.order.side is Side.BUY else -1.0

    def __post_init__(self) -> None:
        if math.isnan(self.left):
            self.left = float(self.order.qty)

    @property
    def avg_price(self) -> float:
        """USDT, volume-weighted over fills; NaN before the first."""
        return self.notional / self.filled if self.filled > 0.0 else math.nan

    @property
    def is_market_like(self) -> bool:
        """Market orders and triggered stops: they fill at the next open they reach."""
        return self.order.type is OrderType.MARKET or self.triggered

    @property
    def level(self) -> float:
        """USDT price that makes a resting order act: the limit price or the stop trigger."""
        o = self.order
        p = o.price if o.type is OrderType.LIMIT else o.stop_price
        return math.nan if p is None else float(p)


@dataclass(frozen=True)
class VenueBar:
    """One bar fed to :meth:`SimVenue.process_bar` (live or replayed). ``ts`` is the bar's open (ms).

    Prices USDT, volume base units. Optional fields default as :func:`~autoperp.sim.market.build_market`
    does: mark = trade close, mark extremes = trade extremes, no funding, σ from the venue's own EWMA.
    """

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    mark: float = math.nan  # mark close: equity is marked here
    mark_low: float = math.nan  # long liquidation test
    mark_high: float = math.nan  # short liquidation test
    funding_rate: float = math.nan  # rate settling at this bar's open (fraction); NaN = none
    settle_price: float = math.nan  # USDT the settlement is valued at; NaN = previous close
    sigma: float = math.nan  # per-bar volatility for the impact model (fraction); NaN = venue's EWMA
    spread: float = 0.0  # extra half-spread at this bar (fraction)
