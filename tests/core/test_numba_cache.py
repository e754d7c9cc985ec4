"""The numba cache directory follows the package sources, so stale machine code is never reused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from autoperp import _numba_cache


def test_fingerprint_changes_when_a_source_changes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    before = _numba_cache.source_fingerprint(tmp_path)
    (tmp_path / "a.py").write_text("x = 22\n")
    assert _numba_cache.source_fingerprint(tmp_path) != before


def test_an_explicit_cache_dir_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    _numba_cache.configure_numba_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/else"


def test_old_fingerprint_dirs_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    base = tmp_path / "autoperp" / "numba"
    for i in range(6):
        (base / f"old{i}").mkdir(parents=True)
        os.utime(base / f"old{i}", (time.time() - 100 + i, time.time() - 100 + i))
    _numba_cache.configure_numba_cache()
    current = Path(os.environ["NUMBA_CACHE_DIR"])
    assert current.parent == base
    left = sorted(d.name for d in base.iterdir())
    assert left == ["old3", "old4", "old5"]  # the three newest stay beside the (new) current one
