"""Book snapshots sampled at bar closes, and the book features computed from them on the real capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.core.errors import ValidationError
from autoperp.core.types import DataKind
from autoperp.data.book_bars import book_at_bar_close
from autoperp.data.readers import read_file
from autoperp.features.book import book_imbalance, relative_spread


def _snapshot(ts: int, bid: float, ask: float, bq: list[float], aq: list[float]) -> list[dict]:
    rows = [{"ts": ts, "side": 1, "level": i, "price": bid - i, "qty": q} for i, q in enumerate(bq)]
    rows += [{"ts": ts, "side": -1, "level": i, "price": ask + i, "qty": q} for i, q in enumerate(aq)]
    return rows


def test_last_snapshot_before_each_close_and_no_later() -> None:
    book = pd.DataFrame(
        _snapshot(10_000, 100.0, 101.0, [1, 2, 3], [4, 5, 6])
        + _snapshot(60_000, 99.0, 100.0, [7, 1, 1], [1, 1, 1])
    )
    bars = np.array([0, 60_000, 120_000], dtype=np.int64)
    out = book_at_bar_close(book, bars, 60_000, depth=2, max_age_ms=90_000)
    # bar 0 closes at 60,000: the snapshot taken exactly at 60,000 is not yet known, the one at 10,000 is
    assert out["bid_price"][0] == 100.0 and out["ask_price"][0] == 101.0
    assert out["bid_qty"][0] == 3.0 and out["ask_qty"][0] == 9.0  # top 2 levels
    assert out["bid_price"][1] == 99.0 and out["bid_qty"][1] == 8.0
    assert np.isnan(out["bid_price"][2])  # 120 s after the last snapshot: stale, not carried forward
    imb = book_imbalance(out["bid_qty"], out["ask_qty"])
    assert imb[0] == pytest.approx((3 - 9) / 12)


def test_bars_before_the_first_snapshot_are_nan_and_bad_input_is_refused() -> None:
    book = pd.DataFrame(_snapshot(100_000, 10.0, 11.0, [1], [1]))
    out = book_at_bar_close(book, np.array([0], dtype=np.int64), 60_000)
    assert np.isnan(out["ask_qty"][0]) and np.isnan(out["bid_price"][0])
    with pytest.raises(ValidationError, match="missing column"):
        book_at_bar_close(book.drop(columns="qty"), np.array([0]), 60_000)
    back = pd.concat([book, book.assign(ts=5)], ignore_index=True)
    with pytest.raises(ValidationError, match="back in time"):
        book_at_bar_close(back, np.array([0]), 60_000)


@pytest.mark.real_data
def test_features_from_the_real_l2_capture(real_dir: Path) -> None:
    path = real_dir / "binance_um_l2_hftbacktest" / "usdm_btcusdt_20240808.jsonl.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    book = next(mf.frame for mf in read_file(path) if mf.kind is DataKind.BOOK)
    start = int(book["ts"].iat[0]) // 60_000 * 60_000
    bars = np.arange(start, int(book["ts"].iat[-1]) + 60_000, 60_000, dtype=np.int64)
    out = book_at_bar_close(book, bars, 60_000, depth=5)
    imb = book_imbalance(out["bid_qty"], out["ask_qty"])
    spread = relative_spread(out["bid_price"], out["ask_price"])
    ok = np.isfinite(imb)
    assert ok.sum() >= len(bars) - 2  # every bar after the first snapshot has a book
    assert np.all(np.abs(imb[ok]) <= 1.0)
    assert np.all((spread[ok] > 0) & (spread[ok] < 1e-3))  # BTCUSDT trades at a one-tick spread
