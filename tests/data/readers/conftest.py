"""Fixtures for the reader tests: writing tiny files (plain/gz/zip) and checking canonical frames."""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from autoperp.data.schema import DTYPES, MarketFrame, optional_columns, required_columns

Writer = Callable[..., Path]
Checker = Callable[[MarketFrame], None]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """write(name, text_or_bytes, compress=None|'gz'|'zip', member=None) -> path under tmp_path."""

    def _write(
        name: str, content: str | bytes, compress: str | None = None, member: str | None = None
    ) -> Path:
        data = content.encode() if isinstance(content, str) else content
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if compress == "gz":
            path.write_bytes(gzip.compress(data))
        elif compress == "zip":
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(member or name.removesuffix(".zip"), data)
        else:
            path.write_bytes(data)
        return path

    return _write


def _check(frame: MarketFrame) -> None:
    df = frame.frame
    required = required_columns(frame.kind)
    allowed = set(required) | set(optional_columns(frame.kind))
    assert len(df) > 0
    missing = [c for c in required if c not in df.columns]
    assert not missing, f"{frame.source}: missing {missing}"
    extra = [c for c in df.columns if c not in allowed]
    assert not extra, f"{frame.source}: non-canonical columns {extra}"
    for col in df.columns:
        assert str(df[col].dtype) == DTYPES[col] or (
            DTYPES[col] == "string" and str(df[col].dtype).startswith("string")
        ), f"{frame.source}: {col} is {df[col].dtype}, expected {DTYPES[col]}"
    assert df["ts"].dtype == np.int64


@pytest.fixture
def check_frame() -> Checker:
    """Assert a frame is non-empty with exactly canonical columns of the schema dtypes."""
    return _check
