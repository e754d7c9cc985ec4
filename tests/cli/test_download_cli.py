"""`autoperp download-data` end to end against a fake Binance on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autoperp.cli.download_command import expand_multi_values, register
from autoperp.core.errors import ChecksumError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS
from autoperp.data.store.base import SeriesKey
from autoperp.data.store.parquet import ParquetStore
from tests.support.fake_binance import FakeBinance

_real_connect = socket.socket.connect


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def connect(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and not str(address[0]).startswith("127."):
            raise OSError(f"CLI download tests may only reach loopback, not {address}")
        return _real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake(user_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    with FakeBinance() as fb:
        monkeypatch.setenv("AUTOPERP__DOWNLOAD__ARCHIVE_URL", fb.url)
        monkeypatch.setenv("AUTOPERP__DOWNLOAD__RETRIES", "1")
        yield fb


def cli_app() -> typer.Typer:
    """The real `autoperp` app (download-data is registered there by ``register``)."""
    from autoperp.cli.app import app

    return app


def test_register_adds_the_command() -> None:
    app = typer.Typer()
    register(app)
    assert [c.name for c in app.registered_commands] == ["download-data"]


def main_exit(argv: list[str]) -> int:
    from autoperp.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def test_expand_multi_values() -> None:
    args = ["--pairs", "A", "B", "--timeframes", "1m", "1h", "--timerange", "-20240301", "-t", "5m"]
    assert expand_multi_values(args) == [
        "--pairs", "A", "--pairs", "B", "--timeframes", "1m", "--timeframes", "1h",
        "--timerange", "-20240301", "-t", "5m",
    ]  # fmt: skip
    assert expand_multi_values(["--pairs=A", "B", "--dl-trades"]) == [
        "--pairs=A",
        "--pairs",
        "B",
        "--dl-trades",
    ]
    assert expand_multi_values(["--", "--pairs", "x", "y"]) == ["--", "--pairs", "x", "y"]


def test_the_documented_command(fake: FakeBinance, user_data: Path) -> None:
    for pair in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        for tf in ("1m", "1h"):
            for kind in (DataKind.FUTURES, DataKind.MARK):
                fake.publish_days(kind, pair, tf, "2024-01-01", "2024-01-03")
        fake.publish_month(DataKind.FUNDING, pair, "1m", 2024, 1)
    argv = [
        "download-data", "--exchange", "binanceusdm", "--pairs", "BTC/USDT:USDT", "ETH/USDT:USDT",
        "--timeframes", "1m", "1h", "--timerange", "20240101-20240103",
        "--candle-types", "futures", "mark", "funding_rate",
    ]  # fmt: skip
    result = CliRunner().invoke(cli_app(), argv, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "imported" in out and "2,880" in out and "BTC/USDT:USDT" in out and "ETH/USDT:USDT" in out
    store = ParquetStore(user_data / "data")
    infos = {(i.key.symbol.base, i.key.kind.value, i.key.timeframe): i.rows for i in store.list_series()}
    assert infos == {
        (base, kind, tf): rows
        for base in ("BTC", "ETH")
        for kind, tf, rows in (
            ("futures", "1m", 2880), ("futures", "1h", 48), ("mark", "1m", 2880), ("mark", "1h", 48),
            ("funding_rate", EVENTS, 6),
        )
    }  # fmt: skip

    # again: everything is cached and already stored
    hits = sum(fake.hits.values())
    result = CliRunner().invoke(cli_app(), argv)
    assert result.exit_code == 0, result.output
    assert sum(fake.hits.values()) == hits


def test_config_file_and_no_import(fake: FakeBinance, user_data: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AUTOPERP__DOWNLOAD__ARCHIVE_URL")
    cfg = tmp_path / "autoperp.toml"
    cfg.write_text(f'[download]\narchive_url = "{fake.url}"\nsources = ["archive"]\n')
    fake.publish_days(DataKind.FUTURES, "SOL/USDT:USDT", "5m", "2024-01-01", "2024-01-02")
    argv = ["download-data", "-c", str(cfg), "-p", "SOL/USDT:USDT", "-t", "5m", "--timerange", "20240101-20240102",
            "--candle-types", "futures", "--no-import"]  # fmt: skip
    result = CliRunner().invoke(cli_app(), argv)
    assert result.exit_code == 0, result.output
    assert "not imported" in result.output
    assert (
        user_data / "downloads/binance/data/futures/um/daily/klines/SOLUSDT/5m/SOLUSDT-5m-2024-01-01.zip"
    ).exists()
    assert not (user_data / "data").exists() or ParquetStore(user_data / "data").list_series() == []


def test_today_comes_from_the_api(fake: FakeBinance, user_data: Path) -> None:
    argv = ["download-data", "--pairs", "BTC/USDT:USDT", "--timeframes", "1h", "--days", "1",
            "--candle-types", "futures", "--api-url", fake.url]  # fmt: skip
    result = CliRunner().invoke(cli_app(), argv)
    assert result.exit_code == 0, result.output
    assert fake.hits["/fapi/v1/klines"] >= 1
    rows = len(ParquetStore(user_data / "data").read(SeriesKey("binanceusdm", Symbol.parse("BTC/USDT:USDT"),
                                                                DataKind.FUTURES, "1h")))  # fmt: skip
    assert rows >= 24


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange", "kraken", "--pairs", "BTC/USDT:USDT"], "not supported for download: use binanceusdm"),
        (["--pairs", "BTCUSDT"], "cannot read pair 'BTCUSDT'"),
        (["--pairs", "BTC/USDT:USDT", "--timeframes", "2m"], "unknown timeframe '2m'"),
        (["--pairs", "BTC/USDT:USDT", "--timerange", "20240301-20240301"], "empty timerange"),
        (["--timeframes", "1m"], "no pairs given"),
    ],
)
def test_user_errors_are_usage_errors(fake: FakeBinance, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli_app(), ["download-data", *args])
    assert isinstance(result.exception, UsageError), result.output
    assert message in str(result.exception)


def test_errors_through_the_autoperp_entry_point(
    fake: FakeBinance, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        main_exit(["download-data", "--exchange", "kraken", "--pairs", "BTC/USDT:USDT"])
        == UsageError.exit_code
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exchange 'kraken' is not supported" in err

    paths = fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-01", "2024-01-02")
    fake.corrupt(paths[0])
    argv = ["download-data", "--pairs", "BTC/USDT:USDT", "--timeframes", "1h", "--timerange", "20240101-20240102",
            "--candle-types", "futures"]  # fmt: skip
    assert main_exit(argv) == ChecksumError.exit_code == 3
    assert "does not match the published" in capsys.readouterr().err

    fake.remove(paths[0])
    monkeypatch.setenv("AUTOPERP__DOWNLOAD__SOURCES", '["archive"]')
    assert main_exit(argv) == 3  # 404 everywhere
    err = capsys.readouterr().err
    assert "BTCUSDT-1h-2024-01-01.zip not found (HTTP 404)" in err
