"""Write canonical frames in the Binance public-archive CSV layouts (for the demo, fixtures and exports).

The files read back through :func:`autoperp.data.readers.read_file` to the same frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autoperp.core.errors import UsageError


def kline_table(candles: pd.DataFrame, bar_ms: int) -> pd.DataFrame:
    """Canonical candles -> the archive's 12 kline columns (missing optional columns become 0)."""
    n = len(candles)
    zeros = np.zeros(n)

    def col(name: str) -> np.ndarray:
        return candles[name].to_numpy() if name in candles.columns else zeros

    return pd.DataFrame(
        {
            "open_time": candles["ts"].to_numpy(),
            "open": candles["open"].to_numpy(),
            "high": candles["high"].to_numpy(),
            "low": candles["low"].to_numpy(),
            "close": candles["close"].to_numpy(),
            "volume": col("volume"),
            "close_time": candles["ts"].to_numpy() + bar_ms - 1,
            "quote_volume": col("quote_volume"),
            "count": col("trades").astype(np.int64),
            "taker_buy_volume": col("taker_buy_volume"),
            "taker_buy_quote_volume": col("taker_buy_quote_volume"),
            "ignore": np.zeros(n, dtype=np.int64),
        }
    )


def write_klines_csv(candles: pd.DataFrame, path: Path, bar_ms: int) -> Path:
    """Write ``candles`` as an archive kline CSV with header (``.gz`` suffix compresses)."""
    if len(candles) == 0:
        raise UsageError(f"{path}: refusing to write an empty kline file")
    path.parent.mkdir(parents=True, exist_ok=True)
    # repr-exact floats: the round trip must give back the same values
    kline_table(candles, bar_ms).to_csv(path, index=False, float_format="%.17g")
    return path


def write_funding_csv(funding: pd.DataFrame, path: Path) -> Path:
    """Write a funding frame (ts, rate[, interval_h]) as an archive fundingRate CSV with header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    interval = (
        funding["interval_h"].to_numpy() if "interval_h" in funding.columns else np.full(len(funding), 8.0)
    )
    pd.DataFrame(
        {
            "calc_time": funding["ts"].to_numpy(),
            "funding_interval_hours": interval.astype(np.int64),
            "last_funding_rate": funding["rate"].to_numpy(),
        }
    ).to_csv(path, index=False, float_format="%.17g")
    return path
