"""Opening a file's bytes: plain, gzip or zip. Each readable part becomes one :class:`Member`.

Decompression uses ISA-L (``isal``, a dependency: 2.1x the standard library's speed on the archive's
gzip files), else ``zlib_ng`` (1.7x), else the standard library. Every failure (truncated gzip, corrupt zip,
a zip without any data file inside) becomes a :class:`FormatError` naming the file.
"""

from __future__ import annotations

import gzip as _std_gzip
import struct
import zipfile
import zlib as _std_zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from types import ModuleType

from autoperp.core.errors import FormatError

_gzip: ModuleType
_zlib: ModuleType
try:
    from isal import igzip as _gzip
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - depends on the environment
    try:
        from zlib_ng import gzip_ng as _gzip
        from zlib_ng import zlib_ng as _zlib
    except ImportError:
        _gzip = _std_gzip
        _zlib = _std_zlib
_ZLIB_ERRORS: tuple[type[BaseException], ...] = (_std_zlib.error, _zlib.error)
_GZIP_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, *_ZLIB_ERRORS)
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    struct.error,
    NotImplementedError,
    *_ZLIB_ERRORS,
)

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
#: File endings of data files that may sit inside a zip archive.
INNER_SUFFIXES: tuple[str, ...] = (".csv", ".data", ".json", ".jsonl", ".feather", ".parquet")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header, 30 bytes


@dataclass(frozen=True)
class Member:
    """One data file's decompressed bytes.

    ``name`` is the inner file name (``x.csv`` for ``x.csv.gz``, the member name inside a zip),
    ``source`` what errors and MarketFrames cite (the path, or ``path::member`` for a zip with
    several data files).
    """

    name: str
    data: bytes
    source: str


def read_bytes(path: Path) -> bytes:
    """The raw bytes of ``path``; a missing or unreadable file raises :class:`FormatError`."""
    if path.is_dir():
        raise FormatError("is a directory, not a data file: import a directory file by file", path=str(path))
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FormatError("no such file", path=str(path)) from None
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror or exc}", path=str(path)) from None


def open_members(path: Path) -> list[Member]:
    """Decompress ``path`` (by content, not by suffix) into its data members."""
    raw = read_bytes(path)
    src = str(path)
    if not raw:
        raise FormatError("file is empty (0 bytes)", path=src)
    if raw.startswith(GZIP_MAGIC):
        inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
        return [Member(inner, gunzip(raw, src), src)]
    if raw.startswith(ZIP_MAGICS):
        return unzip(raw, src)
    return [Member(path.name, raw, src)]


def gunzip(raw: bytes, source: str) -> bytes:
    """Decompress a (possibly multi-member) gzip stream; truncation raises :class:`FormatError`."""
    try:
        data: bytes = _gzip.decompress(raw)
    except _GZIP_ERRORS as exc:
        raise FormatError(
            f"gzip data is truncated or corrupt ({exc}); download the file again", path=source
        ) from None
    if not data:
        raise FormatError("file is empty (gzip holds 0 bytes)", path=source)
    return data


def unzip(raw: bytes, source: str) -> list[Member]:
    """Every data file inside a zip archive (directories, checksums and macOS metadata are skipped)."""
    try:
        archive = zipfile.ZipFile(BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(
            f"zip archive is truncated or corrupt ({exc}); download the file again", path=source
        ) from None
    data_infos = [
        i
        for i in infos
        if not i.is_dir()
        and not i.filename.startswith("__MACOSX/")
        and i.filename.lower().endswith(INNER_SUFFIXES)
    ]
    if not data_infos:
        listing = ", ".join(i.filename for i in infos) or "nothing"
        raise FormatError(
            f"zip archive holds no CSV or data file (it holds {listing})",
            path=source,
        )
    members = []
    for info in data_infos:
        member_source = source if len(data_infos) == 1 else f"{source}::{info.filename}"
        data = _read_zip_member(archive, info, raw, member_source)
        if not data:
            raise FormatError("file inside the zip archive is empty", path=member_source)
        members.append(Member(info.filename.rsplit("/", 1)[-1], data, member_source))
    return members


def _read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, raw: bytes, source: str) -> bytes:
    """Inflate one member; deflated members go through zlib-ng directly (the common Binance case)."""
    try:
        if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:
            fields = _LOCAL_HEADER.unpack_from(raw, info.header_offset)
            if fields[0] == b"PK\x03\x04":
                start = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
                payload = raw[start : start + info.compress_size]
                if len(payload) < info.compress_size:
                    raise EOFError("member data ends before its recorded size")
                data: bytes = _zlib.decompress(payload, -15)
                if len(data) != info.file_size or (_zlib.crc32(data) & 0xFFFFFFFF) != info.CRC:
                    raise zipfile.BadZipFile(f"bad CRC-32 or size for '{info.filename}'")
                return data
        return archive.read(info)
    except _ZIP_ERRORS as exc:
        raise FormatError(
            f"zip member '{info.filename}' is truncated or corrupt ({exc}); download the file again",
            path=source,
        ) from None
