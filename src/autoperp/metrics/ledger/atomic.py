"""All-or-nothing file writes: write a temporary file beside the target, fsync it, ``os.replace`` it
over the target, fsync the directory. A reader sees the old file or the new one, never a part."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

#: Prefix of temporary files; anything carrying it is a leftover of an interrupted write.
TMP_PREFIX = ".tmp-"


def tmp_path_for(final: Path) -> Path:
    """A fresh temporary path in ``final``'s directory (same file system, so ``os.replace`` is atomic)."""
    return final.with_name(f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}-{final.name}")


def fsync_path(path: Path) -> None:
    """Flush ``path`` (a file or a directory) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(final: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to produce the file, then move it to ``final`` atomically.

    On any failure the temporary file is removed and ``final`` is untouched.
    """
    tmp = tmp_path_for(final)
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(final.parent)


def write_atomic_text(final: Path, text: str) -> None:
    """:func:`write_atomic` of UTF-8 ``text``."""
    write_atomic(final, lambda p: p.write_text(text, encoding="utf-8"))
