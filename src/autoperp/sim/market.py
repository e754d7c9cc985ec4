"""Market inputs of the kernel: candles, mark price and funding packed into one (fields × bars) array.

Funding settlements are placed on the bar whose open is the settlement instant (Binance stamps
settlements a few ms after the hour, so anything within a second after a bar's open counts as that
open). A settlement is valued at, in order of preference: the mark price the funding file carries, the
open of the mark-price bar at that instant, or the last trade close before it — the report says which.
Equity is marked and liquidation tested on mark-price bars where they exist, on trade bars otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numba import njit

from autoperp.core.errors import ValidationError
from autoperp.sim import layout as L

__all__ = ["EXTRA_COLUMNS", "SETTLE_TOLERANCE_MS", "SimMarket", "build_market", "causal_sigma"]

#: Candle columns the kernel never reads but features do (order flow); kept per bar when the candles have them.
EXTRA_COLUMNS = ("taker_buy_volume", "trades")

SETTLE_TOLERANCE_MS = 1_000
DEFAULT_SIGMA_HALFLIFE = 60  # bars


@dataclass
class SimMarket:
    """One instrument's bars as the kernel reads them. ``data`` has shape (N_MARKET, n), C-contiguous."""

    ts: np.ndarray  # int64 ms, bar open times, strictly increasing
    data: np.ndarray
    symbol: str = ""
    timeframe: str = ""
    notes: list[str] = field(default_factory=list)
    mark_source: str = "trade"  # "mark" when mark-price bars were given for every bar
    funding_source: str = "none"  # "funding mark_price", "mark open", "trade close", "mixed", "none"
    n_settlements: int = 0
    #: per-bar float64 columns of :data:`EXTRA_COLUMNS` present in the candles (order-flow features)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def field(self, index: int) -> np.ndarray:
        """One field row (see :mod:`autoperp.sim.layout`), e.g. ``field(M_CLOSE)``."""
        return np.asarray(self.data[index])

    def slice(self, start: int, stop: int) -> SimMarket:
        """Bars ``start ≤ j < stop`` as a new market (a copy, so the kernel gets contiguous rows)."""
        part = np.ascontiguousarray(self.data[:, start:stop])
        fund = part[L.M_FUNDING]
        return SimMarket(
            ts=self.ts[start:stop].copy(),
            data=part,
            symbol=self.symbol,
            timeframe=self.timeframe,
            notes=list(self.notes),
            mark_source=self.mark_source,
            funding_source=self.funding_source,
            n_settlements=int(np.count_nonzero(~np.isnan(fund))),
            extras={k: v[start:stop].copy() for k, v in self.extras.items()},
        )


@njit(cache=True)
def causal_sigma(close: np.ndarray, halflife: float) -> np.ndarray:
    """Per-bar volatility of log returns known before each bar opens: EWMA through bar j−1 (fraction).

    The first two bars have no return history and get 0 (impact then rests on the spread alone).
    """
    n = close.shape[0]
    out = np.zeros(n)
    alpha = 1.0 - 0.5 ** (1.0 / halflife)
    var = 0.0
    weight = 0.0
    for j in range(2, n):
        r = np.log(close[j - 1] / close[j - 2])
        var = (1.0 - alpha) * var + alpha * r * r
        weight = (1.0 - alpha) * weight + alpha
        out[j] = np.sqrt(var / weight)
    return out


def _require(df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValidationError(f"{what}: missing column(s) {', '.join(missing)}")


def _check_candles(
    ts: np.ndarray, prices: dict[str, np.ndarray], volume: np.ndarray | None, what: str
) -> None:
    # rows are 1-based data rows, as DataError documents (row 1 = the first bar)
    if ts.shape[0] == 0:
        raise ValidationError("no bars", path=what)
    bad = np.flatnonzero(np.diff(ts) <= 0)
    if bad.size:
        raise ValidationError(
            f"{int(ts[bad[0] + 1])} is not after the previous row's {int(ts[bad[0]])} "
            "(sort or repair the data first)",
            path=what, row=int(bad[0]) + 2, field="ts",
        )  # fmt: skip
    for name, arr in prices.items():
        bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))
        if bad.size:
            raise ValidationError(
                f"{float(arr[bad[0]])} is not a positive number", path=what, row=int(bad[0]) + 1, field=name
            )
    if volume is None:
        return
    bad = np.flatnonzero(~(np.isfinite(volume) & (volume >= 0)))
    if bad.size:
        raise ValidationError(
            f"{float(volume[bad[0]])} must be ≥ 0", path=what, row=int(bad[0]) + 1, field="volume"
        )


