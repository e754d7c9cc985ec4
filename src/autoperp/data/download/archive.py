"""Fetch Binance archive files into the download cache, verified against their published SHA-256.

The cache mirrors the archive: ``<cache_dir>/<path below the archive root>``, with each file's
``.CHECKSUM`` beside it. A cached file whose checksum verifies is never fetched again; an unfinished
download stays as ``<file>.part`` and is resumed by the next run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autoperp.core.errors import ChecksumError, DownloadError
from autoperp.data.download.http import HttpClient, NotFoundError, ProgressCallback, part_path
from autoperp.data.download.layout import ArchiveFile

FileStatus = Literal["downloaded", "cached", "missing"]
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class FileResult:
    file: ArchiveFile
    url: str
    path: Path
    status: FileStatus
    bytes_received: int = 0
    resumed_from: int = 0  # bytes kept from an earlier partial download


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_checksum(text: str, url: str) -> str:
    """The hex digest of a ``<sha256hex>  <filename>`` CHECKSUM file."""
    parts = text.split()
    if not parts or not _HEX64.match(parts[0]):
        raise DownloadError(f"{url}: not a SHA-256 CHECKSUM file (starts with {text[:40]!r})")
    return parts[0].lower()


class ArchiveFetcher:
    """Downloads archive files through an :class:`HttpClient` into ``cache_dir``."""

    def __init__(
        self, base_url: str, cache_dir: Path, client: HttpClient, *, verify_checksums: bool = True
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.client = client
        self.verify_checksums = verify_checksums

    def local_path(self, f: ArchiveFile) -> Path:
        return self.cache_dir / f.rel_path

    def _expected_digest(self, url: str, ck_path: Path, *, refresh: bool) -> str:
        if not refresh and ck_path.exists():
            return parse_checksum(ck_path.read_text(encoding="utf-8", errors="replace"), str(ck_path))
        ck_url = url + ".CHECKSUM"
        try:
            raw = self.client.fetch(ck_url)
        except NotFoundError:
            raise DownloadError(
                f"{ck_url}: no checksum published for {url}; set download.verify_checksums = false "
                "to accept unverified files"
            ) from None
        text = raw.decode("utf-8", errors="replace")
        digest = parse_checksum(text, ck_url)
        ck_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = ck_path.with_name(ck_path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(ck_path)
        return digest

    def fetch(self, f: ArchiveFile, progress: ProgressCallback | None = None) -> FileResult:
        """Make ``f`` present and verified in the cache. A 404 gives status ``missing``;
        a checksum mismatch deletes the file and raises :class:`ChecksumError`."""
        url = f.url(self.base_url)
        dest = self.local_path(f)
        ck_path = dest.with_name(dest.name + ".CHECKSUM")
        if dest.exists():
            if not self.verify_checksums:
                return FileResult(f, url, dest, "cached")
            if sha256_file(dest) == self._expected_digest(url, ck_path, refresh=False):
                return FileResult(f, url, dest, "cached")
            dest.unlink()  # stale or damaged copy: fetch it again, with a fresh checksum
        try:
            outcome = self.client.fetch_to_file(url, dest, progress)
        except NotFoundError:
            ck_path.unlink(missing_ok=True)
            return FileResult(f, url, dest, "missing")
        received, resumed = outcome.bytes_received, outcome.resumed_from
        if self.verify_checksums:
            expected = self._expected_digest(url, ck_path, refresh=True)
            actual = sha256_file(dest)
            if actual != expected and resumed:
                # the kept .part may not have been a prefix of this file: download it whole once more
                dest.unlink()
                part_path(dest).unlink(missing_ok=True)
                outcome = self.client.fetch_to_file(url, dest, progress)
                received += outcome.bytes_received
                resumed = 0
                actual = sha256_file(dest)
            if actual != expected:
                dest.unlink(missing_ok=True)
                raise ChecksumError(
                    f"{url}: SHA-256 {actual} does not match the published {expected}; "
                    "the file was deleted and nothing was imported (run again to retry)"
                )
        return FileResult(f, url, dest, "downloaded", bytes_received=received, resumed_from=resumed)
