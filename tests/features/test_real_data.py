"""Features on a real Binance FILUSDT 1m month (skipped when the shared data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.features import FeatureSet


@pytest.fixture(scope="module")
def fil_bars(real_dir: Path) -> dict[str, np.ndarray]:
    path = real_dir / "binance_um_1m_monthly_isda" / "FILUSDT-1m-2023-04.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    df = pd.read_csv(path)
    return {
        "ts": df["open_time"].to_numpy(np.float64),
        "close": df["close"].to_numpy(np.float64),
        "volume": df["volume"].to_numpy(np.float64),
        "taker_buy_volume": df["taker_buy_volume"].to_numpy(np.float64),
        "trades": df["count"].to_numpy(np.float64),
    }


def test_real_month_features(fil_bars: dict[str, np.ndarray]) -> None:
    fs = FeatureSet(funding=False, basis=False)
    out = fs.compute(fil_bars)
    n = len(fil_bars["close"])
    assert n > 40_000
    assert np.isfinite(out["rvol_1440"][1440:]).all()
    share = out["taker_buy_share"]
    assert np.nanmin(share) >= 0.0 and np.nanmax(share) <= 1.0
    # a 1m FIL realised vol over a day is a few percent, not noise and not a blow-up
    assert 0.005 < np.median(out["rvol_1440"][1440:]) < 0.2
    np.testing.assert_allclose(out["logret_1"][1:], np.diff(np.log(fil_bars["close"])), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        np.nanmean(out["trades_rel_1440"][1440:]), 1.0, atol=0.1
    )  # a ratio to its own rolling mean averages about 1


def test_real_month_online_matches_batch(fil_bars: dict[str, np.ndarray]) -> None:
    fs = FeatureSet(funding=False, basis=False)
    m = 4000
    part = {k: v[:m] for k, v in fil_bars.items()}
    batch = fs.compute(part)
    online = fs.online()
    rows = [online.update({k: float(v[i]) for k, v in part.items()}) for i in range(m)]
    for k in fs.names():
        got = np.array([r[k] for r in rows])
        np.testing.assert_allclose(got, batch[k], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=k)
