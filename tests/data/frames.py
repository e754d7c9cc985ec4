"""Small canonical frames for tests, built in memory (no files)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS, MarketFrame

BTC = Symbol.parse("BTC/USDT:USDT")
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


def candles(
    n: int = 100, *, start: int = T0, step: int = MIN, seed: int = 0, taker: bool = True
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.0005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.0005, n))
    vol = rng.uniform(1, 10, n)
    df = pd.DataFrame(
        {
            "ts": start + step * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": vol,
        }
    )
    if taker:
        df["taker_buy_volume"] = vol * rng.uniform(0, 1, n)
    return df


def candle_frame(df: pd.DataFrame, timeframe: str = "1m", symbol: Symbol = BTC) -> MarketFrame:
    return MarketFrame(DataKind.FUTURES, symbol, timeframe, df, source="test.csv")


def funding_frame(rates: list[float], start: int = T0) -> MarketFrame:
    df = pd.DataFrame(
        {"ts": start + 8 * 3_600_000 * np.arange(len(rates), dtype=np.int64), "rate": np.array(rates, float)}
    )
    return MarketFrame(DataKind.FUNDING, BTC, EVENTS, df, source="funding.csv")
