"""Import: validate reader output, optionally repair it, and write it to the store, all-or-nothing.

Every frame of a call is validated before anything is written; the first blocking finding raises a
one-line :class:`~autoperp.core.errors.ValidationError` naming file, row and rule, and the store is left
exactly as it was.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoperp.core.config import ValidationConfig
from autoperp.core.errors import UsageError, ValidationError
from autoperp.data.readers import read_file
from autoperp.data.schema import MarketFrame
from autoperp.data.store.base import MarketStore, SeriesKey
from autoperp.data.validation import RepairLog, ValidationReport, repair_frame, validate_frame


@dataclass
class ImportedSeries:
    key: SeriesKey
    source: str
    rows: int  # rows after repair
    added: int = 0  # rows new to the store (per series, counted once per call)
    repair: RepairLog | None = None
    repair_log_path: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    items: list[ImportedSeries] = field(default_factory=list)
    skipped_rules: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(i.rows for i in self.items)

    @property
    def added(self) -> int:
        return sum(i.added for i in self.items)

    @property
    def repairs(self) -> list[RepairLog]:
        return [i.repair for i in self.items if i.repair is not None and i.repair.changed]


def key_of(mf: MarketFrame) -> SeriesKey:
    return SeriesKey(mf.exchange, mf.symbol, mf.kind, mf.timeframe)


def prepare(
    mf: MarketFrame, config: ValidationConfig, *, repair: bool
) -> tuple[MarketFrame, RepairLog | None]:
    """Validate one frame and, under ``repair``, fix what is fixable. Raises on anything blocking."""
    report: ValidationReport = validate_frame(mf, config)
    report.raise_first(repair=repair)
    if report.ok:
        return mf, None
    fixed, log = repair_frame(mf, report, config.gap_tolerance)
    again = validate_frame(fixed, config)
    left = [f for f in again.findings if f.rule != "gap"]
    if left:  # a repair must never leave a fixable problem behind
        f = left[0]
        raise ValidationError(f"still broken after repair: {f.detail}", path=mf.source, rule=f.rule)
    return fixed, log


def _pool_size(n: int) -> int:
    return max(1, min(n, os.cpu_count() or 1))


def _run_all(
    jobs: Sequence[Callable[[], list[tuple[MarketFrame, RepairLog | None]]]],
    sizes: Sequence[int],
    store: MarketStore,
    config: ValidationConfig,
) -> ImportReport:
    """Run the per-source jobs on every core (largest first), each adding its validated frames to one
    write batch; commit only when every job succeeded. The first failure in source order is raised."""
    batch = store.begin_write()

    def run(
        job: Callable[[], list[tuple[MarketFrame, RepairLog | None]]],
    ) -> list[tuple[MarketFrame, RepairLog | None]]:
        prepared = job()
        for mf, _log in prepared:
            batch.add(key_of(mf), mf.frame)
        return prepared

    try:
        order = sorted(range(len(jobs)), key=lambda i: -sizes[i])
        with ThreadPoolExecutor(max_workers=_pool_size(len(jobs))) as pool:
            futures = {i: pool.submit(run, jobs[i]) for i in order}
            wait(futures.values())
        prepared = [item for i in range(len(jobs)) for item in futures[i].result()]
    except BaseException:
        batch.abort()
        raise
    added = batch.commit()
    return _report(prepared, added, store, config)


def import_frames(
    frames: Sequence[MarketFrame], store: MarketStore, config: ValidationConfig, *, repair: bool = False
) -> ImportReport:
    """Validate every frame and write them all; nothing is written if any frame is refused."""

    def job(mf: MarketFrame) -> list[tuple[MarketFrame, RepairLog | None]]:
        return [prepare(mf, config, repair=repair)]

    jobs = [functools.partial(job, mf) for mf in frames]
    return _run_all(jobs, [len(mf) for mf in frames], store, config)


def import_files(
    paths: Sequence[Path],
    store: MarketStore,
    config: ValidationConfig,
    *,
    repair: bool = False,
    **hints: Any,
) -> ImportReport:
    """Read, validate and import files, all or nothing. Each file is read, validated and staged in one
    task (parsing, checks and Parquet encoding release the GIL, so files proceed on every core).
    ``hints`` go to :func:`autoperp.data.readers.read_file` (kind, symbol, timeframe, exchange)."""

    def job(path: Path) -> list[tuple[MarketFrame, RepairLog | None]]:
        return [prepare(mf, config, repair=repair) for mf in read_file(path, **hints)]

    jobs = [functools.partial(job, Path(p)) for p in paths]
    return _run_all(jobs, [_work_estimate(Path(p)) for p in paths], store, config)


#: Compressed text costs about this many times the work per byte of a binary table (it inflates ~3x
#: and every value is parsed from text).
_COMPRESSED_TEXT_WEIGHT = 4


def _work_estimate(path: Path) -> int:
    """A file's relative cost to import, to start the longest jobs first (so no long job is left running
    alone on one core at the end): its size, weighted up for gzip/zip (compressed text)."""
    size = path.stat().st_size
    return size * _COMPRESSED_TEXT_WEIGHT if path.name.lower().endswith((".gz", ".zip")) else size


def _report(
    prepared: list[tuple[MarketFrame, RepairLog | None]],
    added: dict[SeriesKey, int],
    store: MarketStore,
    config: ValidationConfig,
) -> ImportReport:
    report = ImportReport(skipped_rules=list(config.disabled_rules))
    counted: set[SeriesKey] = set()
    for mf, log in prepared:
        key = key_of(mf)
        item = ImportedSeries(key, mf.source, len(mf.frame), repair=log, notes=list(mf.notes))
        if key not in counted:
            item.added = added.get(key, 0)
            counted.add(key)
        if log is not None and log.changed:
            item.repair_log_path = store.append_repair_log(key, log.to_json())
            if log.gaps:
                store.record_gaps(key, log.gaps)
        report.items.append(item)
    return report


def expand_paths(paths: Iterable[Path | str], is_supported: object) -> list[Path]:
    """Files named, plus supported files under named directories (sorted). Raises on a missing path."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and is_supported(f))  # type: ignore[operator]
            if not found:
                raise UsageError(f"{p}: directory holds no file in a supported format")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"{p}: no such file or directory")
    return out
