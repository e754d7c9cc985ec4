"""Instrument symbols in ccxt form ('BTC/USDT:USDT') and the spellings exchanges and files use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from autoperp.core.errors import UsageError

_QUOTES = ("USDT", "USDC", "BUSD", "USD")
_CCXT_RE = re.compile(r"^([A-Z0-9]{1,20})/([A-Z]{2,6})(?::([A-Z]{2,6}))?$")


@dataclass(frozen=True, order=True)
class Symbol:
    """A market: base/quote, with ``settle`` set for derivatives (linear USDT perp: settle == quote)."""

    base: str
    quote: str
    settle: str | None = None

    @classmethod
    def parse(cls, text: str) -> Symbol:
        """Read ccxt form 'BTC/USDT:USDT' (perp) or 'BTC/USDT' (spot)."""
        m = _CCXT_RE.match(text.strip().upper())
        if m is None:
            raise UsageError(f"cannot read pair '{text}': use ccxt form, e.g. BTC/USDT:USDT")
        return cls(m.group(1), m.group(2), m.group(3))

    @classmethod
    def from_exchange_id(cls, exchange_id: str, *, perp: bool = True) -> Symbol:
        """'BTCUSDT' -> BTC/USDT:USDT (the quote is recognised from a known list)."""
        s = exchange_id.strip().upper()
        for q in _QUOTES:
            if s.endswith(q) and len(s) > len(q):
                return cls(s[: -len(q)], q, q if perp else None)
        raise UsageError(f"cannot split exchange symbol '{exchange_id}' into base and quote")

    @classmethod
    def from_file_stem(cls, stem: str) -> Symbol:
        """freqtrade file spelling 'BTC_USDT_USDT' (perp) or 'BTC_USDT' (spot)."""
        parts = stem.strip().upper().split("_")
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        raise UsageError(f"cannot read pair from file name part '{stem}'")

    @property
    def is_perp(self) -> bool:
        return self.settle is not None

    @property
    def ccxt(self) -> str:
        """'BTC/USDT:USDT'."""
        return f"{self.base}/{self.quote}" + (f":{self.settle}" if self.settle else "")

    @property
    def exchange_id(self) -> str:
        """'BTCUSDT', as Binance and Bybit spell it."""
        return f"{self.base}{self.quote}"

    @property
    def file_stem(self) -> str:
        """'BTC_USDT_USDT', safe in paths (freqtrade's spelling)."""
        return f"{self.base}_{self.quote}" + (f"_{self.settle}" if self.settle else "")

    def __str__(self) -> str:
        return self.ccxt
