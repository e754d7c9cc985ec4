"""The feature table is causal, NaN-free, bounded, and its slow index points at completed hours."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.core.errors import ValidationError
from autoperp.data.synthetic import generate_series
from autoperp.learn.feature_table import TableSpec, build_feature_table, concat_tables
from autoperp.sim import build_market
from autoperp.sim import layout as L

SPEC = TableSpec(fast_window=8, slow_window=3, vol_windows=(5, 10, 20), norm_window=10, volume_window=20,
                 funding_z_window=50, obs_window=4)  # fmt: skip


@pytest.fixture(scope="module")
def series():
    s = generate_series(1500, seed=4)
    m = build_market(s.candles.frame, funding=s.funding.frame, mark=s.mark.frame,
                     symbol="BTC/USDT:USDT", timeframe="1m")  # fmt: skip
    frame = {c: s.candles.frame[c].to_numpy() for c in ("taker_buy_volume", "trades")}
    return m, frame


def test_shapes_groups_and_bounds(series) -> None:
    m, frame = series
    t = build_feature_table([m], [frame], SPEC)
    assert t.bars.dtype == np.float32 and t.bars.shape == (1, len(m), len(t.columns))
    assert [len(t.groups[g]) for g in ("price", "regime", "flow", "alt", "raw")] == [5, 5, 6, 4, 2]
    assert [t.columns[i] for i in t.groups["raw"]] == ["close", "close_diff"]
    assert np.isfinite(t.bars).all() and np.abs(t.bars).max() <= 10.0
    assert t.has_flow and np.abs(t.bars[0, t.warmup :, list(t.groups["flow"])]).sum() > 0
    assert t.n_bars.tolist() == [len(m)]
    # time to the next 8 h settlement: within (0, 1] and falling by one bar's share each minute
    eta = t.funding_eta[0]
    assert (eta >= 0).all() and (eta <= 1.0 + 1e-6).all()
    assert np.isclose(eta[100] - eta[101], 1 / 480, atol=1e-6) or eta[101] > eta[100]
    no_flow = build_feature_table([m], [{}], SPEC)  # frames given, without flow columns
    assert not no_flow.has_flow and (no_flow.bars[0, :, list(no_flow.groups["flow"])] == 0).all()


def test_causal_prefix(series) -> None:
    """Rows up to t are the same whether or not the data goes on past t (no lookahead)."""
    m, frame = series
    full = build_feature_table([m], [frame], SPEC)
    cut = 1000
    part = build_feature_table([m.slice(0, cut)], [{k: v[:cut] for k, v in frame.items()}], SPEC)
    alt_eta = full.groups["alt"][2]
    cols = [c for c in range(len(full.columns)) if c != alt_eta]  # eta uses the settlement schedule
    np.testing.assert_allclose(part.bars[0, :, cols], full.bars[0, :cut, cols], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(part.slow_index[0], full.slow_index[0, :cut])
    k = int(part.slow_index[0, -1]) + 1
    np.testing.assert_allclose(part.slow[0, :k], full.slow[0, :k], rtol=1e-5, atol=1e-6)


def test_slow_index_points_at_completed_hours(series) -> None:
    m, _ = series
    t = build_feature_table([m], None, SPEC)
    si = t.slow_index[0]
    ts = m.ts
    hour = 3_600_000
    first_full = int(np.flatnonzero((ts + 60_000) % hour == 0)[0])
    assert (si[:first_full] == -1).all() and si[first_full] == 0
    assert (np.diff(si) >= 0).all() and (np.diff(si) <= 1).all()
    # the slow close feature of hour h is its log move over the previous hour's close (vol-normalised)
    ends = np.flatnonzero((ts + 60_000) % hour == 0)
    c = m.data[L.M_CLOSE]
    moves = np.log(c[ends[1:]] / c[ends[:-1]])
    slow_close = t.slow[0, 1 : len(ends), 3]
    np.testing.assert_array_equal(np.sign(slow_close), np.sign(moves))
    assert np.corrcoef(moves, slow_close)[0, 1] > 0.5
    assert t.warmup >= first_full + 60 * (SPEC.slow_window - 1)


def test_concat_and_errors(series) -> None:
    m, _ = series
    a = build_feature_table([m], None, SPEC)
    b = build_feature_table([m.slice(0, 800)], None, SPEC)
    c = concat_tables(a, b)
    assert c.n_series == 2 and c.n_bars.tolist() == [len(m), 800]
    np.testing.assert_array_equal(c.bars[1, :800], b.bars[0])
    with pytest.raises(ValidationError, match="frames"):
        build_feature_table([m], [{}, {}], SPEC)
    with pytest.raises(ValidationError, match="window_group"):
        a.group("nope")


def test_without_frames_the_markets_own_flow_columns_are_used() -> None:
    from autoperp.data.synthetic import generate_series
    from autoperp.sim.market import build_market

    s = generate_series(3_000, seed=4)
    m = build_market(s.candles.frame, symbol="SYN", timeframe="1m")
    spec = TableSpec()
    implicit = build_feature_table([m], None, spec)
    explicit = build_feature_table([m], [m.extras], spec)
    assert implicit.has_flow and explicit.has_flow
    np.testing.assert_array_equal(implicit.bars, explicit.bars)
