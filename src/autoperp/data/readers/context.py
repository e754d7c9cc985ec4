"""What a reader knows besides the bytes: caller hints, facts from the file name, and read options.

Precedence everywhere: caller hint > file content (a symbol column, a stream name) > file name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoperp.core.errors import FormatError
from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.readers.naming import NameInfo
from autoperp.data.schema import EVENTS, MarketFrame

DEFAULT_EXCHANGE = "binanceusdm"


@dataclass(frozen=True)
class ReadOptions:
    """Caller hints and options, as passed to :func:`autoperp.data.readers.read_file`."""

    kind: DataKind | None = None
    symbol: Symbol | None = None
    timeframe: str | None = None
    exchange: str | None = None
    snapshot_interval_ms: int = 1000
    depth: int | None = 20


@dataclass
class ReadContext:
    """Hints and name facts for one member being read; helpers that resolve them or say what to pass."""

    source: str
    options: ReadOptions
    name: NameInfo
    notes: list[str] = field(default_factory=list)

    # -- resolution -------------------------------------------------------------------------------
    def kind(self, allowed: Iterable[DataKind], default: DataKind | None = None) -> DataKind:
        """The kind to produce: hint, else name, else ``default``; must be one of ``allowed``."""
        allowed = tuple(allowed)
        kind = self.options.kind or (self.name.kind if self.name.kind in allowed else None) or default
        if kind is None:
            raise FormatError(
                "cannot tell what this file holds from its name: pass kind= one of "
                + ", ".join(k.value for k in allowed),
                path=self.source,
            )
        if kind not in allowed:
            raise FormatError(
                f"this layout holds {', '.join(k.value for k in allowed)} data, not '{kind.value}': "
                "drop the kind= option or pick one of those",
                path=self.source,
            )
        return kind

    def symbol(self, from_content: Symbol | None = None) -> Symbol:
        """Hint, else content, else name; raise saying to pass ``symbol=`` when none."""
        sym = self.options.symbol or from_content or self.name.symbol
        if sym is None:
            raise FormatError(
                "cannot tell the symbol from the file name or content: pass symbol=, e.g. BTC/USDT:USDT",
                path=self.source,
            )
        return sym

    def timeframe(self) -> str:
        """Hint, else name; raise saying to pass ``timeframe=`` when none."""
        tf = self.options.timeframe or self.name.timeframe
        if tf is None:
            raise FormatError(
                "cannot tell the bar timeframe from the file name: pass timeframe=, e.g. 1m",
                path=self.source,
            )
        return tf

    def exchange(self, from_content: str | None = None) -> str:
        """Hint, else content, else name, else 'binanceusdm' (or 'binance' for spot data)."""
        if self.options.exchange:
            return self.options.exchange
        if from_content:
            return from_content
        if self.name.exchange:
            return self.name.exchange
        return "binance" if self.name.spot else DEFAULT_EXCHANGE

    # -- output -----------------------------------------------------------------------------------
    def frame(
        self,
        kind: DataKind,
        columns: Mapping[str, np.ndarray | pd.api.extensions.ExtensionArray],
        *,
        symbol: Symbol,
        timeframe: str = EVENTS,
        exchange: str,
        notes: Iterable[str] = (),
        row_offset: int = 1,
        source: str | None = None,
    ) -> MarketFrame:
        """Wrap canonical columns (already of the schema dtypes) in a MarketFrame."""
        frame = pd.DataFrame(columns, copy=False)
        if len(frame) == 0:
            raise FormatError("no data rows", path=source or self.source)
        all_notes = [*self.name.notes, *self.notes, *notes]
        return MarketFrame(
            kind=kind,
            symbol=symbol,
            timeframe=timeframe,
            frame=frame,
            source=source or self.source,
            exchange=exchange,
            row_offset=row_offset,
            notes=list(dict.fromkeys(all_notes)),
        )
