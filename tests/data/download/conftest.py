"""Fixtures of the download tests: a fake Binance on 127.0.0.1, and a guard that refuses any other socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from tests.support.fake_binance import FakeBinance

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check(address: object) -> None:
    if isinstance(address, tuple):
        host = str(address[0])
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise OSError(f"download tests may only reach loopback, not {address}")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test in this folder can open a connection outside 127.0.0.0/8 (and no proxy is used)."""

    def connect(self: socket.socket, address: object) -> None:
        _check(address)
        return _real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        _check(address)
        return _real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A started fake Binance (archive + fapi) with nothing published yet."""
    with FakeBinance() as fb:
        yield fb
