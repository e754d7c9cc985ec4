"""Training scalars: a wide CSV (one row per logged step) and, when ``tensorboard`` is importable, a
TensorBoard event file beside it. Without TensorBoard the CSV is the whole log; nothing fails."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ScalarLog", "read_scalars"]


def _summary_writer(log_dir: Path) -> Any | None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional: torch's writer needs the package
        return None
    return SummaryWriter(log_dir=str(log_dir))


class ScalarLog:
    """Append scalars per step to ``csv_path``; ``tensorboard_dir`` (optional) gets the same as events.

    The CSV's columns are ``step`` and the union of names seen so far; a name that first appears later
    rewrites the (small) file with the wider header, earlier rows empty in that column.
    """

    def __init__(self, csv_path: Path | str, tensorboard_dir: Path | str | None = None) -> None:
        self.csv_path = Path(csv_path)
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] = []
        self.rows: list[dict[str, float]] = []
        self.writer = _summary_writer(Path(tensorboard_dir)) if tensorboard_dir is not None else None

    @property
    def tensorboard(self) -> bool:
        """True when events are written for TensorBoard too."""
        return self.writer is not None

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        """Record ``scalars`` at ``step`` (env steps, or any increasing count)."""
        row = {"step": float(step), **{k: float(v) for k, v in scalars.items()}}
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new:
            self.columns += new
            self._rewrite()
        else:
            with self.csv_path.open("a", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow([_cell(row.get(c)) for c in self.columns])
        if self.writer is not None:
            for k, v in scalars.items():
                if math.isfinite(float(v)):
                    self.writer.add_scalar(k, float(v), step)

    def _rewrite(self) -> None:
        with self.csv_path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(self.columns)
            for r in self.rows:
                w.writerow([_cell(r.get(c)) for c in self.columns])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> ScalarLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cell(v: float | None) -> str:
    if v is None:
        return ""
    if not math.isfinite(v):
        return repr(v)  # 'nan', 'inf': float() reads them back
    if v == int(v) and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def read_scalars(csv_path: Path | str) -> list[dict[str, float]]:
    """The rows of a scalars CSV (empty cells and ``nan`` as NaN)."""
    out: list[dict[str, float]] = []
    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.append({k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()})
    return out
