"""Every real file under shared/data/real reads into canonical frames; spot checks against SOURCES.md."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from autoperp.core.symbols import Symbol
from autoperp.core.time import datetime_to_ms, parse_date
from autoperp.core.types import DataKind
from autoperp.data.readers import is_supported, read_file, sniff_layout
from autoperp.data.readers.layouts import Layout
from autoperp.data.readers.ws_capture import parse_ws_capture, rebuild_book
from autoperp.data.schema import EVENTS, MARKET_WIDE

pytestmark = pytest.mark.real_data

LOW_MS = parse_date("2017-01-01")
HIGH_MS = parse_date("2027-01-01")


def _real_files(real_dir: Path) -> list[Path]:
    return sorted(p for p in real_dir.rglob("*") if p.is_file() and p.name != "SOURCES.md")


def test_every_real_file_reads_into_canonical_frames(real_dir: Path, check_frame) -> None:
    files = _real_files(real_dir)
    assert len(files) > 90
    for path in files:
        assert is_supported(path), path
        frames = read_file(path)
        assert frames, path
        for frame in frames:
            check_frame(frame)
            ts = frame.frame["ts"].to_numpy()
            assert ts.min() >= LOW_MS and ts.max() < HIGH_MS, path
            assert frame.source == str(path)
            assert frame.row_offset == 1
            for col in frame.frame.columns:
                if frame.frame[col].dtype == np.float64 and col not in ("volume", "price", "qty"):
                    assert np.isfinite(frame.frame[col].to_numpy()).any(), (path, col)


@pytest.mark.parametrize(
    ("rel", "kind", "symbol", "timeframe", "rows", "first", "last"),
    [
        (
            "binance_um_1m_monthly_isda/FILUSDT-1m-2023-04.csv.gz",
            DataKind.FUTURES,
            "FIL/USDT:USDT",
            "1m",
            43200,
            "2023-04-01 00:00:00",
            "2023-04-30 23:59:00",
        ),
        (
            "binance_um_1m_monthly_isda/NEARUSDT-1m-2023-10.csv.gz",
            DataKind.FUTURES,
            "NEAR/USDT:USDT",
            "1m",
            44640,
            "2023-10-01 00:00:00",
            "2023-10-31 23:59:00",
        ),
        (
            "binance_um_1m_typhonun/ADA_USDT_USDT-1m-futures.feather",
            DataKind.FUTURES,
            "ADA/USDT:USDT",
            "1m",
            43199,
            "2025-05-09 18:18:00",
            "2025-06-08 18:16:00",
        ),
        (
            "binance_um_1m_typhonun/ADA_USDT_USDT-8h-funding_rate.feather",
            DataKind.FUNDING,
            "ADA/USDT:USDT",
            EVENTS,
            282,
            "2025-03-06 16:00:00",
            "2025-06-08 08:00:00",
        ),
        (
            "binance_um_1m_typhonun/BNB_USDT_USDT-8h-mark.feather",
            DataKind.MARK,
            "BNB/USDT:USDT",
            "8h",
            266,
            "2025-03-06 16:00:00",
            "2025-06-03 00:00:00",
        ),
        (
            "nautilus_samples/btc-perp-20211231-20220201_1m.csv.gz",
            DataKind.FUTURES,
            "BTC/USD:USD",
            "1m",
            45031,
            "2021-12-31 23:01:00",
            "2022-02-01 05:31:00",
        ),
        (
            "nautilus_samples/binance_spot_btcusdt-trades.parquet",
            DataKind.TRADES,
            "BTC/USDT",
            EVENTS,
            2001,
            "2021-01-08 00:00:00",
            "2021-01-08 00:00:46",
        ),
        (
            "nautilus_samples/binance_spot_btcusdt-quotes.parquet",
            DataKind.QUOTES,
            "BTC/USDT",
            EVENTS,
            451,
            "2021-01-08 00:00:01",
            "2021-01-08 00:00:46",
        ),
        (
            "news_newsapi_sample/newsapi_crypto_2022-12-23.csv.gz",
            DataKind.NEWS,
            str(MARKET_WIDE),
            EVENTS,
            100,
            "2022-12-23 08:50:07",
            "2022-12-23 13:26:36",
        ),
    ],
)
def test_real_files_match_sources_md(
    real_dir: Path, rel: str, kind: DataKind, symbol: str, timeframe: str, rows: int, first: str, last: str
) -> None:
    (frame,) = read_file(real_dir / rel)
    assert frame.kind is kind
    assert str(frame.symbol) == symbol
    assert frame.timeframe == timeframe
    assert len(frame) == rows
    ts = frame.frame["ts"].to_numpy()
    # SOURCES.md prints the range in seconds; sub-second parts (funding jitter, trade ms) are kept
    assert ts.min() // 1000 * 1000 == datetime_to_ms(_dt(first))
    assert ts.max() // 1000 * 1000 == datetime_to_ms(_dt(last))


def _dt(text: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_binance_kline_values_and_order_are_as_in_the_file(real_dir: Path) -> None:
    (frame,) = read_file(real_dir / "binance_um_1m_monthly_isda/FILUSDT-1m-2023-04.csv.gz")
    first = frame.frame.iloc[0]
    # open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume
    # 1680307200000,5.685,5.695,5.684,5.692,28753.6,1680307259999,163610.5208,335,22787.7,129658.0900,0
    assert first["ts"] == 1680307200000
    assert (first["open"], first["high"], first["low"], first["close"]) == (5.685, 5.695, 5.684, 5.692)
    assert first["volume"] == 28753.6 and first["quote_volume"] == 163610.5208
    assert first["trades"] == 335 and first["taker_buy_volume"] == 22787.7
    assert frame.frame["trades"].dtype == np.int64
    assert (np.diff(frame.frame["ts"].to_numpy()) == 60_000).all()


def test_funding_jitter_is_kept(real_dir: Path) -> None:
    (frame,) = read_file(real_dir / "freqtrade_testdata/XRP_USDT_USDT-8h-funding_rate.feather")
    ts = frame.frame["ts"].to_numpy()
    assert ts[0] == datetime_to_ms(_dt("2021-11-18 00:00:00")) + 17  # 00:00:00.017 in the file
    assert (ts % 1000 != 0).any()
    assert frame.frame["rate"].iloc[0] == pytest.approx(0.0001)
    assert list(frame.frame.columns) == ["ts", "rate"]


def test_mark_feather_has_no_volume(real_dir: Path) -> None:
    (frame,) = read_file(real_dir / "freqtrade_testdata/XRP_USDT_USDT-1h-mark.feather")
    assert frame.kind is DataKind.MARK
    assert "volume" not in frame.frame.columns
    assert any("volume" in n for n in frame.notes)


def test_sniffed_layouts(real_dir: Path) -> None:
    assert sniff_layout(real_dir / "binance_um_1m_monthly_isda/FILUSDT-1m-2023-04.csv.gz") == [
        Layout.BINANCE_KLINES
    ]
    assert sniff_layout(real_dir / "nautilus_samples/bybit_linear_xrpusdt-ob500.data.zip") == [
        Layout.BYBIT_ORDERBOOK
    ]
    assert sniff_layout(real_dir / "binance_um_l2_hftbacktest/usdm_ethusdt_20240808.jsonl.gz") == [
        Layout.BINANCE_WS_CAPTURE
    ]


# -- order books ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def btc_capture(real_dir: Path):  # type: ignore[no-untyped-def]
    import gzip

    path = real_dir / "binance_um_l2_hftbacktest/usdm_btcusdt_20240808.jsonl.gz"
    return parse_ws_capture(gzip.decompress(path.read_bytes()), str(path))


def test_ws_capture_frames(real_dir: Path) -> None:
    path = real_dir / "binance_um_l2_hftbacktest/usdm_btcusdt_20240808.jsonl.gz"
    start = time.perf_counter()
    frames = read_file(path)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"capture read + book rebuild took {elapsed:.2f}s"
    by_kind = {f.kind: f for f in frames}
    assert set(by_kind) == {DataKind.BOOK, DataKind.TRADES, DataKind.QUOTES}
    assert all(f.symbol == Symbol.parse("BTC/USDT:USDT") for f in frames)
    assert len(by_kind[DataKind.TRADES]) == 21313  # SOURCES.md: trade=21313
    assert len(by_kind[DataKind.QUOTES]) == 66089  # bookTicker=66089
    book = by_kind[DataKind.BOOK].frame
    assert (book["ts"].to_numpy() % 1000 == 0).all()
    assert set(np.unique(book["side"])) == {-1, 1}
    assert book["level"].max() == 19
    # local receive stamps are ~1.27 s behind exchange time: exchange time must be what we kept
    assert any("-1269 ms" in n or "-1270 ms" in n for n in by_kind[DataKind.QUOTES].notes)
    trades = by_kind[DataKind.TRADES].frame
    assert trades["ts"].iloc[0] == 1723161256322  # T of the first trade line, not the local ns stamp


def test_ws_capture_kind_hint_selects_one_frame(real_dir: Path) -> None:
    path = real_dir / "binance_um_l2_hftbacktest/usdm_ethusdt_20240808.jsonl.gz"
    (frame,) = read_file(path, kind=DataKind.TRADES)
    assert frame.kind is DataKind.TRADES and len(frame) == 14076
    (book,) = read_file(path, kind=DataKind.BOOK, snapshot_interval_ms=5000, depth=5)
    assert (book.frame["ts"].to_numpy() % 5000 == 0).all()
    assert book.frame["level"].max() == 4


def test_rebuilt_book_agrees_with_book_ticker(btc_capture) -> None:  # type: ignore[no-untyped-def]
    rebuild = rebuild_book(btc_capture, interval_ms=1000, depth=20)
    cols = rebuild.recorder.columns()
    best = cols["level"] == 0
    best_bid = cols["price"][best & (cols["side"] == 1)]
    best_ask = cols["price"][best & (cols["side"] == -1)]
    assert len(best_bid) == len(best_ask) == len(rebuild.update_ids) > 300
    assert (best_bid < best_ask).all()
    # bookTicker matched by update id: the last ticker with u <= the last applied diff's u
    ticker = btc_capture.ticker
    order = np.argsort(ticker["update_id"], kind="stable")
    k = np.searchsorted(ticker["update_id"][order], np.asarray(rebuild.update_ids), side="right") - 1
    agree = (ticker["bid"][order][k] == best_bid) & (ticker["ask"][order][k] == best_ask)
    assert agree.mean() >= 0.99
    # matched by time (the depth stream is batched every ~50 ms, so a little lower)
    o2 = np.argsort(ticker["ts"], kind="stable")
    k2 = np.searchsorted(ticker["ts"][o2], np.asarray(rebuild.recorder.snapshot_ts), side="right") - 1
    agree_t = (ticker["bid"][o2][k2] == best_bid) & (ticker["ask"][o2][k2] == best_ask)
    assert agree_t.mean() >= 0.9


def test_public_book_frame_is_never_crossed(real_dir: Path) -> None:
    for name in ("usdm_btcusdt_20240808.jsonl.gz", "usdm_ethusdt_20240808.jsonl.gz"):
        (book,) = read_file(real_dir / "binance_um_l2_hftbacktest" / name, kind=DataKind.BOOK)
        df = book.frame
        top = df[df["level"] == 0]
        bids = top[top["side"] == 1].set_index("ts")["price"]
        asks = top[top["side"] == -1].set_index("ts")["price"]
        assert (bids < asks.reindex(bids.index)).all()
        # levels are ordered best first on both sides
        for side, sign in ((1, -1), (-1, 1)):
            s = df[df["side"] == side]
            steps = np.diff(s["price"].to_numpy())[np.diff(s["level"].to_numpy()) == 1]
            assert (sign * steps > 0).all()


def test_nautilus_and_tardis_books(real_dir: Path) -> None:
    (snap,) = read_file(real_dir / "nautilus_samples/binance_um_btcusdt-depth-snap.csv", depth=None)
    assert len(snap) == 100 and (snap.frame["side"] == 1).all()
    assert snap.frame["price"].iloc[0] == 20377.0 and snap.frame["level"].iloc[0] == 0
    (update,) = read_file(real_dir / "nautilus_samples/binance_um_btcusdt-depth-update.csv")
    assert any("PARTIAL BOOK" in n for n in update.notes)
    (tardis,) = read_file(real_dir / "nautilus_samples/tardis_binance-futures_book_snapshot_25_BTCUSDT.csv")
    assert len(tardis) == 10 * 50
    first = tardis.frame.iloc[:50]
    assert first["ts"].iloc[0] == 1598918403696  # µs in the file -> ms
    assert first[(first.side == -1) & (first.level == 0)]["price"].item() == 11657.08
    assert first[(first.side == 1) & (first.level == 0)]["price"].item() == 11657.07
    (bybit,) = read_file(real_dir / "nautilus_samples/bybit_linear_xrpusdt-ob500.data.zip")
    assert bybit.exchange == "bybit" and str(bybit.symbol) == "XRP/USDT:USDT"
    df = bybit.frame
    top = df[df.level == 0]
    assert (top[top.side == 1]["price"].to_numpy() < top[top.side == -1]["price"].to_numpy()).all()
