"""Point numba's on-disk cache at a directory keyed by the package's source files.

numba checks only the timestamp of the file a cached function lives in, not of the files whose
functions it calls and inlines: after ``sim/accounting.py`` changes, ``sim/kernel.py``'s cached machine
code would still hold the old accounting. Keying the cache directory by every source file's size and
mtime makes any edit start a fresh cache. An explicit ``NUMBA_CACHE_DIR`` is left alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def source_fingerprint(root: Path) -> str:
    """Short hash of (path, size, mtime) of every .py file under ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


_KEEP = 4  # fingerprint directories kept: the current one and a few recent ones (other checkouts)


def _prune(base: Path, current: Path) -> None:
    """Drop all but the most recently used fingerprint directories; best effort, never fails the import."""
    try:
        dirs = sorted(
            (d for d in base.iterdir() if d.is_dir() and d != current), key=lambda d: d.stat().st_mtime
        )
        for old in dirs[: max(len(dirs) - (_KEEP - 1), 0)]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass


def configure_numba_cache() -> None:
    """Set ``NUMBA_CACHE_DIR`` (before numba is imported) unless the user already did."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autoperp" / "numba"
    current = base / source_fingerprint(Path(__file__).resolve().parent)
    if not current.exists():
        _prune(base, current)
    os.environ["NUMBA_CACHE_DIR"] = str(current)
