"""Hurst exponent (DFA) and MF-DFA width: a plain numpy reference, known series, online twin, causality."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.features import FeatureSet, rolling_mfdfa
from autoperp.features.fractal import DEFAULT_QS, DEFAULT_SCALES, MfdfaState


def reference_h(x: np.ndarray, scales: tuple[int, ...], qs: tuple[float, ...]) -> dict[float, float]:
    """Textbook MF-DFA (forward segments, linear detrending) with numpy polyfit."""
    y = np.cumsum(x - x.mean())
    logf = {q: [] for q in qs}
    for s in scales:
        segs = y[: (len(y) // s) * s].reshape(-1, s)
        i = np.arange(s)
        f2 = np.array([np.mean((seg - np.polyval(np.polyfit(i, seg, 1), i)) ** 2) for seg in segs])
        for q in qs:
            logf[q].append(np.log(np.mean(f2 ** (q / 2))) / q)
    return {q: float(np.polyfit(np.log(scales), logf[q], 1)[0]) for q in qs}


def closes(r: np.ndarray) -> np.ndarray:
    return 100.0 * np.exp(np.r_[0.0, np.cumsum(r)])


def test_window_matches_numpy_reference() -> None:
    rng = np.random.default_rng(5)
    r = rng.standard_t(3, 2000) * 1e-3
    w = 480
    hurst, width = rolling_mfdfa(closes(r), w)
    for t in (w, 1000, 2000):
        x = np.diff(np.log(closes(r)[: t + 1]))[-w:]
        ref = reference_h(x, DEFAULT_SCALES, DEFAULT_QS)
        assert hurst[t] == pytest.approx(ref[2.0], rel=1e-8)
        assert width[t] == pytest.approx(ref[-3.0] - ref[3.0], rel=1e-8, abs=1e-10)
    assert np.isnan(hurst[:w]).all() and np.isfinite(hurst[w:]).all()


def test_white_noise_near_half_trend_above() -> None:
    rng = np.random.default_rng(6)
    noise = rng.normal(0, 1e-3, 20_000)
    h_noise, _ = rolling_mfdfa(closes(noise), 2000, step=500, scales=(16, 32, 64, 128, 256))
    # persistent returns: an AR(1) with strong positive autocorrelation
    ar = np.empty_like(noise)
    ar[0] = noise[0]
    for i in range(1, len(ar)):
        ar[i] = 0.9 * ar[i - 1] + noise[i]
    h_ar, _ = rolling_mfdfa(closes(ar), 2000, step=500, scales=(16, 32, 64, 128, 256))
    assert 0.4 < np.nanmedian(h_noise) < 0.6
    assert np.nanmedian(h_ar) > 0.7


def test_step_carries_forward_and_online_equals_batch() -> None:
    rng = np.random.default_rng(8)
    c = closes(rng.normal(0, 1e-3, 1500))
    c[900] = np.nan
    hurst, width = rolling_mfdfa(c, 240, step=7)
    state = MfdfaState(240, step=7)
    got = np.array([state.update(float(v)) for v in c])
    np.testing.assert_array_equal(got[:, 0], hurst)
    np.testing.assert_array_equal(got[:, 1], width)
    assert hurst[246] == hurst[251]  # 245 is a refresh bar, 246..251 carry it
    assert np.isnan(hurst[903])  # 903 refreshes while the window holds the missing close
    assert np.isfinite(hurst[1500 - 1])


def test_fractal_in_feature_set_is_causal() -> None:
    rng = np.random.default_rng(9)
    n, t = 900, 600
    bars = {"close": closes(rng.normal(0, 1e-3, n - 1))}
    fs = FeatureSet(flow=False, funding=False, basis=False, fractal=True, fractal_window=240, fractal_step=3)
    full = fs.compute(bars)
    cut = fs.compute({"close": bars["close"][: t + 1]})
    for k in ("hurst_240", "mf_width_240"):
        np.testing.assert_array_equal(cut[k], full[k][: t + 1])
        assert np.isfinite(full[k][t])


def test_bad_scales_refused() -> None:
    with pytest.raises(ValueError, match="half the window"):
        rolling_mfdfa(np.ones(10), 100, scales=(8, 60))
