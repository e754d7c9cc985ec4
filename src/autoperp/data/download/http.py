"""The network client the downloader uses: a small interface, and its standard-library implementation.

Tests and offline runs swap in any object with the two methods of :class:`HttpClient`; the default
:class:`UrllibClient` retries connection errors and 5xx/429 answers with exponential backoff, and resumes
a partial download (``<dest>.part``) with an HTTP Range request when the server honours it.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autoperp.core.errors import DownloadError

#: ``progress(bytes_done, bytes_total_or_None)`` after every chunk.
ProgressCallback = Callable[[int, int | None], None]

USER_AGENT = "autoperp-download/0.1 (+https://github.com/autoperp)"
_CHUNK = 1 << 20


class NotFoundError(DownloadError):
    """The server answered 404: the file is not published (yet)."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"{url}: not found (HTTP 404)")


@dataclass(frozen=True)
class FetchOutcome:
    """What :meth:`HttpClient.fetch_to_file` did."""

    bytes_received: int  # bytes transferred by this call (a resumed file counts only its tail)
    resumed_from: int  # bytes that were already in the .part file and kept (0 = fresh download)


class HttpClient(Protocol):
    """What the downloader needs from the network."""

    def fetch(self, url: str) -> bytes:
        """Body of a small resource; raises :class:`NotFoundError` on 404, :class:`DownloadError` otherwise."""
        ...

    def fetch_to_file(self, url: str, dest: Path, progress: ProgressCallback | None = None) -> FetchOutcome:
        """Stream ``url`` into ``dest``: bytes go to ``dest.part`` (resumed when it exists), which is renamed
        to ``dest`` only once complete. Raises like :meth:`fetch`; a failed transfer leaves the ``.part``."""
        ...


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept."""
    return dest.with_name(dest.name + ".part")


class _Retryable(Exception):
    """A transient failure: try again after a pause."""


class UrllibClient:
    """:class:`HttpClient` on ``urllib.request`` with retries and Range resume.

    ``retries`` is the number of extra attempts after the first; the pause doubles from ``backoff_s``.
    """

    def __init__(self, *, timeout_s: float = 30.0, retries: int = 3, backoff_s: float = 0.5) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._opener = urllib.request.build_opener()
        self.requests = 0  # requests sent, for reports and tests

    # -- plumbing ---------------------------------------------------------------------------------
    def _open(self, url: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
        self.requests += 1
        try:
            resp = self._opener.open(req, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 404:
                raise NotFoundError(url) from None
            if e.code >= 500 or e.code in (408, 429):
                raise _Retryable(f"HTTP {e.code} {e.reason}") from None
            if e.code == 416:
                raise  # handled by fetch_to_file
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", e)
            raise _Retryable(f"{type(e).__name__}: {reason}") from None
        return resp  # type: ignore[no-any-return]

    def _with_retries(self, url: str, attempt: Callable[[], object]) -> object:
        delay = self.backoff_s
        last = ""
        for i in range(self.retries + 1):
            try:
                return attempt()
            except _Retryable as e:
                last = str(e)
            except (OSError, http.client.HTTPException) as e:  # connection dropped mid-body
                last = f"{type(e).__name__}: {e}"
            if i < self.retries:
                time.sleep(delay)
                delay *= 2
        raise DownloadError(
            f"{url}: {last} (gave up after {self.retries + 1} attempts; check the connection, "
            "or raise download.retries / download.timeout_s)"
        )

    # -- HttpClient ----------------------------------------------------------------------------------
    def fetch(self, url: str) -> bytes:
        def attempt() -> bytes:
            with self._open(url) as resp:
                data: bytes = resp.read()
                expected = resp.headers.get("Content-Length")
                if expected is not None and len(data) != int(expected):
                    raise _Retryable(f"short read: {len(data)} of {expected} bytes")
                return data

        return self._with_retries(url, attempt)  # type: ignore[return-value]

    def fetch_to_file(self, url: str, dest: Path, progress: ProgressCallback | None = None) -> FetchOutcome:
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(dest)
        first_kept: list[int] = []
        received = [0]

        def attempt() -> None:
            have = part.stat().st_size if part.exists() else 0
            try:
                resp = self._open(url, {"Range": f"bytes={have}-"} if have else None)
            except urllib.error.HTTPError as e:  # 416: the .part is not a prefix we can extend
                part.unlink(missing_ok=True)
                raise _Retryable(f"HTTP {e.code}: restarting the download") from None
            with resp:
                if have and resp.status == 206 and _range_start(resp.headers.get("Content-Range")) == have:
                    mode = "ab"
                else:  # server ignored the Range (200): start over
                    mode, have = "wb", 0
                if not first_kept:
                    first_kept.append(have)
                length = resp.headers.get("Content-Length")
                body_len = int(length) if length is not None else None
                total = have + body_len if body_len is not None else None
                got = 0
                with open(part, mode) as f:
                    while True:
                        chunk = resp.read(_CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        got += len(chunk)
                        received[0] += len(chunk)
                        if progress is not None:
                            progress(have + got, total)
                if body_len is not None and got != body_len:
                    raise _Retryable(f"connection closed after {got} of {body_len} bytes")
            os.replace(part, dest)

        self._with_retries(url, attempt)
        return FetchOutcome(bytes_received=received[0], resumed_from=first_kept[0] if first_kept else 0)


def _range_start(content_range: str | None) -> int | None:
    """First byte of a 'bytes START-END/TOTAL' header."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    try:
        return int(content_range[6:].split("-", 1)[0])
    except ValueError:
        return None
