"""Domain records shared by every layer: instruments, bars, orders, fills, positions.

Prices are in quote currency (USDT), quantities in base units (contracts = base for linear perps),
times in int64 ms UTC. Hot paths do not use these records (they use arrays); these are for the edges:
configs, order routing, reports and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from autoperp.core.symbols import Symbol


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class DataKind(StrEnum):
    """What a stored series holds. Candle kinds follow freqtrade's candle types."""

    FUTURES = "futures"  # trade-price klines of the perp
    SPOT = "spot"
    MARK = "mark"  # mark-price klines
    INDEX = "index"  # index-price klines
    PREMIUM = "premium"  # premium-index klines
    FUNDING = "funding_rate"  # one row per funding settlement
    TRADES = "trades"  # aggregated trades (one row per aggTrade or trade)
    QUOTES = "quotes"  # top of book (bookTicker)
    BOOK = "book"  # L2 book snapshots, long format (ts, side, level, price, qty)
    NEWS = "news"  # headlines

    @property
    def is_candles(self) -> bool:
        return self in (DataKind.FUTURES, DataKind.SPOT, DataKind.MARK, DataKind.INDEX, DataKind.PREMIUM)


@dataclass(frozen=True)
class MarginBracket:
    """One maintenance-margin tier: applies to notional in (floor, cap] USDT."""

    notional_floor: float
    notional_cap: float
    max_leverage: float
    maint_margin_rate: float  # fraction of notional
    maint_amount: float  # USDT, Binance's "cum" maintenance amount


@dataclass(frozen=True)
class Instrument:
    """A tradable linear USDT-margined perpetual (or spot market when ``symbol.settle`` is None)."""

    symbol: Symbol
    exchange: str = "binanceusdm"
    tick_size: float = 0.01  # USDT
    lot_step: float = 0.001  # base units
    min_notional: float = 5.0  # USDT
    taker_fee: float = 0.0004  # fraction of notional
    maker_fee: float = 0.0002  # fraction of notional
    max_leverage: float = 20.0
    brackets: tuple[MarginBracket, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar; ``ts`` is the bar's open time."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # base units
    taker_buy_volume: float | None = None  # base units bought by aggressors


@dataclass(frozen=True)
class Order:
    id: str
    symbol: Symbol
    side: Side
    qty: float  # base units, > 0
    type: OrderType = OrderType.MARKET
    price: float | None = None  # limit price (USDT)
    stop_price: float | None = None  # trigger price (USDT)
    reduce_only: bool = False
    post_only: bool = False
    ts: int = 0  # decision time, ms


@dataclass(frozen=True)
class Fill:
    order_id: str
    symbol: Symbol
    side: Side
    qty: float  # base units
    price: float  # USDT
    fee: float  # USDT, positive = paid
    ts: int  # ms
    liquidation: bool = False


@dataclass
class Position:
    symbol: Symbol
    qty: float = 0.0  # signed base units: > 0 long, < 0 short
    entry_price: float = 0.0  # USDT
    margin_mode: MarginMode = MarginMode.CROSS
    isolated_margin: float = 0.0  # USDT, isolated mode only

    def unrealised_pnl(self, mark_price: float) -> float:
        """USDT PnL of the open position at ``mark_price``."""
        return self.qty * (mark_price - self.entry_price)
