"""Vectorised helpers for line-oriented JSON files (one event per line), built on numpy and pyarrow.

Lines are located and classified with numpy over the raw bytes, a chosen subset of lines is joined
into one buffer (bytes slicing, no parsing in Python), and parsed in a single ``pyarrow.json`` pass with
an explicit schema. Nested
level lists (``[["price", "qty"], ...]``) are flattened into float arrays plus per-event offsets.
Every problem raises :class:`FormatError` naming the 1-based line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pjson

from autoperp.core.errors import FormatError

try:  # optional accelerator (a dependency of ccxt)
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads
    JSON_ERRORS: tuple[type[BaseException], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    loads = json.loads
    JSON_ERRORS = (ValueError,)

PAD = 128  # zero bytes after the data, so fixed-width windows never run off the end
LEVELS = pa.list_(pa.list_(pa.string()))


@dataclass(frozen=True)
class Lines:
    """Where each line of ``buf`` starts and ends (``ends`` excludes the newline and any '\\r')."""

    raw: bytes  # the data
    buf: np.ndarray  # uint8 copy of the data followed by PAD zero bytes
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, i: int) -> bytes:
        """Bytes of line ``i`` (0-based)."""
        return self.raw[self.starts[i] : self.ends[i]]


def split_lines(data: bytes, source: str) -> Lines:
    """Index the lines of ``data``; a trailing newline does not make an extra line. Blank lines raise."""
    size = len(data)
    buf = np.zeros(size + PAD, dtype=np.uint8)
    buf[:size] = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf[:size] == 10)
    starts = np.concatenate(([0], nl + 1)).astype(np.int64)
    ends = np.concatenate((nl, [size])).astype(np.int64)
    if starts[-1] >= size:  # data ends with a newline
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends = ends - cr
    blank = ends <= starts
    if blank.all():
        raise FormatError("file is empty", path=source)
    if blank.any():
        raise FormatError(
            "empty line in the middle of the data", path=source, row=int(np.flatnonzero(blank)[0]) + 1
        )
    return Lines(data, buf, starts, ends)


def bytes_at(buf: np.ndarray, pos: np.ndarray, pattern: bytes, limit: np.ndarray) -> np.ndarray:
    """Boolean per position: does ``buf[pos : pos + len(pattern)]`` equal ``pattern`` (within ``limit``)?"""
    n = len(pattern)
    ok = pos + n <= limit
    if not n or not len(pos):
        return ok
    match = (window(buf, pos, n) == np.frombuffer(pattern, dtype=np.uint8)).all(axis=1)
    return np.asarray(ok & match, dtype=bool)


def window(buf: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """``width`` bytes from each position as a 2-D array (``buf`` is padded, see :class:`Lines`)."""
    if width > PAD:
        raise ValueError(f"window wider than the padding ({width} > {PAD})")
    return np.asarray(np.lib.stride_tricks.sliding_window_view(buf, width)[pos])


def first_in_window(
    buf: np.ndarray, pos: np.ndarray, char: bytes, width: int, limit: np.ndarray
) -> np.ndarray:
    """Position of the first ``char`` in ``[pos, min(pos + width, limit))``; -1 when there is none."""
    hits = window(buf, pos, width) == char[0]
    hits &= np.arange(width) < (limit - pos)[:, None]
    found = hits.any(axis=1)
    return np.where(found, pos + hits.argmax(axis=1), -1).astype(np.int64)


def gather(lines: Lines, idx: np.ndarray, offsets: np.ndarray) -> bytes:
    """Bytes of lines ``idx`` from ``offsets[idx]`` to their end, newline-terminated, in one buffer."""
    data = lines.raw
    begin = offsets[idx].tolist()
    end = lines.ends[idx].tolist()
    return b"\n".join([data[b:e] for b, e in zip(begin, end, strict=True)]) + b"\n"


def read_json_lines(blob: bytes, schema: pa.Schema) -> pa.Table:
    """Parse newline-delimited JSON objects with an explicit schema (other fields ignored)."""
    return pjson.read_json(
        pa.BufferReader(blob),
        read_options=pjson.ReadOptions(use_threads=True, block_size=1 << 22),
        parse_options=pjson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


def locate_bad_json(lines: Lines, idx: np.ndarray, offsets: np.ndarray, source: str, what: str) -> NoReturn:
    """Error path after pyarrow refused a batch: raise at the first line that is not a JSON object."""
    for i in idx:
        parse_object(lines.line(int(i))[int(offsets[i] - lines.starts[i]) :], int(i) + 1, source)
    raise FormatError(f"cannot parse the {what} lines (a value has an unexpected type)", path=source)


def parse_object(raw: bytes, line_no: int, source: str) -> dict[str, Any]:
    """One JSON object, or a :class:`FormatError` naming the line."""
    try:
        obj = loads(raw)
    except JSON_ERRORS as exc:
        raise FormatError(f"not valid JSON ({exc})", path=source, row=line_no) from None
    if not isinstance(obj, dict):
        raise FormatError("expected a JSON object", path=source, row=line_no)
    return obj


def field(struct: pa.ChunkedArray, name: str) -> pa.Array:
    """Child ``name`` of a struct column as one array (struct nulls propagate)."""
    out: pa.Array = pc.struct_field(struct, name).combine_chunks()
    return out


def require(arr: pa.Array, name: str, rows: np.ndarray, source: str, what: str) -> pa.Array:
    """Raise naming the line of the first null in ``arr`` (``rows`` maps element -> 1-based line)."""
    if arr.null_count:
        bad = int(np.flatnonzero(np.asarray(arr.is_null()))[0])
        raise FormatError(f"{what} without '{name}'", path=source, row=int(rows[bad]), field=name)
    return arr


def ints(arr: pa.Array, name: str, rows: np.ndarray, source: str, what: str) -> np.ndarray:
    """A non-null integer field as int64."""
    return np.asarray(require(arr, name, rows, source, what).to_numpy(zero_copy_only=False), dtype=np.int64)


def floats(arr: pa.Array, name: str, rows: np.ndarray, source: str, what: str) -> np.ndarray:
    """A non-null numeric-string (or number) field as float64; a non-number raises naming the line."""
    require(arr, name, rows, source, what)
    try:
        return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        values = pd.to_numeric(pd.Series(arr.to_numpy(zero_copy_only=False)), errors="coerce")
        bad = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise FormatError(
            f"not a number: {arr[bad].as_py()!r}", path=source, row=int(rows[bad]), field=name
        ) from None


@dataclass(frozen=True)
class LevelLists:
    """Flattened ``[[price, qty], ...]`` lists: event k owns ``price[offsets[k]:offsets[k+1]]``."""

    offsets: np.ndarray  # int64, len = events + 1
    price: np.ndarray  # float64
    qty: np.ndarray  # float64


def level_lists(arr: pa.Array, name: str, rows: np.ndarray, source: str, what: str) -> LevelLists:
    """Flatten a list<list<string>> column of price levels; malformed levels raise naming the line."""
    require(arr, name, rows, source, what)
    lengths = np.asarray(pc.list_value_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    inner = pc.list_flatten(arr)
    inner_len = pc.list_value_length(inner)
    bad = np.flatnonzero(np.asarray(pc.fill_null(pc.not_equal(inner_len, 2), True)))
    if len(bad):
        event = int(np.searchsorted(offsets, bad[0], side="right")) - 1
        raise FormatError(
            f"price level {inner[int(bad[0])].as_py()!r} is not [price, qty]",
            path=source,
            row=int(rows[event]),
            field=name,
        )
    flat = pc.list_flatten(inner)
    flat_rows = np.repeat(np.repeat(rows, lengths), 2)
    values = floats(flat, name, flat_rows, source, what)
    return LevelLists(offsets, values[0::2].copy(), values[1::2].copy())
