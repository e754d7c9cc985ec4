"""An L2 order book (price -> quantity per side) and a recorder of top-N snapshots in long format.

Used by the readers that rebuild books from snapshots plus diffs (Binance websocket capture, Binance
depth rows, Bybit orderbook files). Prices in quote currency, quantities in base units. A quantity of 0
deletes the level (the exchanges' convention). The book keeps dicts keyed by float price: a diff costs
O(levels in the diff) and a snapshot O(book size) via ``heapq`` partial selection.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np

BID = 1
ASK = -1


class L2Book:
    """Both sides of one book. ``bids``/``asks`` map price -> quantity (no zero quantities kept)."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}

    def clear(self) -> None:
        """Forget every level (before applying a full snapshot)."""
        self.bids.clear()
        self.asks.clear()

    def side(self, side: int) -> dict[float, float]:
        """The dict of ``side`` (+1 bids, -1 asks)."""
        return self.bids if side == BID else self.asks

    def apply(self, side: int, levels: Iterable[Sequence[str | float]]) -> None:
        """Set each (price, qty) level of ``side``; qty 0 deletes it. Values may be numeric strings."""
        book = self.bids if side == BID else self.asks
        for price, qty in levels:
            p = float(price)
            q = float(qty)
            if q == 0.0:
                book.pop(p, None)
            else:
                book[p] = q

    def best_bid(self) -> float:
        """Highest bid price, NaN when the side is empty."""
        return max(self.bids) if self.bids else float("nan")

    def best_ask(self) -> float:
        """Lowest ask price, NaN when the side is empty."""
        return min(self.asks) if self.asks else float("nan")

    def top(self, side: int, depth: int | None) -> tuple[list[float], list[float]]:
        """(prices, qtys) of the best ``depth`` levels of ``side``, best first (all levels when None)."""
        book = self.bids if side == BID else self.asks
        if depth is None or depth >= len(book):
            prices = sorted(book, reverse=side == BID)
        elif side == BID:
            prices = heapq.nlargest(depth, book)
        else:
            prices = heapq.nsmallest(depth, book)
        return prices, [book[p] for p in prices]


class SnapshotRecorder:
    """Accumulates top-``depth`` snapshots; :meth:`columns` returns the long-format BOOK columns.

    Rows per snapshot: bids level 0..n-1, then asks level 0..m-1 (side +1 bid, -1 ask; level 0 = best).
    """

    def __init__(self, depth: int | None) -> None:
        self.depth = depth
        self._ts: list[int] = []
        self._counts: list[int] = []
        self._sides: list[int] = []
        self._levels: list[int] = []
        self._prices: list[float] = []
        self._qtys: list[float] = []
        self.snapshot_ts: list[int] = []

    def __len__(self) -> int:
        return len(self.snapshot_ts)

    def record(self, ts: int, book: L2Book) -> None:
        """Store the current top levels of ``book`` stamped ``ts`` (ms)."""
        n = 0
        for side in (BID, ASK):
            prices, qtys = book.top(side, self.depth)
            k = len(prices)
            self._sides.extend([side] * k)
            self._levels.extend(range(k))
            self._prices.extend(prices)
            self._qtys.extend(qtys)
            n += k
        self._ts.append(ts)
        self._counts.append(n)
        self.snapshot_ts.append(ts)

    def columns(self) -> dict[str, np.ndarray]:
        """Long-format columns ts (int64 ms), side (int8), level (int16), price, qty (float64)."""
        return {
            "ts": np.repeat(np.asarray(self._ts, dtype=np.int64), np.asarray(self._counts, dtype=np.int64)),
            "side": np.asarray(self._sides, dtype=np.int8),
            "level": np.asarray(self._levels, dtype=np.int16),
            "price": np.asarray(self._prices, dtype=np.float64),
            "qty": np.asarray(self._qtys, dtype=np.float64),
        }


def first_grid_at_or_after(ts: int, interval_ms: int) -> int:
    """Smallest multiple of ``interval_ms`` that is >= ``ts`` (ms)."""
    return -(-ts // interval_ms) * interval_ms
