"""download-data end to end below the CLI: archive + API over loopback, the real readers, importer and store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.support.fake_binance import FakeBinance, funding_frame, kline_frame, zip_bytes

from autoperp.core.config import AppConfig
from autoperp.core.errors import ChecksumError, ConfigError, DataError, DownloadError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, MS_PER_HOUR, parse_date
from autoperp.core.types import DataKind
from autoperp.data.download import (
    BinanceUsdmApi,
    Downloader,
    DownloadReport,
    build_request,
    clip_frame,
    conform_columns,
)
from autoperp.data.download.http import part_path
from autoperp.data.download.layout import archive_file
from autoperp.data.schema import EVENTS, MarketFrame
from autoperp.data.store.base import SeriesKey
from autoperp.data.store.parquet import ParquetStore

BTC = Symbol.parse("BTC/USDT:USDT")
ETH = Symbol.parse("ETH/USDT:USDT")
EX = "binanceusdm"


def d(text: str) -> int:
    return parse_date(text)


def config(fake: FakeBinance, user_data: Path, **download: object) -> AppConfig:
    return AppConfig.model_validate(
        {
            "data": {"user_data_dir": str(user_data)},
            "download": {"archive_url": fake.url, "retries": 1, "timeout_s": 5, **download},
        }
    )


def run(
    fake: FakeBinance,
    user_data: Path,
    now: str,
    *,
    import_data: bool = True,
    repair: bool = False,
    download: dict[str, object] | None = None,
    **request: object,
) -> DownloadReport:
    fake.api_until = d(now)
    cfg = config(fake, user_data, **(download or {}))
    api = BinanceUsdmApi(api_url=fake.url, enable_rate_limit=False, timeout_s=5, retries=1, backoff_s=0.01)
    req = build_request(now=d(now), **request)  # type: ignore[arg-type]
    dl = Downloader(cfg, now=d(now), api=api, backoff_s=0.01, show_progress=False)
    return dl.run(req, import_data=import_data, repair=repair)


def stored(user_data: Path, sym: Symbol, kind: DataKind, tf: str) -> pd.DataFrame:
    return ParquetStore(user_data / "data").read(SeriesKey(EX, sym, kind, tf))


def by_kind(report: DownloadReport) -> dict[tuple[str, str, str], object]:
    return {(r.spec.symbol.base, r.spec.kind.value, r.spec.timeframe): r for r in report.results}


def assert_klines_equal(df: pd.DataFrame, sym: Symbol, kind: DataKind, tf: str, start: int, end: int) -> None:
    ref = kline_frame(sym, kind, tf, start, end)
    np.testing.assert_array_equal(df["ts"].to_numpy(), ref["open_time"].to_numpy())
    for c in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(df[c].to_numpy(), ref[c].to_numpy())


# ------------------------------------------------------------------------------------------ happy path
def test_two_pairs_1m_mark_and_funding_monthly_plus_daily(fake: FakeBinance, user_data: Path) -> None:
    for pair in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        for kind in (DataKind.FUTURES, DataKind.MARK):
            fake.publish_month(kind, pair, "1m", 2024, 1)
            fake.publish_days(kind, pair, "1m", "2024-02-01", "2024-02-03")
        fake.publish_month(DataKind.FUNDING, pair, "1m", 2024, 1)
        fake.publish_month(DataKind.FUNDING, pair, "1m", 2024, 2)
    report = run(
        fake,
        user_data,
        "2024-03-10",
        pairs=["BTC/USDT:USDT", "ETH/USDT:USDT"],
        timeframes=["1m"],
        timerange="20240101-20240203",
        candle_types=["futures", "mark", "funding_rate"],
    )
    assert report.errors == []
    res = by_kind(report)
    assert len(res) == 6
    n_bars = 31 * 1440 + 2 * 1440
    for base in ("BTC", "ETH"):
        for kind in ("futures", "mark"):
            r = res[(base, kind, "1m")]
            assert r.status == "imported"  # type: ignore[attr-defined]
            assert (r.count("downloaded"), r.count("cached"), r.count("missing")) == (3, 0, 0)  # type: ignore[attr-defined]
            assert r.rows == r.added == n_bars  # type: ignore[attr-defined]
        assert res[(base, "funding_rate", EVENTS)].rows == 31 * 3 + 2 * 3  # type: ignore[attr-defined]
    assert fake.hits["/fapi/v1/klines"] == 0  # nothing needed the API
    df = stored(user_data, ETH, DataKind.FUTURES, "1m")
    assert_klines_equal(df, ETH, DataKind.FUTURES, "1m", d("20240101"), d("20240203"))
    assert df["trades"].dtype == np.int64 and df["volume"].gt(0).all()
    mark = stored(user_data, BTC, DataKind.MARK, "1m")
    assert_klines_equal(mark, BTC, DataKind.MARK, "1m", d("20240101"), d("20240203"))
    fund = stored(user_data, BTC, DataKind.FUNDING, EVENTS)
    ref = funding_frame(BTC, d("20240101"), d("20240203"))
    np.testing.assert_array_equal(fund["ts"].to_numpy(), ref["calc_time"].to_numpy())
    np.testing.assert_allclose(fund["rate"].to_numpy(), ref["last_funding_rate"].to_numpy())

    # a second run fetches nothing (every cached file verifies) and adds nothing
    before = sum(n for p, n in fake.hits.items() if p.endswith(".zip"))
    again = run(
        fake,
        user_data,
        "2024-03-10",
        pairs=["BTC/USDT:USDT,ETH/USDT:USDT"],
        timeframes=["1m"],
        timerange="20240101-20240203",
    )
    assert sum(n for p, n in fake.hits.items() if p.endswith(".zip")) == before
    assert all(r.count("downloaded") == 0 and r.added == 0 for r in again.results)
    assert all(r.status == "imported" for r in again.results)


def test_rows_are_clipped_to_the_timerange(fake: FakeBinance, user_data: Path) -> None:
    fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-05", "2024-01-07")
    report = run(
        fake,
        user_data,
        "2024-02-01",
        pairs=["BTC/USDT:USDT"],
        timeframes=["1h"],
        timerange=f"{d('2024-01-05T06:00')}-{d('2024-01-06T18:00')}",  # epoch ms works too
        candle_types=["futures"],
    )
    assert report.results[0].rows == 36
    df = stored(user_data, BTC, DataKind.FUTURES, "1h")
    assert df["ts"].iloc[0] == d("2024-01-05T06:00") and df["ts"].iloc[-1] == d("2024-01-06T17:00")


# ---------------------------------------------------------------------------------------------- resume
def test_resume_part_file_and_skip_verified_file(fake: FakeBinance, user_data: Path) -> None:
    paths = fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-01", "2024-01-04")
    cache = user_data / "downloads" / "binance"
    # day 1: complete and verified from an earlier run; day 2: half downloaded
    done, half = paths[0], paths[1]
    (cache / done[1:]).parent.mkdir(parents=True)
    (cache / done[1:]).write_bytes(fake.files[done])
    (cache / (done[1:] + ".CHECKSUM")).write_bytes(fake.files[done + ".CHECKSUM"])
    part = part_path(cache / half[1:])
    part.write_bytes(fake.files[half][:700])
    report = run(
        fake,
        user_data,
        "2024-02-01",
        pairs=["BTC/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240104",
        candle_types=["futures"],
    )
    r = report.results[0]
    assert (r.count("cached"), r.count("downloaded")) == (1, 2)
    assert fake.hits[done] == 0 and fake.hits[done + ".CHECKSUM"] == 0
    assert fake.ranges == [(half, "bytes=700-")]
    assert not part.exists()
    resumed = next(f for f in r.files if f.url.endswith(half))
    assert resumed.resumed_from == 700
    assert r.rows == r.added == 72


# ------------------------------------------------------------------------------------------- checksums
def test_checksum_mismatch_raises_and_imports_nothing(fake: FakeBinance, user_data: Path) -> None:
    fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-01", "2024-01-03")
    bad = fake.publish_days(DataKind.FUTURES, "ETH/USDT:USDT", "1h", "2024-01-01", "2024-01-03")[1]
    fake.corrupt(bad)
    with pytest.raises(ChecksumError, match=r"ETHUSDT-1h-2024-01-02\.zip"):
        run(
            fake,
            user_data,
            "2024-02-01",
            pairs=["BTC/USDT:USDT", "ETH/USDT:USDT"],
            timeframes=["1h"],
            timerange="20240101-20240103",
            candle_types=["futures"],
        )
    assert ParquetStore(user_data / "data").list_series() == []  # BTC was fine, but nothing is imported
    assert not (user_data / "downloads" / "binance" / bad[1:]).exists()


# -------------------------------------------------------------------------------------------- fallbacks
def test_monthly_404_falls_back_to_daily_files(fake: FakeBinance, user_data: Path) -> None:
    fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-01", "2024-02-01")
    report = run(
        fake,
        user_data,
        "2024-03-01",
        pairs=["BTC/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240201",
        candle_types=["futures"],
    )
    r = report.results[0]
    assert r.count("missing") == 1 and r.count("downloaded") == 31
    assert r.files[0].file.period == "monthly" and r.files[0].status == "missing"
    assert r.api_ranges == [] and r.uncovered == []
    assert r.rows == 31 * 24


def test_archive_404_falls_back_to_ccxt_and_later_archive_rows_agree(
    fake: FakeBinance, user_data: Path
) -> None:
    # the archive has only 2024-03-02; 03-01 is missing and 03-03 (today) cannot be there yet
    fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-03-02", "2024-03-03")
    kw = dict(
        pairs=["BTC/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240301-20240304",
        candle_types=["futures", "funding_rate"],
    )
    report = run(fake, user_data, "2024-03-03T12:30", **kw)  # type: ignore[arg-type]
    assert report.errors == []
    fut, fund = report.results
    assert fut.count("missing") == 1 and fut.count("downloaded") == 1
    assert fut.api_ranges == [(d("20240301"), d("20240302")), (d("20240303"), d("2024-03-03T12:30"))]
    assert fut.api_rows == 24 + 12  # the 12:00 bar is still forming at 12:30 and is left out
    assert fut.rows == fut.added == 24 + 24 + 12
    assert fake.hits["/fapi/v1/klines"] == 2
    df = stored(user_data, BTC, DataKind.FUTURES, "1h")
    assert_klines_equal(df, BTC, DataKind.FUTURES, "1h", d("20240301"), d("2024-03-03T12:00"))
    assert fund.files == [] and fund.rows == 8  # current month: API only
    assert fake.hits["/fapi/v1/fundingRate"] == 1

    # weeks later the archive has everything: its rows are identical to the API's, nothing clashes
    fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-03-01", "2024-03-04")
    fake.publish_month(DataKind.FUNDING, "BTC/USDT:USDT", "1m", 2024, 3)
    later = run(fake, user_data, "2024-04-10", **kw)  # type: ignore[arg-type]
    assert later.errors == []
    fut2, fund2 = later.results
    assert fut2.api_ranges == [] and fut2.rows == 72 and fut2.added == 12
    assert fund2.rows == 9 and fund2.added == 1
    assert len(stored(user_data, BTC, DataKind.FUNDING, EVENTS)) == 9


def test_only_archive_source_and_404_everywhere(fake: FakeBinance, user_data: Path) -> None:
    fake.publish_days(DataKind.FUTURES, "ETH/USDT:USDT", "1h", "2024-01-01", "2024-01-03")
    report = run(
        fake,
        user_data,
        "2024-02-01",
        download={"sources": ["archive"]},
        pairs=["BTC/USDT:USDT", "ETH/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240103",
        candle_types=["futures"],
    )
    btc, eth = report.results
    assert btc.status == "not found" and isinstance(btc.error, DownloadError)
    assert "/data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01-01.zip not found (HTTP 404)" in str(
        btc.error
    )
    assert btc.uncovered == [(d("20240101"), d("20240103"))]
    assert eth.status == "imported" and eth.rows == 48  # the other pair is still imported
    assert fake.hits["/fapi/v1/klines"] == 0


def test_pair_unknown_everywhere_is_a_usage_error(fake: FakeBinance, user_data: Path) -> None:
    with pytest.raises(UsageError, match="NOPE/USDT:USDT is not a Binance USD-M perpetual"):
        run(
            fake,
            user_data,
            "2024-02-01",
            pairs=["NOPE/USDT:USDT"],
            timeframes=["1h"],
            timerange="20240101-20240102",
            candle_types=["futures"],
        )


def test_ccxt_only_source(fake: FakeBinance, user_data: Path) -> None:
    report = run(
        fake,
        user_data,
        "2024-02-01",
        download={"sources": ["ccxt"]},
        pairs=["SOL/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240103",
        candle_types=["mark"],
    )
    (r,) = report.results
    assert r.files == [] and r.rows == 48 and r.status == "imported"
    assert sum(n for p, n in fake.hits.items() if p.endswith(".zip")) == 0


def test_unknown_source_is_a_config_error(fake: FakeBinance, user_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"download\.sources"):
        Downloader(config(fake, user_data, sources=["archive", "ftp"]))


# -------------------------------------------------------------------------------- import and no-import
def test_validation_refusal_is_reported_and_other_series_imported(fake: FakeBinance, user_data: Path) -> None:
    fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-01", "2024-01-02")
    f = archive_file(DataKind.FUTURES, ETH, "1h", "daily", d("20240101"))
    df = kline_frame(ETH, DataKind.FUTURES, "1h", f.start_ms, f.end_ms).copy()
    df.loc[5, "high"] = df.loc[5, "low"] - 10.0  # high below low
    fake.put(f, zip_bytes(f.name.replace(".zip", ".csv"), df.to_csv(index=False).encode()))
    report = run(
        fake,
        user_data,
        "2024-02-01",
        pairs=["BTC/USDT:USDT", "ETH/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240102",
        candle_types=["futures"],
    )
    btc, eth = report.results
    assert btc.status == "imported" and btc.added == 24
    assert eth.status == "refused" and isinstance(eth.error, DataError)
    assert "ETHUSDT-1h-2024-01-01" in str(eth.error)
    with pytest.raises(DataError):
        raise report.errors[0]
    assert {i.key.symbol for i in ParquetStore(user_data / "data").list_series()} == {BTC}


def test_no_import_only_fills_the_cache(fake: FakeBinance, user_data: Path) -> None:
    paths = fake.publish_days(DataKind.FUTURES, "BTC/USDT:USDT", "1h", "2024-01-01", "2024-01-02")
    report = run(
        fake,
        user_data,
        "2024-01-02T05:00",
        import_data=False,
        pairs=["BTC/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240103",
        candle_types=["futures"],
    )
    (r,) = report.results
    assert r.status == "downloaded" and r.count("downloaded") == 1 and r.rows is None
    assert (user_data / "downloads" / "binance" / paths[0][1:]).exists()
    assert not (user_data / "data").exists() or ParquetStore(user_data / "data").list_series() == []
    assert fake.hits["/fapi/v1/klines"] == 0  # API rows could not be kept, so it was not asked
    assert r.uncovered == [(d("20240102"), d("2024-01-02T05:00"))]


def test_trades_from_archive_and_api(fake: FakeBinance, user_data: Path) -> None:
    fake.publish_days(DataKind.TRADES, "BTC/USDT:USDT", EVENTS, "2024-01-01", "2024-01-02")
    report = run(
        fake,
        user_data,
        "2024-01-02T01:00",
        pairs=["BTC/USDT:USDT"],
        timeframes=["1h"],
        timerange="20240101-20240103",
        candle_types=["funding_rate"],
        dl_trades=True,
    )
    assert report.errors == []
    trades = next(r for r in report.results if r.spec.kind is DataKind.TRADES)
    assert trades.count("downloaded") == 1 and trades.api_rows == 120
    assert trades.rows == 1440 * 2 + 120
    df = stored(user_data, BTC, DataKind.TRADES, EVENTS)
    assert np.all(np.diff(df["id"].to_numpy()) == 1)


# --------------------------------------------------------------------------------------------- request
def test_build_request_defaults_and_checks() -> None:
    now = d("2024-03-10T12:00")
    req = build_request(pairs=["BTC/USDT:USDT", "btc/usdt:usdt"], now=now)
    assert req.pairs == (BTC,) and req.timeframes == ("1m",)
    assert req.kinds == (DataKind.FUTURES, DataKind.MARK, DataKind.FUNDING)
    assert req.start_ms == d("20240310") - 30 * MS_PER_DAY and req.end_ms == now
    req = build_request(
        pairs=["ETH/USDT:USDT"], timeframes=["1m,1h"], timerange="20240101-", days=None, now=now
    )
    assert req.timeframes == ("1m", "1h") and req.end_ms == now
    assert [str(s) for s in req.series()] == [
        "ETH/USDT:USDT futures 1m",
        "ETH/USDT:USDT futures 1h",
        "ETH/USDT:USDT mark 1m",
        "ETH/USDT:USDT mark 1h",
        "ETH/USDT:USDT funding_rate events",
    ]
    req = build_request(
        pairs=["ETH/USDT:USDT"], candle_types=["premiumIndex"], days=2, dl_trades=True, now=now
    )
    assert req.kinds == (DataKind.PREMIUM,) and req.start_ms == d("20240308")
    assert req.series()[-1].kind is DataKind.TRADES

    with pytest.raises(UsageError, match=r"exchange 'kraken' is not supported.*binanceusdm"):
        build_request(pairs=["BTC/USDT:USDT"], exchange="kraken", now=now)
    with pytest.raises(UsageError, match="cannot read pair"):
        build_request(pairs=["BTC-USDT"], now=now)
    with pytest.raises(UsageError, match="write it as BTC/USDT:USDT"):
        build_request(pairs=["BTC/USDT"], now=now)
    with pytest.raises(UsageError, match="no pairs"):
        build_request(pairs=[], now=now)
    with pytest.raises(UsageError, match="unknown timeframe '7m'"):
        build_request(pairs=["BTC/USDT:USDT"], timeframes=["7m"], now=now)
    with pytest.raises(UsageError, match="empty timerange"):
        build_request(pairs=["BTC/USDT:USDT"], timerange="20240301-20240101", now=now)
    with pytest.raises(UsageError, match="starts in the future"):
        build_request(pairs=["BTC/USDT:USDT"], timerange="20250101-", now=now)
    with pytest.raises(UsageError, match=r"unknown candle type 'spot'.*no spot"):
        build_request(pairs=["BTC/USDT:USDT"], candle_types=["spot"], now=now)
    with pytest.raises(UsageError, match="either --timerange"):
        build_request(pairs=["BTC/USDT:USDT"], timerange="20240101-", days=3, now=now)


def test_clip_and_conform() -> None:
    df = pd.DataFrame({"ts": np.arange(10, dtype=np.int64) * MS_PER_HOUR, "rate": np.full(10, 1e-4)})
    mf = MarketFrame(DataKind.FUNDING, BTC, EVENTS, df, "src", row_offset=1)
    c = clip_frame(mf, 3 * MS_PER_HOUR, 7 * MS_PER_HOUR)
    assert (
        c is not None
        and c.row_offset == 4
        and c.column("ts").tolist() == [h * MS_PER_HOUR for h in range(3, 7)]
    )
    assert clip_frame(mf, 0, 100 * MS_PER_HOUR) is mf
    assert clip_frame(mf, 50 * MS_PER_HOUR, 60 * MS_PER_HOUR) is None
    conf = conform_columns(mf, ("ts", "rate", "interval_h"))
    assert list(conf.frame.columns) == ["ts", "rate", "interval_h"]
    assert (conf.column("interval_h") == 1).all()


def test_repair_flag_reaches_the_importer(fake: FakeBinance, user_data: Path) -> None:
    f = archive_file(DataKind.FUTURES, BTC, "1h", "daily", d("20240101"))
    df = kline_frame(BTC, DataKind.FUTURES, "1h", f.start_ms, f.end_ms)
    df = pd.concat([df.iloc[:6], df.iloc[5:]], ignore_index=True)  # row 6 repeats row 5 exactly
    fake.put(f, zip_bytes(f.name.replace(".zip", ".csv"), df.to_csv(index=False).encode()))
    kw = dict(
        pairs=["BTC/USDT:USDT"], timeframes=["1h"], timerange="20240101-20240102", candle_types=["futures"]
    )
    refused = run(fake, user_data, "2024-02-01", **kw)  # type: ignore[arg-type]
    assert refused.results[0].status == "refused" and "duplicate_row" in str(refused.errors[0])
    repaired = run(fake, user_data, "2024-02-01", repair=True, **kw)  # type: ignore[arg-type]
    (r,) = repaired.results
    assert r.status == "imported" and r.added == 24
    assert any(n.startswith("repaired:") for n in r.notes)
