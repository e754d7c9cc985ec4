"""``--repair``: fix what can be fixed without inventing data, and log every change.

Fixable: exact duplicate rows (dropped), out-of-order rows (stable sort by key), gaps (recorded, never
filled: a missing bar is not invented). Everything else still refuses the import.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from autoperp.core.time import format_ms, now_ms
from autoperp.core.timeframes import is_timeframe, timeframe_ms
from autoperp.data.schema import MarketFrame
from autoperp.data.validation.findings import ValidationReport


@dataclass(frozen=True)
class RepairAction:
    rule: str
    rows: int  # rows affected
    detail: str


@dataclass
class RepairLog:
    """What ``--repair`` did to one source; written as JSON lines beside the stored series."""

    source: str
    rows_in: int
    rows_out: int
    actions: list[RepairAction] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (last ts before, first ts after), ms
    at_ms: int = field(default_factory=now_ms)

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def to_json(self) -> str:
        d = asdict(self)
        d["gaps"] = [list(g) for g in self.gaps]
        return json.dumps(d, sort_keys=True)

    def summary(self) -> str:
        if not self.actions:
            return f"{self.source}: nothing to repair"
        return f"{self.source}: " + "; ".join(f"{a.rule}: {a.detail}" for a in self.actions)


def _sort_key(mf: MarketFrame) -> list[str]:
    cols = mf.frame.columns
    return [c for c in ("ts", "side", "level", "id") if c in cols]


def repair_frame(
    mf: MarketFrame, report: ValidationReport, gap_tolerance: float = 1.5
) -> tuple[MarketFrame, RepairLog]:
    """Return a repaired copy of ``mf`` and the log of what changed. ``mf`` itself is not modified."""
    rules = {f.rule for f in report.findings}
    df = mf.frame
    log = RepairLog(mf.source, len(df), len(df))
    if "duplicate_row" in rules:
        dup = df.duplicated(keep="first").to_numpy()
        n = int(dup.sum())
        df = df.loc[~dup]
        log.actions.append(RepairAction("duplicate_row", n, f"dropped {n} exact duplicate row(s)"))
    if "out_of_order" in rules:
        n = int((np.diff(df["ts"].to_numpy()) < 0).sum())
        df = df.sort_values(_sort_key(mf), kind="stable")
        log.actions.append(RepairAction("out_of_order", n, f"sorted by time ({n} row(s) were out of order)"))
    df = df.reset_index(drop=True)
    if "gap" in rules and is_timeframe(mf.timeframe):
        step = timeframe_ms(mf.timeframe)
        ts = np.unique(df["ts"].to_numpy())
        d = np.diff(ts)
        at = np.flatnonzero(d > gap_tolerance * step)
        log.gaps = [(int(ts[i]), int(ts[i + 1])) for i in at]
        missing = int(sum(int(d[i] // step) - 1 for i in at))
        first = f"first {format_ms(log.gaps[0][0])} -> {format_ms(log.gaps[0][1])}" if log.gaps else ""
        log.actions.append(
            RepairAction(
                "gap", missing, f"marked {len(at)} gap(s), {missing} bar(s) missing, not filled; {first}"
            )
        )
    log.rows_out = len(df)
    out = MarketFrame(
        kind=mf.kind,
        symbol=mf.symbol,
        timeframe=mf.timeframe,
        frame=df,
        source=mf.source,
        exchange=mf.exchange,
        row_offset=mf.row_offset,
        notes=list(mf.notes),
    )
    return out, log
