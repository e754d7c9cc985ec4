"""Shared fixtures: where the real data lives, and an isolated user_data directory per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``$AUTOPERP_SHARED`` or ``../shared`` beside the checkout."""
    return Path(os.environ.get("AUTOPERP_SHARED", REPO.parent / "shared")).resolve()


def real_data_dir() -> Path:
    return shared_dir() / "data" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    d = real_data_dir()
    if not d.is_dir():
        pytest.skip(f"real data not found at {d} (set AUTOPERP_SHARED)")
    return d


@pytest.fixture
def user_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user_data directory; AUTOPERP__DATA__USER_DATA_DIR points at it for CLI calls."""
    d = tmp_path / "user_data"
    monkeypatch.setenv("AUTOPERP__DATA__USER_DATA_DIR", str(d))
    return d
