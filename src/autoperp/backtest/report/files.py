"""Writing report files (backtest and evaluation): the output directory, created or refused in one line,
and files that appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from autoperp.core.errors import UsageError

__all__ = ["report_dir", "write_atomic"]


def report_dir(out_dir: Path) -> Path:
    """``out_dir``, created with its parents if missing; :class:`UsageError` naming it if that fails."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{out}: cannot create the report directory ({e.strerror})") from None
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename, so a reader never sees
    half a report."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
