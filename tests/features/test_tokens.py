"""Multi-timescale token windows: only complete bars at or before t, padding masks, batch = single."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoperp.core.errors import DataError, UsageError
from autoperp.features.tokens import TokenSpec, build_token_batch, build_token_windows

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
T0 = 1_700_006_400_000  # a UTC midnight


def _bars(start: int, n: int, step: int, drop_every: int = 0) -> tuple[np.ndarray, np.ndarray]:
    ts = start + step * np.arange(n, dtype=np.int64)
    if drop_every:
        ts = ts[np.arange(n) % drop_every != 1]  # gaps in the data
    # feature 0 = the bar's open time, feature 1 = its close time: easy to check against t
    return ts, np.stack([ts, ts + step], axis=1).astype(np.float64)


FAST = _bars(T0, 5 * 24 * 60, MIN, drop_every=97)
SLOW = _bars(T0, 5 * 24, HOUR, drop_every=13)
DAILY = _bars(T0, 5, DAY)
SPEC = TokenSpec(n_fast=30, n_slow=6, n_day=3)


def _expected(ts: np.ndarray, step: int, t: int, n: int) -> np.ndarray:
    done = ts[ts + step <= t]
    return done[-n:]


@settings(max_examples=200, deadline=None)
@given(t=st.integers(T0 - DAY, T0 + 6 * DAY))
def test_windows_hold_exactly_the_last_complete_bars(t: int) -> None:
    w = build_token_windows(*FAST, *SLOW, *DAILY, t, SPEC)
    for win, mask, (ts, _), step, n in (
        (w.fast, w.masks.fast, FAST, MIN, SPEC.n_fast),
        (w.slow, w.masks.slow, SLOW, HOUR, SPEC.n_slow),
        (w.day, w.masks.day, DAILY, DAY, SPEC.n_day),
    ):
        assert win.shape == (n, 2) and mask.shape == (n,)
        real = win[mask]
        assert (real[:, 1] <= t).all(), "a bar closing after t leaked into the window"
        np.testing.assert_array_equal(real[:, 0], _expected(ts, step, t, n))
        # padding only at the start, and zeros there
        assert (np.diff(mask.astype(int)) >= 0).all()
        assert (win[~mask] == 0).all()


def test_in_progress_higher_timeframe_bars_are_excluded() -> None:
    t = T0 + 2 * DAY + 3 * HOUR + 17 * MIN  # mid-hour, mid-day
    w = build_token_windows(*FAST, *SLOW, *DAILY, t, SPEC)
    assert w.fast[-1, 0] == t - MIN  # the 1m bar closing exactly at t is complete
    assert w.slow[-1, 0] == T0 + 2 * DAY + 2 * HOUR  # not the 03:00 bar still forming
    assert w.day[-1, 0] == T0 + DAY  # not today's bar
    # at the exact hour/day boundary the bar that just closed is included
    t = T0 + 2 * DAY
    w = build_token_windows(*FAST, *SLOW, *DAILY, t, SPEC)
    assert w.slow[-1, 1] == t and w.day[-1, 1] == t


def test_short_history_is_padded_at_the_start_with_a_mask() -> None:
    t = T0 + 4 * HOUR  # slow bars 0, 2, 3 exist (bar 1 is a gap in SLOW)
    w = build_token_windows(*FAST, *SLOW, *DAILY, t, SPEC)
    assert w.masks.day.sum() == 0 and (w.day == 0).all()
    np.testing.assert_array_equal(w.masks.slow, [False] * 3 + [True] * 3)
    np.testing.assert_array_equal(w.slow[3:, 0], T0 + HOUR * np.array([0, 2, 3]))
    assert w.masks.fast.all()
    # before any data every slot is padding
    w = build_token_windows(*FAST, *SLOW, *DAILY, T0, SPEC)
    assert not any(m.any() for m in w.masks)


def test_batch_equals_single_calls_and_accepts_one_feature() -> None:
    rng = np.random.default_rng(0)
    ts = np.sort(rng.integers(T0, T0 + 5 * DAY, 50))
    b = build_token_batch(*FAST, *SLOW, DAILY[0], DAILY[1][:, 0], ts, SPEC)
    assert b.fast.shape == (50, 30, 2) and b.day.shape == (50, 3, 1)
    for i in (0, 17, 49):
        w = build_token_windows(*FAST, *SLOW, DAILY[0], DAILY[1][:, 0], int(ts[i]), SPEC)
        np.testing.assert_array_equal(w.fast, b.fast[i])
        np.testing.assert_array_equal(w.slow, b.slow[i])
        np.testing.assert_array_equal(w.day, b.day[i])
        np.testing.assert_array_equal(w.masks.slow, b.masks.slow[i])


def test_bad_input_raises() -> None:
    ts, vals = FAST
    with pytest.raises(DataError, match="field 'fast_ts'"):
        build_token_windows(ts[::-1], vals, *SLOW, *DAILY, T0 + DAY, SPEC)
    with pytest.raises(DataError, match="field 'slow_values'"):
        build_token_windows(*FAST, SLOW[0], SLOW[1][:-1], *DAILY, T0 + DAY, SPEC)
    with pytest.raises(UsageError, match="unknown timeframe"):
        TokenSpec(slow_timeframe="7h")
    with pytest.raises(ValueError, match="n_fast"):
        TokenSpec(n_fast=0)
