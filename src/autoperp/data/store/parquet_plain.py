"""Parquet files of flat int64/float64 columns at the speed of a file copy: the import hot path.

pyarrow's writer copies every value through its encoders at about 1.5 GB/s, a quarter of an import's CPU.
For the store's own layout (no compression, no dictionaries, PLAIN values, DELTA_BINARY_PACKED ``ts``,
statistics on ``ts`` only, one data page per 20,000 rows, row groups of 256,000 rows) a data page is a few
bytes of header and run-length definition levels followed by the column's raw little-endian bytes, so this
module writes the pages straight from the numpy buffers with ``os.writev``.

The output is byte for byte the file ``pq.write_table`` writes with those settings (same page headers,
statistics, footer, ``ARROW:schema`` and ``created_by``, both taken from pyarrow itself), which the tests
check on random tables; any other table goes to pyarrow.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

#: The writer settings this module reproduces (``write_batch.write_table`` passes the same to pyarrow).
ROWS_PER_PAGE = 20_000
ROW_GROUP_SIZE = 256_000
#: Columns written DELTA_BINARY_PACKED and with min/max statistics.
DELTA_COLUMNS = frozenset({"ts"})
STATS_COLUMNS = frozenset({"ts"})

# parquet.thrift enums
_INT64, _DOUBLE = 2, 5
_PLAIN, _RLE, _DELTA = 0, 3, 5
_OPTIONAL, _REQUIRED = 1, 0
# thrift compact protocol types
_T_TRUE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 5, 6, 8, 9, 12

_PHYSICAL = {np.dtype(np.int64): _INT64, np.dtype(np.float64): _DOUBLE}
_ARROW = {np.dtype(np.int64): pa.int64(), np.dtype(np.float64): pa.float64()}
_LITTLE_ENDIAN = sys.byteorder == "little"


def supports(table: pa.Table) -> bool:
    """True when ``table`` is what this writer handles: non-null single-chunk int64/float64 columns."""
    if not _LITTLE_ENDIAN or table.num_rows == 0 or table.schema.metadata:
        return False
    for field, col in zip(table.schema, table.columns, strict=True):
        if not (pa.types.is_int64(field.type) or pa.types.is_float64(field.type)):
            return False
        if field.name in DELTA_COLUMNS | STATS_COLUMNS and not pa.types.is_int64(field.type):
            return False
        if not field.nullable or col.num_chunks != 1 or col.null_count:
            return False
    return True


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` (see :func:`supports`) to ``path``, replacing any file there."""
    names = [str(n) for n in table.column_names]
    arrays = [np.ascontiguousarray(c.chunk(0).to_numpy(zero_copy_only=True)) for c in table.columns]
    buffers = _file_buffers(names, arrays)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _write_all(fd, buffers)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Template:
    """What pyarrow itself puts in every file of a schema: the serialized Arrow schema and its name."""

    arrow_schema: bytes
    created_by: bytes


_templates: dict[tuple[tuple[str, np.dtype], ...], _Template] = {}
_templates_lock = threading.Lock()


def _template(names: Sequence[str], dtypes: Sequence[np.dtype]) -> _Template:
    key = tuple(zip(names, dtypes, strict=True))
    found = _templates.get(key)
    if found is not None:
        return found
    schema = pa.schema([pa.field(n, _ARROW[d]) for n, d in key])
    sink = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), sink, compression="none", use_dictionary=False)
    md = pq.read_metadata(pa.BufferReader(sink.getvalue()))
    meta = md.metadata or {}
    made = _Template(meta[b"ARROW:schema"], md.created_by.encode())
    with _templates_lock:
        _templates[key] = made
    return made


