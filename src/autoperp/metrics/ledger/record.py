"""What the ledger stores about one trial: its kind, the data it saw and the summary of its returns.

Times are int64 ms UTC. Sharpe figures computed by the ledger are **per bar** (not annualised), with the
std at ddof=1, skewness the third standardised moment and kurtosis the raw fourth (normal = 3), the
conventions of :mod:`autoperp.metrics.sharpe_inference`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from autoperp.core.errors import ValidationError

#: Version of the metadata layout written by this code; readers refuse newer ones.
RECORD_FORMAT = 1


class TrialKind(StrEnum):
    """What produced a trial."""

    BACKTEST = "backtest"
    TRAIN = "train"
    EVOLVE = "evolve"
    EVALUATE = "evaluate"
    VAULT = "vault"


#: Kinds whose trials competed for selection, so count toward DSR's N. A vault run is a single final
#: test of an already selected model: counting it would only inflate N.
SELECTION_KINDS: frozenset[TrialKind] = frozenset(
    {TrialKind.BACKTEST, TrialKind.TRAIN, TrialKind.EVOLVE, TrialKind.EVALUATE}
)


def parse_kind(kind: TrialKind | str) -> TrialKind:
    """``kind`` as a :class:`TrialKind`, or :class:`ValidationError` naming the field ``kind``."""
    try:
        return TrialKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in TrialKind)
        raise ValidationError(f"unknown trial kind {kind!r}: use one of {allowed}", field="kind") from None


def _symbol_text(s: object) -> str:
    # core.symbols.Symbol spells itself in ccxt form through .ccxt; plain strings are taken as given
    text = getattr(s, "ccxt", s)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"symbol {s!r} is not a non-empty string", field="data_range.symbols")
    return text.strip()


@dataclass(frozen=True)
class DataRange:
    """The market data a trial ran on: ``symbols`` (ccxt form), bar ``timeframe`` and the half-open span
    ``[start_ms, end_ms)`` in ms UTC. ``manifest_hash`` pins the exact stored data when known."""

    symbols: Sequence[str]  # stored as a tuple; one string is one symbol
    timeframe: str
    start_ms: int
    end_ms: int
    manifest_hash: str | None = None

    def __post_init__(self) -> None:
        raw: Sequence[object] = (self.symbols,) if isinstance(self.symbols, str) else self.symbols
        symbols = tuple(_symbol_text(s) for s in raw)
        if not symbols:
            raise ValidationError("a data range needs at least one symbol", field="data_range.symbols")
        object.__setattr__(self, "symbols", symbols)
        if not isinstance(self.timeframe, str) or not self.timeframe.strip():
            raise ValidationError("timeframe must be a non-empty string", field="data_range.timeframe")
        for name in ("start_ms", "end_ms"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or int(v) != v:
                raise ValidationError(
                    f"{name} must be an integer (ms UTC), got {v!r}", field=f"data_range.{name}"
                )
            object.__setattr__(self, name, int(v))
        if self.end_ms <= self.start_ms:
            raise ValidationError(
                f"end_ms {self.end_ms} is not after start_ms {self.start_ms}", field="data_range.end_ms"
            )
        if self.manifest_hash is not None and not isinstance(self.manifest_hash, str):
            raise ValidationError("manifest_hash must be a string or None", field="data_range.manifest_hash")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as stored in the metadata file."""
        return {
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "manifest_hash": self.manifest_hash,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DataRange:
        """Inverse of :meth:`to_json`."""
        return cls(
            tuple(d["symbols"]), d["timeframe"], int(d["start_ms"]), int(d["end_ms"]), d.get("manifest_hash")
        )


@dataclass(frozen=True)
class ReturnStats:
    """Summary of a trial's per-bar return series, computed by the ledger when the trial is recorded.

    ``bar_ms``: median spacing of the timestamps (0 for a single bar). ``sharpe``/``skewness``/``kurtosis``:
    per-bar Sharpe (ddof=1), skewness and raw kurtosis; NaN when undefined (fewer than 3 bars or constant
    returns). ``total_return``: compounded simple return over the series (fraction).
    """

    n_bars: int
    first_ts_ms: int
    last_ts_ms: int
    bar_ms: int
    sharpe: float
    skewness: float
    kurtosis: float
    total_return: float

    def to_json(self) -> dict[str, Any]:
        return {
            "n_bars": self.n_bars,
            "first_ts_ms": self.first_ts_ms,
            "last_ts_ms": self.last_ts_ms,
            "bar_ms": self.bar_ms,
            # JSON has no NaN: an undefined statistic is stored as null
            "sharpe": _finite_or_none(self.sharpe),
            "skewness": _finite_or_none(self.skewness),
            "kurtosis": _finite_or_none(self.kurtosis),
            "total_return": _finite_or_none(self.total_return),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ReturnStats:
        return cls(
            int(d["n_bars"]),
            int(d["first_ts_ms"]),
            int(d["last_ts_ms"]),
            int(d["bar_ms"]),
            _none_to_nan(d.get("sharpe")),
            _none_to_nan(d.get("skewness")),
            _none_to_nan(d.get("kurtosis")),
            _none_to_nan(d.get("total_return")),
        )


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _none_to_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the ledger holds it. ``trial_id`` is ``T`` + a zero-padded sequence number, unique
    within a ledger and increasing in recording order. ``config`` is the canonical JSON form of the config
    that ``config_hash`` (sha256, 16 hex digits) identifies. ``metrics`` are whatever the caller measured
    (units are the caller's); ``stats`` are the ledger's own per-bar figures. ``created_ms``: ms UTC."""

    trial_id: str
    kind: TrialKind
    name: str
    family: str
    config_hash: str
    config: dict[str, Any]
    data_range: DataRange
    stats: ReturnStats
    metrics: dict[str, float] = field(default_factory=dict)
    model_id: str | None = None
    notes: str = ""
    created_ms: int = 0

    @property
    def n_bars(self) -> int:
        """Number of per-bar returns stored for the trial."""
        return self.stats.n_bars

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as stored in the metadata file (non-finite metrics as null)."""
        return {
            "format": RECORD_FORMAT,
            "trial_id": self.trial_id,
            "kind": self.kind.value,
            "name": self.name,
            "family": self.family,
            "config_hash": self.config_hash,
            "config": self.config,
            "data_range": self.data_range.to_json(),
            "stats": self.stats.to_json(),
            "metrics": {k: _finite_or_none(v) for k, v in self.metrics.items()},
            "model_id": self.model_id,
            "notes": self.notes,
            "created_ms": self.created_ms,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TrialRecord:
        """Inverse of :meth:`to_json`; a null metric reads back as NaN."""
        return cls(
            trial_id=str(d["trial_id"]),
            kind=TrialKind(d["kind"]),
            name=str(d["name"]),
            family=str(d["family"]),
            config_hash=str(d["config_hash"]),
            config=dict(d["config"]),
            data_range=DataRange.from_json(d["data_range"]),
            stats=ReturnStats.from_json(d["stats"]),
            metrics={str(k): _none_to_nan(v) for k, v in d.get("metrics", {}).items()},
            model_id=d.get("model_id"),
            notes=str(d.get("notes", "")),
            created_ms=int(d["created_ms"]),
        )
