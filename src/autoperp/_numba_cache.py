"""Point numba's on-disk cache at a directory keyed by the package's source files.

numba checks only the timestamp of the file a cached function lives in, not of the files whose
functions it calls and inlines: after ``sim/accounting.py`` changes, ``sim/kernel.py``'s cached machine
code would still hold the old accounting. Keying the cache directory by every source file's size and
mtime makes any edit start a fresh cache. An explicit ``NUMBA_CACHE_DIR`` is left alone.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def source_fingerprint(root: Path) -> str:
    """Short hash of (path, size, mtime) of every .py file under ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def configure_numba_cache() -> None:
    """Set ``NUMBA_CACHE_DIR`` (before numba is imported) unless the user already did."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autoperp" / "numba"
    os.environ["NUMBA_CACHE_DIR"] = str(base / source_fingerprint(Path(__file__).resolve().parent))
