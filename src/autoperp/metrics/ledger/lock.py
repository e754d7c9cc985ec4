"""The ledger's writer lock: an exclusive ``fcntl.flock`` on ``<root>/.lock``.

flock locks belong to an open file description, so two processes (or two opens in one process) exclude
each other, and the kernel drops the lock when its holder dies: a crashed writer never leaves the ledger
locked.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autoperp.core.errors import StoreError

LOCK_FILE = ".lock"
_POLL_S = 0.02


@contextmanager
def exclusive_lock(root: Path, timeout_s: float) -> Iterator[None]:
    """Hold the exclusive writer lock of the ledger at ``root`` (created if missing) for the block.

    Waits up to ``timeout_s`` seconds for another writer to finish, then raises :class:`StoreError`.
    """
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a+b") as f:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{root}: another process has held the trial ledger's lock for {timeout_s:g} s; "
                        "retry when it has finished"
                    ) from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
