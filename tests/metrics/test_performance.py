"""Performance metrics against straightforward pandas/numpy reference implementations, and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoperp.metrics import (
    MetricsInputError,
    drawdown_series,
    drawdown_stats,
    performance,
    performance_from_equity,
    periods_per_year,
)

HOUR = 3_600_000


def _reference(r: np.ndarray, ts: np.ndarray, pos: np.ndarray, ppy: float) -> dict[str, float]:
    s = pd.Series(r, index=pd.to_datetime(ts, unit="ms"))
    wealth = np.concatenate([[1.0], np.cumprod(1 + r)])
    peak = np.maximum.accumulate(wealth)
    dd = 1 - wealth / peak
    under = dd > 0
    longest = cur = 0
    for u in under:  # brute force on purpose
        cur = cur + 1 if u else 0
        longest = max(longest, cur)
    down = np.minimum(r, 0)
    nz = r[r != 0]
    weekly = s.groupby(s.index.to_period("W-SUN")).apply(lambda x: np.prod(1 + x) - 1)
    monthly = s.groupby(s.index.to_period("M")).apply(lambda x: np.prod(1 + x) - 1)
    y = np.log(wealth)
    x = np.arange(len(y))
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    cagr = wealth[-1] ** (ppy / len(r)) - 1
    return {
        "total_return": wealth[-1] - 1,
        "cagr": cagr,
        "volatility": r.std(ddof=1) * math.sqrt(ppy),
        "sharpe": r.mean() / r.std(ddof=1) * math.sqrt(ppy),
        "sortino": r.mean() / math.sqrt(np.mean(down**2)) * math.sqrt(ppy),
        "max_drawdown": dd.max(),
        "calmar": cagr / dd.max(),
        "max_drawdown_duration_bars": longest,
        "ulcer_index": math.sqrt(np.mean(dd**2)),
        "profit_factor": r[r > 0].sum() / -r[r < 0].sum(),
        "expectancy": nz.mean(),
        "win_rate": np.mean(nz > 0),
        "tail_ratio": abs(np.percentile(r, 95)) / abs(np.percentile(r, 5)),
        "positive_weeks": float(np.mean(weekly > 0)),
        "positive_months": float(np.mean(monthly > 0)),
        "weeks": len(weekly),
        "months": len(monthly),
        "stability": r2,
        "turnover": np.abs(np.diff(pos, prepend=0.0)).sum() / len(r),
        "exposure": np.mean(pos != 0),
        "gross_exposure": np.mean(np.abs(pos)),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5_000
    r = rng.standard_t(4, n) * 0.004 + 0.0002
    r[rng.random(n) < 0.1] = 0.0
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * HOUR + 37 * 60_000
    pos = rng.choice([-1.0, 0.0, 0.5, 1.0], n)
    ppy = periods_per_year(bar_ms=HOUR)
    rep = performance(r, bar_ms=HOUR, timestamps_ms=ts, positions=pos).as_dict()
    ref = _reference(r, ts, pos, ppy)
    for key, want in ref.items():
        assert rep[key] == pytest.approx(want, rel=1e-9, abs=1e-12), key
    assert rep["annual_turnover"] == pytest.approx(ref["turnover"] * ppy)
    assert rep["max_drawdown_duration_ms"] == rep["max_drawdown_duration_bars"] * HOUR


def test_annualisation_is_24_7() -> None:
    assert periods_per_year(bar_ms=60_000) == pytest.approx(525_960.0)
    assert periods_per_year(bar_ms=86_400_000) == pytest.approx(365.25)
    assert periods_per_year(periods=252) == 252
    with pytest.raises(MetricsInputError):
        periods_per_year()
    with pytest.raises(MetricsInputError):
        periods_per_year(bar_ms=60_000, periods=12)


def test_equity_variant_and_log_returns_agree() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.0005, 0.01, 400)
    eq = 1000 * np.concatenate([[1.0], np.cumprod(1 + r)])
    ts = 1_700_000_000_000 + np.arange(401, dtype=np.int64) * HOUR
    a = performance(r, bar_ms=HOUR, timestamps_ms=ts[1:]).as_dict()
    b = performance_from_equity(eq, bar_ms=HOUR, timestamps_ms=ts).as_dict()
    c = performance(np.log1p(r), bar_ms=HOUR, timestamps_ms=ts[1:], kind="log").as_dict()
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-9, nan_ok=True), key
        assert c[key] == pytest.approx(a[key], rel=1e-9, nan_ok=True), key


def test_drawdown_hand_example() -> None:
    eq = np.array([100, 120, 90, 60, 130, 125, 130, 140.0])
    st = drawdown_stats(eq)
    assert st.max_drawdown == pytest.approx(0.5)
    assert (st.peak_index, st.trough_index) == (1, 3)
    assert st.max_duration_bars == 2  # points 2 and 3 below the peak at 1
    np.testing.assert_allclose(drawdown_series(eq), [0, 0, 0.25, 0.5, 0, 5 / 130, 0, 0])
    rep = performance_from_equity(eq, bar_ms=HOUR)
    assert rep.max_drawdown == pytest.approx(0.5)
    assert rep.max_drawdown_duration_bars == 2
    assert rep.max_drawdown_duration_ms == 2 * HOUR


def test_drawdown_duration_in_ms_follows_timestamps_with_gaps() -> None:
    r = np.array([0.1, -0.1, 0.0, 0.0, 0.5])
    ts = np.array([0, 1, 2, 10, 11], dtype=np.int64) * HOUR + 1_700_000_000_000
    rep = performance(r, bar_ms=HOUR, timestamps_ms=ts)
    assert rep.max_drawdown_duration_bars == 3  # after bars 1, 2, 3
    assert rep.max_drawdown_duration_ms == 10 * HOUR  # peak after bar 0 (t=0h) to last under water (t=10h)


def test_constant_equity_and_zero_returns() -> None:
    rep = performance_from_equity(np.full(100, 50.0), bar_ms=HOUR)
    assert rep.total_return == 0 and rep.cagr == 0 and rep.volatility == 0
    assert math.isnan(rep.sharpe) and math.isnan(rep.sortino) and math.isnan(rep.calmar)
    assert rep.max_drawdown == 0 and rep.max_drawdown_duration_bars == 0 and rep.ulcer_index == 0
    assert math.isnan(rep.profit_factor) and math.isnan(rep.win_rate) and math.isnan(rep.expectancy)
    assert math.isnan(rep.tail_ratio) and math.isnan(rep.stability)


def test_no_losses_gives_infinite_ratios() -> None:
    rep = performance(np.array([0.01, 0.0, 0.02, 0.01]), periods_per_year_=365)
    assert rep.profit_factor == math.inf and rep.sortino == math.inf and rep.calmar == math.inf
    assert rep.win_rate == 1.0 and rep.max_drawdown == 0


def test_ruin_is_total_loss() -> None:
    rep = performance(np.array([0.1, -1.0, 0.0]), periods_per_year_=365)
    assert rep.total_return == -1 and rep.cagr == -1 and rep.max_drawdown == 1
    with pytest.raises(MetricsInputError, match=r"below -1.*index 1"):
        performance(np.array([0.1, -1.5]), periods_per_year_=365)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_the_index(bad: float) -> None:
    r = np.zeros(10)
    r[7] = bad
    with pytest.raises(ValueError, match="index 7"):
        performance(r, bar_ms=HOUR)
    eq = np.ones(10)
    eq[3] = bad
    with pytest.raises(ValueError, match="index 3"):
        performance_from_equity(eq, bar_ms=HOUR)


def test_too_few_bars() -> None:
    with pytest.raises(MetricsInputError, match="at least 1"):
        performance(np.array([]), bar_ms=HOUR)
    with pytest.raises(MetricsInputError, match="at least 2"):
        performance_from_equity(np.array([1.0]), bar_ms=HOUR)
    one = performance(np.array([0.01]), bar_ms=HOUR, timestamps_ms=np.array([1_700_000_000_000]))
    assert one.total_return == pytest.approx(0.01)
    assert math.isnan(one.volatility) and math.isnan(one.sharpe) and math.isnan(one.sortino)
    assert one.weeks == 1 and one.months == 1 and one.positive_weeks == 1.0


def test_bad_timestamps_and_positions_refused() -> None:
    r = np.zeros(5)
    with pytest.raises(MetricsInputError, match="strictly increasing"):
        performance(r, bar_ms=HOUR, timestamps_ms=np.array([0, 1, 1, 2, 3]))
    with pytest.raises(MetricsInputError, match="length"):
        performance(r, bar_ms=HOUR, positions=np.zeros(4))
    with pytest.raises(MetricsInputError, match="kind"):
        performance(r, bar_ms=HOUR, kind="pct")  # type: ignore[arg-type]


def test_weeks_start_on_monday_utc() -> None:
    # 2024-01-07 was a Sunday, 2024-01-08 a Monday
    sun = 1_704_585_600_000 + 23 * HOUR  # Sunday 23:00 UTC
    ts = np.array([sun, sun + HOUR], dtype=np.int64)
    rep = performance(np.array([0.01, -0.02]), bar_ms=HOUR, timestamps_ms=ts)
    assert rep.weeks == 2 and rep.positive_weeks == 0.5
    assert rep.months == 1 and rep.positive_months == 0.0
