"""How an import is shown to a person: one table row per stored series, then notes and repairs."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoperp.data.importer import ImportedSeries, ImportReport
from autoperp.data.store.base import SeriesKey


def print_import_report(report: ImportReport, console: Console) -> None:
    """One row per stored series (a series may come from several files)."""
    t = Table(title="imported")
    for c in ("pair", "kind", "timeframe", "files", "rows", "new rows"):
        t.add_column(c, justify="right" if c in ("files", "rows", "new rows") else "left")
    by_key: dict[SeriesKey, list[ImportedSeries]] = {}
    for it in report.items:
        by_key.setdefault(it.key, []).append(it)
    for key, items in by_key.items():
        t.add_row(
            key.symbol.ccxt,
            key.kind.value,
            key.timeframe,
            str(len(items)),
            f"{sum(i.rows for i in items):,}",
            f"{sum(i.added for i in items):,}",
        )
    console.print(t)
    # the same note from many files (e.g. 12 monthly archives) is shown once, with its file count
    notes: dict[str, list[str]] = {}
    for it in report.items:
        for note in dict.fromkeys(it.notes):
            notes.setdefault(note, []).append(Path(it.source).name)
    for note, names in notes.items():
        where = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        console.print(f"note: {escape(where)}: {escape(note)}")
    for it in report.items:
        if it.repair is not None and it.repair.changed:
            console.print(f"[yellow]repaired[/] {escape(it.repair.summary())} (log: {it.repair_log_path})")
    if report.skipped_rules:
        console.print(f"[yellow]rules skipped by config:[/] {', '.join(report.skipped_rules)}")