def _file_buffers(names: list[str], arrays: list[np.ndarray]) -> list[bytes | np.ndarray]:
    n_rows = len(arrays[0])
    dtypes = [a.dtype for a in arrays]
    template = _template(names, dtypes)
    out: list[bytes | np.ndarray] = [b"PAR1"]
    offset = 4
    groups = []
    for start in range(0, n_rows, ROW_GROUP_SIZE):
        stop = min(start + ROW_GROUP_SIZE, n_rows)
        chunks = []
        group_offset = offset
        for name, values in zip(names, arrays, strict=True):
            chunk_offset = offset
            delta = name in DELTA_COLUMNS and values.dtype == np.int64
            stats = name in STATS_COLUMNS
            pages = 0
            for p0 in range(start, stop, ROWS_PER_PAGE):
                page = values[p0 : min(p0 + ROWS_PER_PAGE, stop)]
                body: bytes | np.ndarray = _delta_binary_packed(page) if delta else page
                levels = _def_levels(len(page))
                size = len(levels) + (body.nbytes if isinstance(body, np.ndarray) else len(body))
                if stats:
                    header = _page_header(len(page), size, delta, _stats(page))
                else:
                    header = _plain_page_header(len(page), size, delta)
                out += [header, levels, body]
                offset += len(header) + size
                pages += 1
            section = values[start:stop]
            chunks.append(
                _column_chunk(
                    name,
                    _PHYSICAL[values.dtype],
                    delta,
                    stop - start,
                    offset - chunk_offset,
                    chunk_offset,
                    _stats(section) if stats else None,
                    pages,
                )
            )
        groups.append(_row_group(chunks, offset - group_offset, stop - start, group_offset))
    footer = _file_metadata(names, dtypes, n_rows, groups, template)
    out += [footer, len(footer).to_bytes(4, "little"), b"PAR1"]
    return out


def _write_all(fd: int, buffers: list[bytes | np.ndarray]) -> None:
    views = [memoryview(b).cast("B") for b in buffers]  # type: ignore[arg-type]  # ndarray is a buffer
    while views:
        done = os.writev(fd, views[:512])  # IOV_MAX is 1024 everywhere that matters
        while done and views:
            if done >= len(views[0]):
                done -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][done:]
                done = 0


# ---------------------------------------------------------------------------------------------- pages
@functools.lru_cache(maxsize=256)
def _def_levels(n: int) -> bytes:
    """Definition levels of ``n`` present values: one RLE run of 1s, behind its 4-byte length."""
    run = _uvarint(n << 1) + b"\x01"
    return len(run).to_bytes(4, "little") + run


def _stats(values: np.ndarray) -> tuple[bytes, bytes]:
    """(min, max) as parquet stores them for int64: 8 little-endian bytes."""
    return values.min().tobytes(), values.max().tobytes()


@functools.lru_cache(maxsize=1024)
def _plain_page_header(n: int, size: int, delta: bool) -> bytes:
    """A page header without statistics (most pages: the same few sizes again and again)."""
    return _page_header(n, size, delta, None)


def _page_header(n: int, size: int, delta: bool, stats: tuple[bytes, bytes] | None) -> bytes:
    w = _Thrift()
    w.i32(1, 0)  # DATA_PAGE
    w.i32(2, size)
    w.i32(3, size)
    w.begin(5)  # DataPageHeader
    w.i32(1, n)
    w.i32(2, _DELTA if delta else _PLAIN)
    w.i32(3, _RLE)
    w.i32(4, _RLE)
    w.begin(5)
    if stats is not None:
        _write_stats(w, stats)
    w.end()
    w.end()
    w.stop()
    return bytes(w.buf)


def _write_stats(w: _Thrift, stats: tuple[bytes, bytes]) -> None:
    lo, hi = stats
    w.binary(1, hi)  # deprecated max, min
    w.binary(2, lo)
    w.i64(3, 0)  # null_count
    w.binary(5, hi)  # max_value, min_value
    w.binary(6, lo)
    w.true(7)  # is_max_value_exact, is_min_value_exact
    w.true(8)


