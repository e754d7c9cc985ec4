"""Stress-scenario variants of market series for the RL env (DESIGN.md §5: scenario replay).

Each scenario of :mod:`autoperp.data.scenarios` is applied to the candles rebuilt from a
:class:`~autoperp.sim.market.SimMarket` (its OHLCV plus any flow columns the caller's frame carries), and
the result is packed again with :func:`~autoperp.sim.market.build_market`. The market's funding
settlements are kept (valued at the new trade prices, since the scenario moves prices but not the
mark file); ``funding_spike`` works on those settlements (an 8 h schedule at rate 0 stands in when the
market has none); ``liquidity_drought``'s quoted spread reaches the kernel as the per-bar extra
half-spread. Variants are marked at trade prices (the scenario has no mark-price series).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from autoperp.core.time import MS_PER_HOUR
from autoperp.data.scenarios import apply_scenario
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket, build_market

__all__ = ["scenario_series"]

_FLOW = ("taker_buy_volume", "trades")


def _candles(m: SimMarket, frame: Mapping[str, np.ndarray] | None) -> pd.DataFrame:
    d = m.data
    cols: dict[str, np.ndarray] = {"ts": m.ts}
    for name, idx in (("open", L.M_OPEN), ("high", L.M_HIGH), ("low", L.M_LOW), ("close", L.M_CLOSE),
                      ("volume", L.M_VOLUME)):  # fmt: skip
        cols[name] = np.asarray(d[idx], dtype=np.float64)
    if frame is not None:
        for name in _FLOW:
            if name in frame and np.shape(frame[name]) == (len(m),):
                cols[name] = np.asarray(frame[name])
    return pd.DataFrame(cols)


def _funding(m: SimMarket) -> pd.DataFrame:
    rate = m.data[L.M_FUNDING]
    has = np.isfinite(rate)
    return pd.DataFrame({"ts": m.ts[has], "rate": rate[has]})


def _variant(m: SimMarket, frame: Mapping[str, np.ndarray] | None, name: str,
             rng: np.random.Generator) -> tuple[SimMarket, dict[str, np.ndarray]]:  # fmt: skip
    candles = _candles(m, frame)
    funding = _funding(m)
    spread = None
    if name == "funding_spike":
        if funding.empty:
            period = 8 * MS_PER_HOUR
            first = -(-int(m.ts[0]) // period) * period
            times = np.arange(first, int(m.ts[-1]) + 1, period, dtype=np.int64)
            funding = pd.DataFrame({"ts": times, "rate": np.zeros(times.shape[0])})
        funding, _ = apply_scenario(name, funding, rng)
    else:
        candles, rec = apply_scenario(name, candles, rng)
        if name == "liquidity_drought":
            spread = np.zeros(len(candles))
            spread[rec.start : rec.end] = rec.hints["spread_bps"] / 2e4
    market = build_market(
        candles,
        funding=funding if len(funding) else None,
        spread=spread,
        symbol=m.symbol,
        timeframe=m.timeframe,
    )
    market.notes.append(f"scenario {name}")
    extra = {c: candles[c].to_numpy() for c in _FLOW if c in candles}
    return market, extra


def scenario_series(
    markets: Sequence[SimMarket],
    frames: Sequence[Mapping[str, np.ndarray]] | None,
    names: Sequence[str],
    seed: int,
) -> tuple[list[SimMarket], list[dict[str, np.ndarray]]]:
    """One variant per (market, scenario name), markets outer; window starts drawn from ``seed``."""
    rng = np.random.default_rng([seed, 0x5CE7])
    out: list[SimMarket] = []
    out_frames: list[dict[str, np.ndarray]] = []
    for i, m in enumerate(markets):
        for name in names:
            # without frames, the order-flow columns the market carried (``SimMarket.extras``)
            market, extra = _variant(m, m.extras if frames is None else frames[i], name, rng)
            out.append(market)
            out_frames.append(extra)
    return out, out_frames
