"""The readers' fast paths agree with their slow paths value for value, and hand back what they do not take."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from autoperp.data.readers.binance_klines import _arrow_columns
from autoperp.data.readers.kline_parser import parse_klines
from autoperp.data.readers.timestamps import naive_iso_to_ms, strings_to_ms

ROW = "1704067200000,{p},42298.62,42261.02,42298.61,35.92,1704067259999,1518964.3,1396,17.24,729053.3,0"


@pytest.mark.parametrize(
    "price",
    [
        "0000000000000000000042283.58",  # more digits than an int64 holds, few significant ones
        "0.000000000000000042283",  # 22 digits, 21 after the point: 42283 / 10**21
        "000000000000000000.1",
        "123456789012345",  # 15 significant digits: the most that convert exactly
        "-0.5",
        "4.228358e4",
    ],
)
def test_long_and_odd_numbers_parse_like_pyarrow(price: str) -> None:
    data = (ROW.format(p=price) + "\r\n" + ROW.format(p="1.5")).encode()  # CRLF, no final newline
    fast = parse_klines(data, header=False)
    assert fast is not None
    slow = _arrow_columns(data, "x.csv", False, True)
    for name, col in slow.items():
        np.testing.assert_array_equal(fast[name], col, err_msg=name)


@pytest.mark.parametrize(
    "price",
    ["0000000000000000001234567890123456", "1.234567890123456", "12345678901234567890", "1e", "1.2.3"],
)
def test_numbers_beyond_the_parser_go_to_pyarrow(price: str) -> None:
    assert parse_klines((ROW.format(p=price) + "\n").encode(), header=False) is None


def test_last_line_ending_in_carriage_return() -> None:
    out = parse_klines((ROW.format(p="1.5") + "\r").encode(), header=False)
    assert out is not None and out["open"].tolist() == [1.5]


@pytest.mark.parametrize(
    "values",
    [
        ["2021-12-31 23:01:00.000000", "2022-01-01 00:00:00.999999"],
        ["2021-12-31T23:01:00", "2021-12-31T23:02:00.5"],
        ["2021-12-31 23:01", "2021-12-31", "2021-12-31 23"],
        ["1969-12-31 23:59:59.9995", "2262-04-11 23:47:16.854775807"],
    ],
)
def test_naive_iso_text_reads_as_pandas_reads_it(values: list[str]) -> None:
    fast = naive_iso_to_ms(pa.array(values))
    assert fast is not None
    slow = strings_to_ms(np.array(values, dtype=object), source="x", field="t")
    assert fast.tolist() == slow.tolist()


@pytest.mark.parametrize(
    "value",
    [
        "2021-12-31T23:01:00Z",
        "2021-12-31 23:01:00+01:00",
        "1640991660000",
        " 2021-12-31",
        "2021-02-30",
        "2021",
    ],
)
def test_other_time_text_goes_to_pandas(value: str) -> None:
    assert naive_iso_to_ms(pa.array(["2021-12-31 23:00:00", value])) is None
