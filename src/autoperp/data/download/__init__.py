"""`download-data`: Binance USD-M history from the public archive (data.binance.vision), the exchange API
(ccxt) for what the archive has not published yet, imported through the validating importer.

Public API::

    req = build_request(pairs=["BTC/USDT:USDT"], timeframes=["1m"], timerange="20240101-20240301")
    report = download_data(req, load_config())        # or Downloader(cfg, client=..., ...).run(req)
"""

from autoperp.data.download.archive import ArchiveFetcher, FileResult, parse_checksum, sha256_file
from autoperp.data.download.downloader import (
    DEFAULT_KINDS,
    SOURCES,
    SUPPORTED_EXCHANGES,
    Downloader,
    DownloadReport,
    DownloadRequest,
    SeriesResult,
    SeriesSpec,
    build_request,
    clip_frame,
    conform_columns,
    download_data,
)
from autoperp.data.download.exchange_api import BinanceUsdmApi, make_exchange
from autoperp.data.download.http import FetchOutcome, HttpClient, NotFoundError, UrllibClient
from autoperp.data.download.layout import ArchiveFile, SeriesPlan, plan_series

__all__ = [
    "DEFAULT_KINDS",
    "SOURCES",
    "SUPPORTED_EXCHANGES",
    "ArchiveFetcher",
    "ArchiveFile",
    "BinanceUsdmApi",
    "DownloadReport",
    "DownloadRequest",
    "Downloader",
    "FetchOutcome",
    "FileResult",
    "HttpClient",
    "NotFoundError",
    "SeriesPlan",
    "SeriesResult",
    "SeriesSpec",
    "UrllibClient",
    "build_request",
    "clip_frame",
    "conform_columns",
    "download_data",
    "make_exchange",
    "parse_checksum",
    "plan_series",
    "sha256_file",
]