def _column_chunk(
    name: str,
    physical: int,
    delta: bool,
    n: int,
    size: int,
    offset: int,
    stats: tuple[bytes, bytes] | None,
    pages: int,
) -> bytes:
    w = _Thrift()
    w.i64(2, 0)  # file_offset (pyarrow writes 0)
    w.begin(3)  # ColumnMetaData
    w.i32(1, physical)
    w.list_header(2, _T_I32, 2)
    w.raw_varint_i32(_RLE)
    w.raw_varint_i32(_DELTA if delta else _PLAIN)
    w.list_header(3, _T_BINARY, 1)
    w.raw_binary(name.encode())
    w.i32(4, 0)  # UNCOMPRESSED
    w.i64(5, n)
    w.i64(6, size)
    w.i64(7, size)
    w.i64(9, offset)
    if stats is not None:
        w.begin(12)
        _write_stats(w, stats)
        w.end()
    w.list_header(13, _T_STRUCT, 1)  # encoding_stats: [{DATA_PAGE, encoding, count}]
    w.push()
    w.i32(1, 0)
    w.i32(2, _DELTA if delta else _PLAIN)
    w.i32(3, pages)
    w.stop()
    w.pop()
    w.begin(16)  # SizeStatistics: repetition histogram [], definition histogram [0, n]
    w.list_header(2, _T_I64, 0)
    w.list_header(3, _T_I64, 2)
    w.raw_varint_i64(0)
    w.raw_varint_i64(n)
    w.end()
    w.end()
    w.stop()
    return bytes(w.buf)


def _row_group(chunks: list[bytes], size: int, n: int, offset: int) -> bytes:
    w = _Thrift()
    w.list_header(1, _T_STRUCT, len(chunks))
    for c in chunks:
        w.buf += c
    w.i64(2, size)
    w.i64(3, n)
    w.i64(5, offset)
    w.i64(6, size)
    w.stop()
    return bytes(w.buf)


def _file_metadata(
    names: list[str], dtypes: list[np.dtype], n_rows: int, groups: list[bytes], template: _Template
) -> bytes:
    w = _Thrift()
    w.i32(1, 2)  # version
    w.list_header(2, _T_STRUCT, len(names) + 1)
    w.push()
    w.i32(3, _REQUIRED)
    w.binary(4, b"schema")
    w.i32(5, len(names))
    w.stop()
    w.pop()
    for name, dtype in zip(names, dtypes, strict=True):
        w.push()
        w.i32(1, _PHYSICAL[dtype])
        w.i32(3, _OPTIONAL)
        w.binary(4, name.encode())
        w.stop()
        w.pop()
    w.i64(3, n_rows)
    w.list_header(4, _T_STRUCT, len(groups))
    for g in groups:
        w.buf += g
    w.list_header(5, _T_STRUCT, 1)
    w.push()
    w.binary(1, b"ARROW:schema")
    w.binary(2, template.arrow_schema)
    w.stop()
    w.pop()
    w.binary(6, template.created_by)
    w.list_header(7, _T_STRUCT, len(names))  # column_orders: TypeDefinedOrder for every column
    for _ in names:
        w.buf += b"\x1c\x00\x00"  # {1: {}}
    w.stop()
    return bytes(w.buf)


# ---------------------------------------------------------------------------------------------- thrift
def _uvarint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


