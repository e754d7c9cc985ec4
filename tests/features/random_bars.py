"""Random bars for the feature tests."""

from __future__ import annotations

import numpy as np


def random_bars(n: int, seed: int = 0, *, book: bool = False) -> dict[str, np.ndarray]:
    """``n`` plausible 1m bars: a random-walk close, volumes, trades, funding every 480 bars, a mark."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    volume = rng.gamma(2.0, 50.0, n)
    volume[rng.random(n) < 0.01] = 0.0
    funding = np.full(n, np.nan)
    funding[::480] = rng.normal(1e-4, 2e-4, len(funding[::480]))
    out = {
        "ts": np.arange(n, dtype=np.float64) * 60_000.0,
        "open": close,
        "high": close * 1.001,
        "low": close * 0.999,
        "close": close,
        "volume": volume,
        "taker_buy_volume": volume * rng.random(n),
        "trades": rng.poisson(30.0, n).astype(np.float64),
        "funding_rate": funding,
        "mark": close * (1.0 + rng.normal(0.0, 3e-4, n)),
    }
    if book:
        mid = close
        half = mid * rng.uniform(1e-5, 3e-4, n)
        out |= {
            "bid_price": mid - half,
            "ask_price": mid + half,
            "bid_qty": rng.gamma(2.0, 5.0, n),
            "ask_qty": rng.gamma(2.0, 5.0, n),
        }
    return out
