"""Every validation rule fires on a frame built to break it, names the source row, and passes clean data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoperp.core.config import ValidationConfig
from autoperp.core.errors import FormatError, ValidationError
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS, MarketFrame
from autoperp.data.validation import repair_frame, validate_frame
from tests.data.frames import BTC, MIN, T0, candle_frame, candles, funding_frame


def rules(mf: MarketFrame, cfg: ValidationConfig | None = None) -> dict[str, tuple[int, int]]:
    return {f.rule: (f.row, f.count) for f in validate_frame(mf, cfg).findings}


def test_clean_candles_pass() -> None:
    assert rules(candle_frame(candles(500))) == {}


def _broken(col: str, i: int, value: float) -> MarketFrame:
    df = candles(50)
    df.loc[i, col] = value
    return candle_frame(df)


@pytest.mark.parametrize(
    ("col", "value", "rule"),
    [
        ("close", np.nan, "nan_inf"),
        ("volume", np.inf, "nan_inf"),
        ("open", -1.0, "non_positive_price"),
        ("low", 1e6, "high_below_low"),
        ("volume", -3.0, "negative_volume"),
        ("taker_buy_volume", 1e9, "taker_buy_exceeds_volume"),
    ],
)
def test_row_rules(col: str, value: float, rule: str) -> None:
    found = rules(_broken(col, 7, value))
    assert found[rule] == (8, 1)  # frame index 7 is source row 8


def test_open_and_close_outside_range() -> None:
    df = candles(20)
    df.loc[3, "open"] = df.loc[3, "high"] * 1.01
    df.loc[5, "close"] = df.loc[5, "low"] * 0.99
    found = rules(candle_frame(df))
    assert found["open_outside_range"] == (4, 1)
    assert found["close_outside_range"] == (6, 1)


def test_duplicates_exact_and_conflicting() -> None:
    df = candles(20)
    dup = pd.concat([df.iloc[:10], df.iloc[[4]], df.iloc[10:]], ignore_index=True)
    assert rules(candle_frame(dup))["duplicate_row"] == (11, 1)
    conflict = dup.copy()
    conflict.loc[10, "close"] = conflict.loc[10, "close"] * 1.0001
    conflict.loc[10, "high"] = max(conflict.loc[10, "high"], conflict.loc[10, "close"])
    found = rules(candle_frame(conflict))
    assert "duplicate_row" not in found
    assert found["duplicate_conflict"][0] == 11


def test_out_of_order_and_gap_and_misaligned() -> None:
    df = candles(30)
    swapped = df.iloc[[*range(10), 11, 10, *range(12, 30)]].reset_index(drop=True)
    assert rules(candle_frame(swapped))["out_of_order"] == (12, 1)
    gap = df.drop(index=[15, 16, 17]).reset_index(drop=True)
    assert rules(candle_frame(gap))["gap"] == (16, 1)
    mis = df.copy()
    mis.loc[2, "ts"] += 1_000
    assert rules(candle_frame(mis))["misaligned_timestamp"][0] == 3


def test_reverting_spike_flagged_but_real_crash_not() -> None:
    df = candles(400, seed=3)
    spike = df.copy()
    spike.loc[200, ["close", "high"]] = spike.loc[200, "close"] * 1.5
    spike.loc[201, ["open", "high"]] = spike.loc[200, "close"]
    assert rules(candle_frame(spike))["price_spike"][0] == 201
    crash = df.copy()
    crash.loc[200:, ["open", "high", "low", "close"]] *= 0.7  # a level shift that stays: not a bad tick
    crash.loc[200, "open"] = crash.loc[199, "close"]
    crash.loc[200, "high"] = crash.loc[200, "open"]
    assert "price_spike" not in rules(candle_frame(crash))


def test_funding_cap_and_per_symbol_override() -> None:
    mf = funding_frame([0.0001, -0.0002, 0.05, 0.0001])
    assert rules(mf)["funding_rate_cap"] == (3, 1)
    cfg = ValidationConfig(funding_rate_caps={"BTC/USDT:USDT": 0.06})
    assert rules(mf, cfg) == {}


def test_disabled_rules_are_skipped_and_reported() -> None:
    mf = funding_frame([0.0001, 0.05])
    cfg = ValidationConfig(disabled_rules=["funding_rate_cap"])
    rep = validate_frame(mf, cfg)
    assert rep.ok
    assert rep.skipped_rules == ["funding_rate_cap"]
    with pytest.raises(FormatError, match="unknown rule"):
        validate_frame(mf, ValidationConfig(disabled_rules=["no_such_rule"]))


def test_error_line_names_file_row_rule() -> None:
    rep = validate_frame(_broken("low", 7, 1e6))
    with pytest.raises(ValidationError) as ei:
        rep.raise_first(repair=False)
    line = ei.value.one_line()
    assert line.startswith("test.csv: row 8: [high_below_low]")
    assert "\n" not in str(ei.value)


def test_schema_errors() -> None:
    df = candles(5).drop(columns=["close"])
    with pytest.raises(FormatError, match="close"):
        validate_frame(candle_frame(df))
    df = candles(5)
    df["ts"] = df["ts"].astype(float)
    with pytest.raises(FormatError, match="dtype"):
        validate_frame(candle_frame(df))
    df = candles(5)
    df["bogus"] = 1.0
    with pytest.raises(FormatError, match="bogus"):
        validate_frame(candle_frame(df))


def test_repair_sorts_dedupes_marks_gaps_and_logs() -> None:
    df = candles(40)
    messy = pd.concat([df.iloc[:20], df.iloc[[5]], df.iloc[[25, 24]], df.iloc[26:]], ignore_index=True)
    mf = candle_frame(messy)
    rep = validate_frame(mf)
    assert {f.rule for f in rep.findings} >= {"duplicate_row", "out_of_order", "gap"}
    fixed, log = repair_frame(mf, rep)
    assert fixed.frame["ts"].is_monotonic_increasing
    assert not fixed.frame.duplicated().any()
    assert len(fixed.frame) == 40 - 4  # rows 20..23 were never there
    assert log.gaps == [(T0 + 19 * MIN, T0 + 24 * MIN)]
    assert {a.rule for a in log.actions} == {"duplicate_row", "out_of_order", "gap"}
    assert mf.frame.equals(messy)  # the input frame is untouched
    assert {f.rule for f in validate_frame(fixed).findings} == {"gap"}


def test_event_kinds() -> None:
    quotes = pd.DataFrame(
        {
            "ts": np.array([1, 2, 3], np.int64) + T0,
            "bid": [1.0, 2.0, 1.0],
            "bid_qty": [1.0, 1, 1],
            "ask": [1.1, 1.9, 1.1],
            "ask_qty": [1.0, 1, 1],
        }
    )
    assert rules(MarketFrame(DataKind.QUOTES, BTC, EVENTS, quotes, "q"))["crossed_quote"] == (2, 1)
    trades = pd.DataFrame(
        {
            "ts": np.array([1, 2, 2], np.int64) + T0,
            "price": [1.0, 1.0, 1.0],
            "qty": [1.0, -1.0, 1.0],
            "is_buyer_maker": [True, False, True],
            "id": np.array([1, 2, 2], np.int64),
        }
    )
    found = rules(MarketFrame(DataKind.TRADES, BTC, EVENTS, trades, "t"))
    assert found["negative_volume"] == (2, 1)
    assert found["duplicate_conflict"] == (3, 1)


def test_validation_is_fast_on_a_million_bars() -> None:
    import time

    mf = candle_frame(candles(1_000_000))
    validate_frame(mf)  # compile
    t = time.perf_counter()
    rep = validate_frame(mf)
    dt = time.perf_counter() - t
    assert rep.ok
    assert dt < 2.0, f"validation of 1M bars took {dt:.2f}s"