class _Thrift:
    """The few pieces of the thrift compact protocol a Parquet footer needs."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.last = 0
        self.stack: list[int] = []

    def _field(self, fid: int, ftype: int) -> None:
        d = fid - self.last
        if 0 < d <= 15:
            self.buf.append((d << 4) | ftype)
        else:
            self.buf.append(ftype)
            self.buf += _uvarint(_zigzag(fid))
        self.last = fid

    def i32(self, fid: int, v: int) -> None:
        self._field(fid, _T_I32)
        self.buf += _uvarint(_zigzag(v))

    def i64(self, fid: int, v: int) -> None:
        self._field(fid, _T_I64)
        self.buf += _uvarint(_zigzag(v))

    def binary(self, fid: int, v: bytes) -> None:
        self._field(fid, _T_BINARY)
        self.raw_binary(v)

    def true(self, fid: int) -> None:
        self._field(fid, _T_TRUE)

    def raw_binary(self, v: bytes) -> None:
        self.buf += _uvarint(len(v))
        self.buf += v

    def raw_varint_i32(self, v: int) -> None:
        self.buf += _uvarint(_zigzag(v))

    raw_varint_i64 = raw_varint_i32

    def list_header(self, fid: int, etype: int, size: int) -> None:
        self._field(fid, _T_LIST)
        if size < 15:
            self.buf.append((size << 4) | etype)
        else:
            self.buf.append(0xF0 | etype)
            self.buf += _uvarint(size)

    def begin(self, fid: int) -> None:
        """A struct field: its fields follow, then :meth:`end`."""
        self._field(fid, _T_STRUCT)
        self.push()

    def end(self) -> None:
        self.stop()
        self.pop()

    def push(self) -> None:
        """A struct as a list element: its fields follow, then :meth:`stop` and :meth:`pop`."""
        self.stack.append(self.last)
        self.last = 0

    def pop(self) -> None:
        self.last = self.stack.pop()

    def stop(self) -> None:
        self.buf.append(0)


# ---------------------------------------------------------------------------------------------- delta
@njit(cache=True, nogil=True)
def _put_uvarint(out: np.ndarray, p: int, v: np.uint64) -> int:
    while v >= np.uint64(0x80):
        out[p] = np.uint8((v & np.uint64(0x7F)) | np.uint64(0x80))
        v = v >> np.uint64(7)
        p += 1
    out[p] = np.uint8(v)
    return p + 1


@njit(cache=True, nogil=True)
def _zigzag64(v: np.int64) -> np.uint64:
    return (np.uint64(v) << np.uint64(1)) ^ np.uint64(v >> np.int64(63))


@njit(cache=True, nogil=True)
def _delta_binary_packed(values: np.ndarray) -> np.ndarray:
    """DELTA_BINARY_PACKED as pyarrow writes it: blocks of 256 values in 4 miniblocks of 64, deltas taken
    with wrapping int64 arithmetic, the last miniblock zero-padded, unused miniblocks of width 0."""
    n = values.shape[0]
    n_blocks = (n - 1 + 255) // 256 if n > 1 else 0
    out = np.empty(40 + n_blocks * (10 + 4 + 4 * 64 * 8), dtype=np.uint8)
    p = _put_uvarint(out, 0, np.uint64(256))
    p = _put_uvarint(out, p, np.uint64(4))
    p = _put_uvarint(out, p, np.uint64(n))
    p = _put_uvarint(out, p, _zigzag64(values[0]))
    deltas = np.empty(256, dtype=np.int64)
    i = 1
    while i < n:
        m = min(256, n - i)
        lo = np.int64(0)
        for j in range(m):
            d = values[i + j] - values[i + j - 1]
            deltas[j] = d
            if j == 0 or d < lo:
                lo = d
        p = _put_uvarint(out, p, _zigzag64(lo))
        widths = p
        p += 4
        n_mini = (m + 63) // 64
        for b in range(4):
            if b >= n_mini:
                out[widths + b] = 0
                continue
            s = b * 64
            e = min(s + 64, m)
            top = np.uint64(0)
            for j in range(s, e):
                u = np.uint64(deltas[j]) - np.uint64(lo)
                if u > top:
                    top = u
            w = 0
            while top:
                w += 1
                top = top >> np.uint64(1)
            out[widths + b] = w
            if w == 0:
                continue
            acc = np.uint64(0)
            nbits = 0
            for j in range(s, s + 64):
                u = np.uint64(deltas[j]) - np.uint64(lo) if j < e else np.uint64(0)
                acc |= u << np.uint64(nbits)
                if nbits + w >= 64:
                    for k in range(8):
                        out[p + k] = np.uint8((acc >> np.uint64(8 * k)) & np.uint64(0xFF))
                    p += 8
                    acc = u >> np.uint64(64 - nbits) if nbits > 0 else np.uint64(0)
                    nbits = nbits + w - 64
                else:
                    nbits += w
        i += m
    return out[:p]
