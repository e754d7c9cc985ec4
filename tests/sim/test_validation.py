"""Bad input is refused with a ValidationError naming the row and field; NaN targets mean hold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoperp.core.errors import ValidationError
from autoperp.sim import SimConfig, bracket_table, simulate
from autoperp.sim.batch import simulate_batch
from tests.sim.markets import FREE, HOUR, T0, flat, funding_frame, market


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_infinite_target_is_refused_naming_the_bar(bad: float) -> None:
    targets = np.zeros(6)
    targets[4] = bad
    with pytest.raises(ValidationError, match="bar 4") as err:
        simulate(market(flat(6)), targets, FREE)
    assert "NaN to hold" in str(err.value)
    with pytest.raises(ValidationError, match="inf"):
        simulate_batch([market(flat(6))], targets, [FREE], [bracket_table("BTCUSDT")])


def test_target_length_must_match_the_bars() -> None:
    with pytest.raises(ValidationError, match="expected 6 values"):
        simulate(market(flat(6)), np.zeros(5), FREE)


@pytest.mark.parametrize("mode", ["cross", "isolated"])
def test_all_nan_targets_never_trade(mode: str) -> None:
    cfg = SimConfig.model_validate({**FREE.model_dump(), "margin_mode": mode})
    res = simulate(market(flat(6), funding=funding_frame([2, 4], 0.01)), np.full(6, np.nan), cfg)
    assert len(res.trades) == 0
    assert np.all(res.equity == FREE.initial_cash)
    assert np.all(res.margin_ratio == 0.0)  # an empty log must not break the isolated balance lookup


def test_non_increasing_timestamp_is_refused_naming_row_and_field() -> None:
    candles = flat(6)
    candles["ts"] = candles["ts"].where(candles.index != 3, T0 + 2 * HOUR)  # row 4 repeats row 3's time
    with pytest.raises(ValidationError) as err:
        market(candles)
    assert (err.value.row, err.value.field) == (4, "ts")
    assert "BTCUSDT 1h: row 4: field 'ts'" in err.value.one_line()
    assert str(T0 + 2 * HOUR) in str(err.value)


@pytest.mark.parametrize(
    ("field", "value"), [("open", 0.0), ("high", -1.0), ("low", math.nan), ("close", math.inf)]
)
def test_non_positive_or_missing_price_is_refused_naming_row_and_field(field: str, value: float) -> None:
    candles = flat(6)
    candles.loc[2, field] = value  # the 3rd data row
    with pytest.raises(ValidationError) as err:
        market(candles)
    assert (err.value.row, err.value.field) == (3, field)
    assert f"row 3: field '{field}'" in str(err.value)


def test_negative_volume_is_refused() -> None:
    candles = flat(6)
    candles.loc[0, "volume"] = -5.0
    with pytest.raises(ValidationError) as err:
        market(candles)
    assert (err.value.row, err.value.field) == (1, "volume")


def test_missing_column_is_refused() -> None:
    with pytest.raises(ValidationError, match="missing column"):
        market(flat(6).drop(columns="volume"))


def test_bad_mark_bars_are_refused_rather_than_marking_at_nan() -> None:
    candles = flat(6)
    mark = candles.copy()
    mark.loc[2, "close"] = math.nan
    with pytest.raises(ValidationError) as err:
        market(candles, mark=mark)
    assert (err.value.path, err.value.row, err.value.field) == ("mark-price bars", 3, "close")
    with pytest.raises(ValidationError) as err:
        market(candles, mark=candles.iloc[::-1])
    assert err.value.field == "ts"


def test_non_finite_funding_rate_is_refused() -> None:
    fund = funding_frame([1, 2, 3], [0.0001, math.nan, 0.0001])
    with pytest.raises(ValidationError) as err:
        market(flat(6), funding=fund)
    assert (err.value.path, err.value.row, err.value.field) == ("funding", 2, "rate")


def test_bad_spread_is_refused() -> None:
    with pytest.raises(ValidationError, match="spread"):
        market(flat(6), spread=np.full(6, -0.1))