def _align_mark(
    ts: np.ndarray, mark: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mark open/high/low/close on the trade bars' timestamps; ``found`` marks bars that had one."""
    _require(mark, ("ts", "open", "high", "low", "close"), "mark-price bars")
    mts = mark["ts"].to_numpy(np.int64)
    # unsorted mark bars would silently misalign, and a bad mark price would turn equity into NaN
    _check_candles(
        mts,
        {c: mark[c].to_numpy(np.float64) for c in ("open", "high", "low", "close")},
        None,
        "mark-price bars",
    )
    # Bars are matched by open time only, so coarser mark bars (8h marks on 1h candles) would hand each
    # matched bar a close from hours later: a lookahead. Their spacing must be the candles'.
    if len(mts) > 1 and len(ts) > 1:
        mark_step = int(np.median(np.diff(mts)))
        bar_step = int(np.median(np.diff(ts)))
        if mark_step != bar_step:
            raise ValidationError(
                f"mark-price bars are {mark_step} ms apart but the candles {bar_step} ms: give mark bars "
                "of the candles' timeframe"
            )
    pos = np.searchsorted(mts, ts)
    pos_c = np.minimum(pos, max(len(mts) - 1, 0))
    found = (pos < len(mts)) & (mts[pos_c] == ts) if len(mts) else np.zeros(len(ts), bool)
    cols = [
        mark[c].to_numpy(np.float64)[pos_c] if len(mts) else np.zeros(len(ts))
        for c in ("open", "high", "low", "close")
    ]
    return found, cols[0], cols[1], cols[2], cols[3]


def build_market(
    candles: pd.DataFrame,
    *,
    mark: pd.DataFrame | None = None,
    funding: pd.DataFrame | None = None,
    spread: np.ndarray | None = None,
    symbol: str = "",
    timeframe: str = "",
    sigma_halflife: float = DEFAULT_SIGMA_HALFLIFE,
) -> SimMarket:
    """Pack trade candles (``ts, open, high, low, close, volume``), optional mark-price candles and
    funding events (``ts, rate`` [, ``mark_price``]) into a :class:`SimMarket`.

    ``spread`` is an optional extra half-spread per bar (fraction of price). Raises
    :class:`~autoperp.core.errors.ValidationError` naming the row and field of bad input.
    """
    what = f"{symbol or 'candles'} {timeframe}".strip()
    _require(candles, ("ts", "open", "high", "low", "close", "volume"), what)
    ts = candles["ts"].to_numpy(np.int64)
    n = ts.shape[0]
    data = np.empty((L.N_MARKET, n), dtype=np.float64)
    for idx, name in (
        (L.M_OPEN, "open"),
        (L.M_HIGH, "high"),
        (L.M_LOW, "low"),
        (L.M_CLOSE, "close"),
        (L.M_VOLUME, "volume"),
    ):
        data[idx] = candles[name].to_numpy(np.float64)
    _check_candles(
        ts,
        {"open": data[L.M_OPEN], "high": data[L.M_HIGH], "low": data[L.M_LOW], "close": data[L.M_CLOSE]},
        data[L.M_VOLUME],
        what,
    )
    notes: list[str] = []
    data[L.M_MARK] = data[L.M_CLOSE]
    data[L.M_LIQ_LOW] = data[L.M_LOW]
    data[L.M_LIQ_HIGH] = data[L.M_HIGH]
    mark_open = None
    mark_source = "trade"
    if mark is not None and len(mark):
        found, m_open, m_high, m_low, m_close = _align_mark(ts, mark)
        data[L.M_MARK] = np.where(found, m_close, data[L.M_MARK])
        data[L.M_LIQ_LOW] = np.where(found, m_low, data[L.M_LIQ_LOW])
        data[L.M_LIQ_HIGH] = np.where(found, m_high, data[L.M_LIQ_HIGH])
        mark_open = np.where(found, m_open, np.nan)
        missing = int(n - found.sum())
        mark_source = "mark" if missing == 0 else "mixed"
        if missing:
            notes.append(
                f"mark price missing on {missing} of {n} bars: those bars are marked at the trade close"
            )
    else:
        notes.append("no mark-price data: equity is marked and liquidation tested at trade prices")
    data[L.M_FUNDING] = np.nan
    data[L.M_SETTLE_PRICE] = np.nan
    funding_source = "none"
    n_settle = 0
    if funding is not None and len(funding):
        funding_source, n_settle = _place_funding(ts, data, funding, mark_open, notes)
    else:
        notes.append("no funding data: no funding is charged")
    data[L.M_SIGMA] = causal_sigma(np.ascontiguousarray(data[L.M_CLOSE]), float(sigma_halflife))
    if spread is None:
        data[L.M_SPREAD] = 0.0
    else:
        s = np.asarray(spread, dtype=np.float64)
        if s.shape != (n,) or not np.all(np.isfinite(s) & (s >= 0)):
            raise ValidationError(f"{what}: spread must be {n} finite values ≥ 0 (fraction of price)")
        data[L.M_SPREAD] = s
    extras = {k: candles[k].to_numpy(np.float64, copy=True) for k in EXTRA_COLUMNS if k in candles.columns}
    return SimMarket(
        ts,
        np.ascontiguousarray(data),
        symbol,
        timeframe,
        notes,
        mark_source,
        funding_source,
        n_settle,
        extras,
    )


def _place_funding(
    ts: np.ndarray, data: np.ndarray, funding: pd.DataFrame, mark_open: np.ndarray | None, notes: list[str]
) -> tuple[str, int]:
    _require(funding, ("ts", "rate"), "funding")
    fts = funding["ts"].to_numpy(np.int64)
    rate = funding["rate"].to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(rate))
    if bad.size:
        raise ValidationError(
            f"{float(rate[bad[0]])} is not a number", path="funding", row=int(bad[0]) + 1, field="rate"
        )
    bar = np.searchsorted(ts, fts - SETTLE_TOLERANCE_MS, side="left")
    inside = (bar < len(ts)) & (fts >= ts[0] - SETTLE_TOLERANCE_MS)
    if not inside.any():
        notes.append("funding data does not overlap the bars: no funding is charged")
        return "none", 0
    bar, rate, fts_in = bar[inside], rate[inside], fts[inside]
    rates = np.zeros(len(ts))
    np.add.at(rates, bar, rate)
    has = np.zeros(len(ts), bool)
    has[bar] = True
    # a settlement inside a data gap lands on the next bar; it is still charged, once, and said
    late = int(np.count_nonzero(ts[bar] - fts_in > SETTLE_TOLERANCE_MS))
    if late:
        notes.append(f"{late} funding settlement(s) fell in data gaps: charged at the next bar's open")
    # valuation: the funding file's own mark price, else the mark bar's open, else the previous close
    prev_close = np.concatenate(([data[L.M_OPEN, 0]], data[L.M_CLOSE, :-1]))
    price = prev_close.copy()
    source = np.full(len(ts), 2)
    if mark_open is not None:
        ok = np.isfinite(mark_open)
        price = np.where(ok, mark_open, price)
        source = np.where(ok, 1, source)
    if "mark_price" in funding.columns:
        mp = funding["mark_price"].to_numpy(np.float64)[inside]
        ok = np.isfinite(mp) & (mp > 0)
        price[bar[ok]] = mp[ok]
        source[bar[ok]] = 0
    data[L.M_FUNDING] = np.where(has, rates, np.nan)
    data[L.M_SETTLE_PRICE] = np.where(has, price, np.nan)
    used = np.unique(source[has])
    names = ("funding mark_price", "mark open", "trade close")
    label = names[int(used[0])] if used.size == 1 else "mixed"
    if 2 in used:
        notes.append("funding valued at the trade close for settlements without mark-price data")
    return label, int(has.sum())
