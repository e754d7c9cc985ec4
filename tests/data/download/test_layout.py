"""Archive paths and the monthly/daily/API plan of a timerange."""

from __future__ import annotations

from autoperp.core.symbols import Symbol
from autoperp.core.time import parse_date
from autoperp.core.types import DataKind
from autoperp.data.download.layout import archive_file, merge_ranges, plan_series
from autoperp.data.schema import EVENTS

BTC = Symbol.parse("BTC/USDT:USDT")


def d(text: str) -> int:
    return parse_date(text)


def test_paths_match_binance_layout() -> None:
    f = archive_file(DataKind.FUTURES, BTC, "1m", "monthly", d("20240115"))
    assert f.rel_path == "data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"
    assert (f.start_ms, f.end_ms) == (d("20240101"), d("20240201"))
    f = archive_file(DataKind.MARK, BTC, "1h", "daily", d("2024-02-29T13:00"))
    assert f.rel_path == "data/futures/um/daily/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2024-02-29.zip"
    assert f.url("http://h/") == "http://h/" + f.rel_path
    f = archive_file(DataKind.FUNDING, BTC, "1m", "monthly", d("20231201"))
    assert f.rel_path == "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2023-12.zip"
    assert f.timeframe == EVENTS
    f = archive_file(DataKind.TRADES, BTC, EVENTS, "daily", d("20240102"))
    assert f.rel_path == "data/futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-01-02.zip"
    f = archive_file(DataKind.PREMIUM, BTC, "5m", "monthly", d("20240102"))
    assert "/monthly/premiumIndexKlines/BTCUSDT/5m/BTCUSDT-5m-2024-01.zip" in f.rel_path
    f = archive_file(DataKind.INDEX, BTC, "5m", "monthly", d("20240102"))
    assert "/monthly/indexPriceKlines/" in f.rel_path


def test_plan_whole_months_monthly_partial_months_daily_today_api() -> None:
    now = d("2024-03-03T12:00")
    plan = plan_series(DataKind.FUTURES, BTC, "1m", d("20240110"), d("20240305"), now)
    monthly = [f for f in plan.files if f.period == "monthly"]
    daily = [f for f in plan.files if f.period == "daily"]
    assert [f.name for f in monthly] == ["BTCUSDT-1m-2024-02.zip"]
    names = [f.name for f in daily]
    assert names[0] == "BTCUSDT-1m-2024-01-10.zip" and names[21] == "BTCUSDT-1m-2024-01-31.zip"
    assert names[22:] == ["BTCUSDT-1m-2024-03-01.zip", "BTCUSDT-1m-2024-03-02.zip"]
    assert len(daily) == 24
    # today is not in the archive yet: the API serves it, up to now (the range end is in the future)
    assert plan.api_ranges == ((d("20240303"), now),)


def test_plan_month_boundaries_and_half_open_end() -> None:
    now = d("20250101")
    plan = plan_series(DataKind.MARK, BTC, "1h", d("20240101"), d("20240301"), now)
    assert [f.name for f in plan.files] == ["BTCUSDT-1h-2024-01.zip", "BTCUSDT-1h-2024-02.zip"]
    assert plan.api_ranges == ()
    # a start inside a day still fetches that day's file; rows are clipped later
    plan = plan_series(DataKind.FUTURES, BTC, "1m", d("2024-01-31T18:00"), d("2024-02-01T06:00"), now)
    assert [f.name for f in plan.files] == ["BTCUSDT-1m-2024-01-31.zip", "BTCUSDT-1m-2024-02-01.zip"]


def test_plan_funding_is_monthly_only_current_month_goes_to_api() -> None:
    now = d("2024-03-15T08:30")
    plan = plan_series(DataKind.FUNDING, BTC, EVENTS, d("20240120"), d("20240401"), now)
    assert [f.name for f in plan.files] == [
        "BTCUSDT-fundingRate-2024-01.zip",
        "BTCUSDT-fundingRate-2024-02.zip",
    ]
    assert plan.api_ranges == ((d("20240301"), now),)


def test_plan_range_entirely_today_or_future() -> None:
    now = d("2024-03-15T08:30")
    plan = plan_series(DataKind.FUTURES, BTC, "1m", d("2024-03-15T01:00"), d("20240316"), now)
    assert plan.files == ()
    assert plan.api_ranges == ((d("2024-03-15T01:00"), now),)
    assert plan_series(DataKind.FUTURES, BTC, "1m", d("20240401"), d("20240402"), now).files == ()


def test_merge_ranges() -> None:
    assert merge_ranges([(5, 6), (1, 3), (3, 4), (8, 8)]) == [(1, 4), (5, 6)]
