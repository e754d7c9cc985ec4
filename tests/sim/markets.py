"""Hand-built candle, mark and funding frames for the simulator tests (in memory, no files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from autoperp.sim import SimConfig, SimMarket, build_market

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, ms
MINUTE = 60_000
HOUR = 3_600_000

# No fee, spread, impact, clearance fee or rebalance band: every price the kernel books is a price the
# test wrote down, and every resize goes through.
FREE = SimConfig(
    taker_fee=0.0, maker_fee=0.0, half_spread=0.0, impact_k=0.0, liquidation_fee=0.0, rebalance_band=0.0
)


def config(base: SimConfig = FREE, **changes: object) -> SimConfig:
    """``base`` with ``changes``, validated (``model_copy(update=)`` would skip validation)."""
    return SimConfig.model_validate({**base.model_dump(), **changes})


def bars(
    open_: ArrayLike,
    high: ArrayLike | None = None,
    low: ArrayLike | None = None,
    close: ArrayLike | None = None,
    *,
    volume: float | ArrayLike = 1e6,
    start: int = T0,
    step: int = HOUR,
) -> pd.DataFrame:
    """Candles from explicit prices; missing high/low/close default to the open (a flat bar)."""
    o = np.asarray(open_, dtype=np.float64)
    c = o if close is None else np.asarray(close, dtype=np.float64)
    h = np.maximum(o, c) if high is None else np.asarray(high, dtype=np.float64)
    lo = np.minimum(o, c) if low is None else np.asarray(low, dtype=np.float64)
    n = o.shape[0]
    return pd.DataFrame(
        {
            "ts": start + step * np.arange(n, dtype=np.int64),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": np.broadcast_to(np.asarray(volume, dtype=np.float64), (n,)).copy(),
        }
    )


def flat(n: int, price: float = 100.0, **kw: object) -> pd.DataFrame:
    """``n`` bars with every price equal to ``price``."""
    return bars([price] * n, **kw)  # type: ignore[arg-type]


def random_walk(
    n: int, seed: int, *, vol: float = 0.01, start_price: float = 100.0, step: int = HOUR
) -> pd.DataFrame:
    """Consistent OHLC candles of a geometric random walk (each open is the previous close)."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[start_price, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, vol, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, vol, n))
    return pd.DataFrame(
        {
            "ts": T0 + step * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(10.0, 1000.0, n),
        }
    )


def funding_frame(
    hours: ArrayLike,
    rates: ArrayLike,
    *,
    jitter_ms: int = 5,
    mark: ArrayLike | None = None,
) -> pd.DataFrame:
    """Settlements ``hours`` after T0, stamped ``jitter_ms`` late as Binance stamps them."""
    h = np.asarray(hours, dtype=np.float64)
    df = pd.DataFrame(
        {
            "ts": (T0 + np.round(h * HOUR)).astype(np.int64) + jitter_ms,
            "rate": np.broadcast_to(np.asarray(rates, dtype=np.float64), h.shape).copy(),
        }
    )
    if mark is not None:
        df["mark_price"] = np.asarray(mark, dtype=np.float64)
    return df


def market(candles: pd.DataFrame, symbol: str = "BTCUSDT", **kw: object) -> SimMarket:
    """:func:`build_market` with a 1h timeframe label and the BTCUSDT bracket table by default."""
    return build_market(candles, symbol=symbol, timeframe="1h", **kw)  # type: ignore[arg-type]


def hold_after(first: float, n: int) -> np.ndarray:
    """Targets: ``first`` decided at bar 0's close, then hold (NaN) to the end."""
    t = np.full(n, np.nan)
    t[0] = first
    return t
