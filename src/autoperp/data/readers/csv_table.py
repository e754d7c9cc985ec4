"""Fast typed CSV parsing with pyarrow, and precise errors when it fails.

The fast path hands the bytes to ``pyarrow.csv`` with explicit column names and types (multithreaded).
pyarrow's own errors name neither the row nor the column reliably, so when it fails, a slow
diagnosis pass walks the rows with the standard ``csv`` module and raises a :class:`FormatError`
naming the first bad row (1-based, header not counted) and column. The slow pass runs only on bad input.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from autoperp.core.errors import FormatError

TRUE_VALUES = ["true", "True", "TRUE", "1"]
FALSE_VALUES = ["false", "False", "FALSE", "0"]
UTF8_BOM = b"\xef\xbb\xbf"


def strip_bom(data: bytes) -> bytes:
    """Drop a UTF-8 byte-order mark (spreadsheet exports add one)."""
    return data[3:] if data.startswith(UTF8_BOM) else data


def first_line(data: bytes) -> str:
    """The first non-empty line of ``data``, decoded and stripped (for sniffing headers)."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end].strip()
        if line:
            return line.decode("utf-8", errors="replace")
        start = end + 1
    return ""


def split_fields(line: str) -> list[str]:
    """Fields of one CSV line (quotes honoured), stripped."""
    return [f.strip() for f in next(csv.reader([line]), [])]


def looks_like_header(line: str) -> bool:
    """True when the first field is not a number (Binance archives added headers in 2022)."""
    fields = split_fields(line)
    if not fields:
        return False
    head = fields[0].lstrip("-+")
    return not head.replace(".", "", 1).isdigit()


def read_typed_csv(
    data: bytes,
    *,
    source: str,
    names: Sequence[str],
    types: Mapping[str, pa.DataType],
    header: bool,
    include: Sequence[str] | None = None,
    non_null: Sequence[str] = (),
) -> pa.Table:
    """Parse CSV ``data`` whose columns are ``names`` into a table of the ``include`` columns.

    ``types`` gives the pyarrow type of every included column; columns in ``non_null`` must have no
    empty values (e.g. timestamps, which cannot be NaN). Raises :class:`FormatError` for an empty file,
    a file with only a header, a row with the wrong number of fields, or a value that is not a number.
    """
    data = strip_bom(data)
    if not first_line(data):
        raise FormatError("file is empty", path=source)
    include = list(include or names)
    read_opts = pcsv.ReadOptions(column_names=list(names), skip_rows=1 if header else 0, use_threads=True)
    convert_opts = pcsv.ConvertOptions(
        column_types={n: types[n] for n in include},
        include_columns=include,
        true_values=TRUE_VALUES,
        false_values=FALSE_VALUES,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        table = pcsv.read_csv(pa.BufferReader(data), read_options=read_opts, convert_options=convert_opts)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        diagnose_csv(data, source=source, names=names, types=types, header=header, include=include)
        raise FormatError(f"cannot parse CSV: {exc}", path=source) from None
    if table.num_rows == 0:
        raise FormatError("file has a header but no data rows", path=source)
    for name in non_null:
        col = table.column(name)
        if col.null_count:
            row = first_null(col) + 1
            raise FormatError("empty value where a number is required", path=source, row=row, field=name)
    return table


def first_null(col: pa.ChunkedArray | pa.Array) -> int:
    """0-based index of the first null in ``col`` (caller checked that one exists)."""
    mask = np.asarray(col.is_null())
    return int(np.flatnonzero(mask)[0])


def diagnose_csv(
    data: bytes,
    *,
    source: str,
    names: Sequence[str],
    types: Mapping[str, pa.DataType],
    header: bool,
    include: Sequence[str],
) -> None:
    """Walk the rows and raise a :class:`FormatError` at the first one pyarrow could not read.

    Rows are counted as pyarrow counts them: blank lines are skipped, the header is not a row.

        Returns without raising when it finds nothing (the caller then reports pyarrow's message).
    """
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    if header:
        next(reader, None)
    checks = [(names.index(n), n, types[n]) for n in include]
    row = 0
    for record in reader:
        if not record:  # blank lines are not rows (pyarrow skips them too)
            continue
        row += 1
        if len(record) != len(names):
            raise FormatError(
                f"expected {len(names)} comma-separated fields ({', '.join(names)}), found {len(record)}: "
                "the row is cut short or the file is not this layout",
                path=source,
                row=row,
            )
        for idx, name, typ in checks:
            value = record[idx]
            problem = _value_problem(value, typ)
            if problem:
                raise FormatError(f"{problem}: {value[:40]!r}", path=source, row=row, field=name)


def _value_problem(value: str, typ: pa.DataType) -> str | None:
    if pa.types.is_floating(typ):
        if value == "":
            return None
        try:
            float(value)
        except ValueError:
            return "not a number"
        return None
    if pa.types.is_integer(typ):
        if value == "":
            return None
        try:
            int(value)
        except ValueError:
            return "not a whole number"
        return None
    if pa.types.is_boolean(typ):
        if value in TRUE_VALUES or value in FALSE_VALUES or value == "":
            return None
        return "not true/false"
    return None


def numpy_column(table: pa.Table, name: str, dtype: str) -> np.ndarray:
    """A table column as a numpy array of ``dtype`` (nulls of float columns become NaN)."""
    col = table.column(name)
    if col.num_chunks == 1:
        arr = col.chunk(0).to_numpy(zero_copy_only=False)
    else:
        arr = col.to_numpy()
    return np.asarray(arr, dtype=dtype)
