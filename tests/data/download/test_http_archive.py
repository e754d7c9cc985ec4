"""The urllib client (retries, Range resume) and the archive cache (checksums, reuse) against a loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.fake_binance import FakeBinance

from autoperp.core.errors import ChecksumError, DownloadError
from autoperp.core.symbols import Symbol
from autoperp.core.time import parse_date
from autoperp.core.types import DataKind
from autoperp.data.download.archive import ArchiveFetcher, parse_checksum, sha256_file
from autoperp.data.download.http import NotFoundError, UrllibClient, part_path
from autoperp.data.download.layout import ArchiveFile, archive_file

BTC = Symbol.parse("BTC/USDT:USDT")


def client() -> UrllibClient:
    return UrllibClient(timeout_s=5, retries=2, backoff_s=0.01)


def day_file(day: str = "20240105", tf: str = "1m") -> ArchiveFile:
    return archive_file(DataKind.FUTURES, BTC, tf, "daily", parse_date(day))


def test_fetch_404_and_retry_after_500(fake: FakeBinance, tmp_path: Path) -> None:
    c = client()
    with pytest.raises(NotFoundError, match="404"):
        c.fetch(fake.url + "/nothing/here.zip")
    path = fake.put(day_file())
    fake.fail_once.add(path)
    dest = tmp_path / "f.zip"
    c.fetch_to_file(fake.url + path, dest)
    assert dest.read_bytes() == fake.files[path]
    assert fake.hits[path] == 2  # one 500, one success


def test_persistent_5xx_gives_up_with_download_error(fake: FakeBinance, tmp_path: Path) -> None:
    path = fake.put(day_file())
    c = UrllibClient(timeout_s=5, retries=1, backoff_s=0.01)
    fake.fail_always.add(path)
    with pytest.raises(DownloadError, match=r"HTTP 500.*2 attempts"):
        c.fetch_to_file(fake.url + path, tmp_path / "f.zip")
    assert fake.hits[path] == 2
    assert not (tmp_path / "f.zip").exists()


def test_resume_part_file_with_range(fake: FakeBinance, tmp_path: Path) -> None:
    path = fake.put(day_file())
    body = fake.files[path]
    dest = tmp_path / "f.zip"
    part_path(dest).write_bytes(body[:1000])
    outcome = client().fetch_to_file(fake.url + path, dest)
    assert dest.read_bytes() == body
    assert not part_path(dest).exists()
    assert fake.ranges == [(path, "bytes=1000-")]
    assert outcome.resumed_from == 1000 and outcome.bytes_received == len(body) - 1000


def test_server_without_range_support_restarts(tmp_path: Path) -> None:
    with FakeBinance(range_support=False) as fb:
        path = fb.put(day_file())
        body = fb.files[path]
        dest = tmp_path / "f.zip"
        part_path(dest).write_bytes(b"garbage that is not a prefix")
        outcome = client().fetch_to_file(fb.url + path, dest)
        assert dest.read_bytes() == body
        assert outcome.resumed_from == 0 and outcome.bytes_received == len(body)


def test_connection_cut_mid_transfer_is_resumed(fake: FakeBinance, tmp_path: Path) -> None:
    path = fake.put(day_file())
    fake.truncate_once.add(path)
    dest = tmp_path / "f.zip"
    client().fetch_to_file(fake.url + path, dest)
    assert dest.read_bytes() == fake.files[path]
    assert fake.hits[path] == 2
    assert fake.ranges == [(path, f"bytes={len(fake.files[path]) // 2}-")]


def test_parse_checksum() -> None:
    hexd = "ab" * 32
    assert parse_checksum(f"{hexd}  BTCUSDT-1m-2024-01.zip\n", "u") == hexd
    with pytest.raises(DownloadError, match="not a SHA-256"):
        parse_checksum("<html>404</html>", "u")


def test_fetcher_downloads_verifies_then_reuses_cache(fake: FakeBinance, tmp_path: Path) -> None:
    f = day_file()
    path = fake.put(f)
    fetcher = ArchiveFetcher(fake.url, tmp_path / "cache", client())
    r = fetcher.fetch(f)
    assert r.status == "downloaded"
    assert r.path == tmp_path / "cache" / f.rel_path
    assert sha256_file(r.path) == parse_checksum(fake.files[path + ".CHECKSUM"].decode(), "x")
    assert r.path.with_name(r.path.name + ".CHECKSUM").exists()
    hits = sum(fake.hits.values())
    r2 = fetcher.fetch(f)
    assert r2.status == "cached"
    assert sum(fake.hits.values()) == hits  # verified against the cached CHECKSUM: no request at all


def test_fetcher_refetches_a_damaged_cached_file(fake: FakeBinance, tmp_path: Path) -> None:
    f = day_file()
    path = fake.put(f)
    fetcher = ArchiveFetcher(fake.url, tmp_path, client())
    local = fetcher.fetch(f).path
    local.write_bytes(b"damaged")
    r = fetcher.fetch(f)
    assert r.status == "downloaded"
    assert local.read_bytes() == fake.files[path]


def test_checksum_mismatch_deletes_file_and_raises(fake: FakeBinance, tmp_path: Path) -> None:
    f = day_file()
    path = fake.put(f)
    fake.corrupt(path)
    fetcher = ArchiveFetcher(fake.url, tmp_path, client())
    with pytest.raises(ChecksumError, match="does not match the published"):
        fetcher.fetch(f)
    assert not fetcher.local_path(f).exists()
    assert not part_path(fetcher.local_path(f)).exists()
    # without verification the same file is accepted
    lax = ArchiveFetcher(fake.url, tmp_path, client(), verify_checksums=False)
    assert lax.fetch(f).status == "downloaded"


def test_bad_part_file_is_downloaded_again_whole(fake: FakeBinance, tmp_path: Path) -> None:
    f = day_file()
    path = fake.put(f)
    fetcher = ArchiveFetcher(fake.url, tmp_path, client())
    dest = fetcher.local_path(f)
    dest.parent.mkdir(parents=True)
    part_path(dest).write_bytes(b"x" * 500)  # not a prefix of the file: resuming gives a wrong checksum
    r = fetcher.fetch(f)
    assert r.status == "downloaded" and r.resumed_from == 0
    assert dest.read_bytes() == fake.files[path]
    assert fake.hits[path] == 2


def test_missing_file_and_missing_checksum(fake: FakeBinance, tmp_path: Path) -> None:
    f = day_file()
    fetcher = ArchiveFetcher(fake.url, tmp_path, client())
    r = fetcher.fetch(f)
    assert r.status == "missing" and r.url.endswith(f.rel_path)
    fake.put(f, checksum=False)
    with pytest.raises(DownloadError, match="no checksum published"):
        fetcher.fetch(f)
