"""What the `backtesting`, `evaluate` and `lookahead-analysis` CLI tests share: running the command and
synthetic BTC data files to point ``--datafile`` at."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoperp.cli.app import main
from tests.backtest.synthetic_inputs import BTC, synthetic, write_files


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``autoperp *args`` on a 220-column terminal."""
    # rich sizes tables to the terminal; a fixed width keeps every cell on one line
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "220")
        with pytest.raises(SystemExit) as ei:
            main(args)
    out, err = capsys.readouterr()
    return int(ei.value.code or 0), out, err


def btc_files(directory: Path, n_bars: int, seed: int, *, parts: int = 1) -> dict[str, list[Path]]:
    """Binance-archive CSVs of ``n_bars`` synthetic BTC 1m bars: candles (in ``parts`` files), mark
    candles, funding."""
    return write_files(directory, synthetic([BTC], n_bars, seed=seed)[BTC], parts=parts)


def data_args(files: dict[str, list[Path]]) -> list[str]:
    """``--datafile`` candles and ``--datafile-funding`` from :func:`btc_files`' result."""
    return [
        "--datafile", *map(str, files["candles"]),
        "--datafile-funding", *map(str, files["funding"]),
    ]  # fmt: skip
