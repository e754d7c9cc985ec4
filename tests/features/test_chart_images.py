"""Jiang–Kelly–Xiu chart images: exact pixels, layout, causality and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from autoperp.core.errors import DataError
from autoperp.features.chart_images import HEIGHT, PRICE_ROWS, chart_images, moving_average


def _random_bars(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n))
    volume = rng.uniform(1, 10, n)
    return open_, high, low, close, volume


def test_exact_pixels_of_a_two_bar_image() -> None:
    # lo=0, hi=5: a price p sits on row 50 - 10p
    o = np.array([1.0, 2.0])
    h = np.array([3.0, 5.0])
    lo = np.array([0.0, 1.0])
    c = np.array([2.0, 4.0])
    v = np.array([2.0, 4.0])
    img = chart_images(o, h, lo, c, v, np.array([1]), window=2, ma_window=1)[0]

    want = np.zeros((HEIGHT, 6), dtype=np.uint8)
    want[40, 0] = 255  # bar 0 open 1
    want[20:51, 1] = 255  # bar 0 high 3 .. low 0
    want[30, 2] = 255  # bar 0 close 2
    want[30, 3] = 255  # bar 1 open 2
    want[0:41, 4] = 255  # bar 1 high 5 .. low 1
    want[10, 5] = 255  # bar 1 close 4
    # MA (= close with ma_window 1) from row 30 at column 1 to row 10 at column 4
    want[[23, 17, 10], [2, 3, 4]] = 255
    # volume strip: 2/4 of 12 rows and 12 rows, rising from the bottom
    want[58:64, 1] = 255
    want[52:64, 4] = 255
    np.testing.assert_array_equal(img, want)
    assert not img[PRICE_ROWS].any(), "the gap row between price and volume stays black"


def test_shape_dtype_and_every_column_drawn() -> None:
    bars = _random_bars(300)
    ends = np.array([19, 100, 299])
    imgs = chart_images(*bars, ends)
    assert imgs.shape == (3, 64, 60) and imgs.dtype == np.uint8
    assert set(np.unique(imgs)) == {0, 255}
    # every bar has an open tick, a high-low line and a close tick in the price area
    assert (imgs[:, :PRICE_ROWS, :] > 0).any(axis=1).all()
    # the highest high touches row 0 and the lowest low the bottom price row
    assert imgs[:, 0, 1::3].any(axis=1).all()
    assert imgs[:, PRICE_ROWS - 1, 1::3].any(axis=1).all()
    # the largest volume fills the whole strip
    assert (imgs[:, PRICE_ROWS + 1 :, 1::3] > 0).all(axis=1).any(axis=1).all()


def test_image_never_reads_bars_after_its_end_or_before_its_ma_history() -> None:
    bars = _random_bars(200, seed=1)
    t, window, ma_window = 120, 20, 10
    base = chart_images(*bars, np.array([t]), window=window, ma_window=ma_window)[0]
    first_read = t - window + 1 - (ma_window - 1)
    rng = np.random.default_rng(5)
    for cut, keep in ((t + 1, "after"), (first_read, "before")):
        changed = []
        for a in bars:
            b = a.copy()
            if keep == "after":
                b[cut:] = rng.uniform(50, 150, b.shape[0] - cut)
            else:
                b[:cut] = rng.uniform(50, 150, cut)
            changed.append(b)
        img = chart_images(*changed, np.array([t]), window=window, ma_window=ma_window)[0]
        np.testing.assert_array_equal(img, base, err_msg=f"bars {keep} the image's span changed it")
    # ... while the last bar of the window does change it
    bumped = [a.copy() for a in bars]
    bumped[1][t] *= 1.05
    img = chart_images(*bumped, np.array([t]), window=window, ma_window=ma_window)[0]
    assert (img != base).any()


def test_moving_average_uses_the_bars_available_at_the_start() -> None:
    ma = moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 3)
    np.testing.assert_allclose(ma, [1.0, 2.0, 3.0, 5.0])
    ma = moving_average(np.array([1.0, np.nan, 5.0, 7.0, 9.0]), 2)
    np.testing.assert_allclose(ma, [1.0, np.nan, np.nan, 6.0, 8.0])


def test_non_finite_window_is_black_and_bad_ends_raise() -> None:
    bars = [a.copy() for a in _random_bars(70, seed=2)]
    bars[4][40] = np.nan  # volume: the MA (of closes) stays finite, so only windows holding bar 40 go black
    imgs = chart_images(*bars, np.array([39, 59, 60]))
    assert imgs[0].any() and not imgs[1].any() and imgs[2].any()
    with pytest.raises(DataError, match="ends"):
        chart_images(*bars, np.array([18]))
    with pytest.raises(DataError, match="ends"):
        chart_images(*bars, np.array([70]))
    with pytest.raises(DataError, match="high"):
        chart_images(bars[0], bars[1][:-1], *bars[2:], np.array([30]))


def test_speed_ten_thousand_images() -> None:
    bars = _random_bars(10_100, seed=3)
    ends = np.arange(100, 10_100)
    chart_images(*bars, ends[:10])  # compile
    t0 = time.perf_counter()
    imgs = chart_images(*bars, ends)
    dt = time.perf_counter() - t0
    print(f"chart_images: 10,000 images of 64x60 in {dt * 1e3:.1f} ms")
    assert imgs.shape == (10_000, 64, 60)
    assert dt < 5.0
