"""The numba kline parser gives exactly pyarrow's values, and hands every unusual file back (None)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from autoperp.data.readers.binance_klines import _arrow_columns
from autoperp.data.readers.kline_parser import parse_klines

ROW = (
    b"1704067200000,42283.58,42298.62,42261.02,42298.61,35.92,1704067259999,1518964.3,1396,17.24,729053.3,0\n"
)


def test_identical_to_pyarrow_on_every_real_kline_csv(real_dir: Path) -> None:
    files = sorted((real_dir / "binance_um_1m_monthly_isda").glob("*.csv.gz"))
    assert files
    for f in files:
        data = gzip.decompress(f.read_bytes())
        fast = parse_klines(data, header=True)
        assert fast is not None, f
        slow = _arrow_columns(data, str(f), True, True)
        for name, col in slow.items():
            np.testing.assert_array_equal(fast[name], col, err_msg=f"{f.name}:{name}")


def test_plain_forms_parse() -> None:
    crlf = parse_klines(ROW.replace(b"\n", b"\r\n") * 2, header=False)
    no_final_newline = parse_klines(ROW + ROW.rstrip(b"\n"), header=False)
    exp = parse_klines(ROW.replace(b"35.92", b"3.592e1").replace(b"17.24", b"1724E-2"), header=False)
    for out in (crlf, no_final_newline, exp):
        assert out is not None
        assert out["volume"][0] == 35.92 and out["ts"][0] == 1704067200000 and out["trades"][0] == 1396
    assert exp is not None and exp["taker_buy_volume"][0] == 17.24


@pytest.mark.parametrize(
    "data",
    [
        ROW + b"\n" + ROW,  # blank line
        ROW.replace(b"35.92", b""),  # empty field
        ROW.replace(b"35.92", b"nan"),
        ROW.replace(b"35.92", b"35.9200000000000001"),  # more digits than a double holds exactly
        ROW.replace(b",0\n", b"\n"),  # 11 fields
        ROW.replace(b"1396", b"1396.5"),  # fractional trade count
        b"",
    ],
)
def test_unusual_input_goes_to_the_slow_path(data: bytes) -> None:
    assert parse_klines(data, header=False) is None
