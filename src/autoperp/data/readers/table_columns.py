"""Typed access to the columns of an Arrow table (feather/parquet/CSV), with errors naming row and column."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from autoperp.core.errors import FormatError
from autoperp.data.readers.csv_table import FALSE_VALUES, TRUE_VALUES, first_null


def require_columns(table: pa.Table, names: Iterable[str], source: str, layout: str) -> None:
    """Raise naming the missing columns (and the ones found) when ``table`` lacks any of ``names``."""
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise FormatError(
            f"{layout}: missing column(s) {', '.join(missing)}; found {', '.join(table.column_names)}",
            path=source,
            field=missing[0],
        )


def float_column(table: pa.Table, name: str, source: str) -> np.ndarray:
    """Column ``name`` as float64 (nulls -> NaN; numeric strings parsed; other strings raise)."""
    col = table.column(name)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_decimal(col.type):
        return np.asarray(pc.cast(col, pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type):
        values = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna().to_numpy() & values.notna().to_numpy() & (values.astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise FormatError(
                f"not a number: {str(values.iloc[row - 1])[:40]!r}", path=source, row=row, field=name
            )
        return parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    raise FormatError(f"column holds {col.type}, expected numbers", path=source, field=name)


def int_column(table: pa.Table, name: str, source: str) -> np.ndarray:
    """Column ``name`` as int64; nulls and fractional values raise."""
    col = table.column(name)
    if col.null_count:
        raise FormatError(
            "empty value where a whole number is required", path=source, row=first_null(col) + 1, field=name
        )
    if pa.types.is_integer(col.type):
        return np.asarray(col.to_numpy(), dtype=np.int64)
    values = float_column(table, name, source)
    frac = ~np.isfinite(values) | (values != np.floor(values))
    if frac.any():
        row = int(np.flatnonzero(frac)[0]) + 1
        raise FormatError(f"not a whole number: {values[row - 1]!r}", path=source, row=row, field=name)
    return values.astype(np.int64)


def bool_column(table: pa.Table, name: str, source: str) -> np.ndarray:
    """Column ``name`` as bool: booleans, 0/1, or the strings true/false in any usual case."""
    col = table.column(name)
    if col.null_count:
        raise FormatError(
            "empty value where true/false is required", path=source, row=first_null(col) + 1, field=name
        )
    if pa.types.is_boolean(col.type):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(col.type):
        values = np.asarray(col.to_numpy(), dtype=np.int64)
        bad = (values != 0) & (values != 1)
    else:
        text = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object).astype(str).str.strip()
        is_true = text.isin(TRUE_VALUES).to_numpy()
        bad = ~(is_true | text.isin(FALSE_VALUES).to_numpy())
        values = is_true.astype(np.int64)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise FormatError(f"not true/false: {col[row - 1].as_py()!r}", path=source, row=row, field=name)
    return values.astype(bool)


def string_column(table: pa.Table, name: str) -> pd.arrays.StringArray:
    """Column ``name`` as a pandas ``string`` array (nulls stay missing)."""
    out: pd.arrays.StringArray = pd.array(table.column(name).to_pylist(), dtype="string")
    return out
