"""Maintenance-margin brackets: the shipped table, tier choice, continuity of cum, the liquidation solve."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoperp.core.errors import ConfigError
from autoperp.sim import bracket_table, build_market, load_bracket_file, simulate
from autoperp.sim.accounting import liquidation_price, maintenance_margin
from autoperp.sim.brackets import _bundled, max_notional, pack_brackets

BTC = pack_brackets(bracket_table("BTCUSDT"))


def test_shipped_tables_have_continuous_maintenance_margin_and_binance_cum() -> None:
    tables = _bundled()
    assert {"BTCUSDT", "PAXGUSDT", "DEFAULT"} <= set(tables)
    for sym, table in tables.items():
        assert table[0].notional_floor == 0.0, sym
        assert table[0].maint_amount == 0.0, sym
        for prev, cur in itertools.pairwise(table):
            assert cur.notional_floor == prev.notional_cap, sym
            assert cur.maint_margin_rate > prev.maint_margin_rate, sym
            assert cur.max_leverage <= prev.max_leverage, sym
            # Binance's rule cum_i = cum_(i−1) + floor_i·(mmr_i − mmr_(i−1)) makes MM continuous at the edge
            expected = prev.maint_amount + cur.notional_floor * (
                cur.maint_margin_rate - prev.maint_margin_rate
            )
            assert cur.maint_amount == pytest.approx(expected, abs=1e-6), (sym, cur)
        packed = pack_brackets(table)
        for edge in packed[:-1, 1]:
            below = maintenance_margin(edge, packed)
            above = maintenance_margin(edge * (1 + 1e-12), packed)
            assert above == pytest.approx(below, rel=1e-9), (sym, edge)


@pytest.mark.parametrize(
    ("notional", "expected"),
    [
        (0.0, 0.0),
        (10_000.0, 40.0),  # tier 1: 0.4 %
        (50_000.0, 200.0),  # the cap belongs to tier 1 (bands are (floor, cap])
        (50_001.0, 50_001 * 0.005 - 50),  # tier 2: 0.5 %, cum 50 → 200.005
        (1_000_000.0, 7_450.0),  # tier 3: 1 %·1 M − 2 550
        (1e10, 0.5e10 - 167_872_550),  # beyond the last published cap the last tier keeps applying
    ],
)
def test_btc_maintenance_margin_per_tier(notional: float, expected: float) -> None:
    assert maintenance_margin(notional, BTC) == pytest.approx(expected, rel=1e-12)


def test_max_notional_follows_the_leverage_column() -> None:
    table = bracket_table("BTCUSDT")
    assert max_notional(table, 125.0) == 50_000.0
    assert max_notional(table, 50.0) == 8_000_000.0
    assert max_notional(table, 1.0) == 800_000_000.0
    with pytest.raises(ConfigError, match="exceeds"):
        max_notional(bracket_table("XYZUSDT"), 50.0)  # the default tiers stop at 40x


def test_unknown_symbol_gets_the_default_tiers_and_says_so() -> None:
    table = bracket_table("XYZ/USDT:USDT")
    assert table == tuple(_bundled()["DEFAULT"])
    assert "default tiers" in table.source and "XYZUSDT" in table.source
    assert table.is_default and not bracket_table("BTCUSDT").is_default


def test_no_symbol_gets_the_default_tiers_and_the_simulation_says_so() -> None:
    table = bracket_table("")
    assert table.is_default and "no symbol given" in table.source
    candles = pd.DataFrame(
        {
            "ts": np.arange(5) * 60_000,
            "open": 100.0,
            "high": 101.0,
            "low": 99.0,
            "close": 100.0,
            "volume": 10.0,
        }
    )
    result = simulate(build_market(candles), np.zeros(5))
    assert any("margin brackets: default tiers" in note for note in result.notes)


def _write(tmp_path: Path, brackets: list[dict[str, float]]) -> Path:
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps([{"symbol": "FOOUSDT", "brackets": brackets}]))
    return path


def test_user_file_with_broken_cum_is_refused_naming_the_bracket(tmp_path: Path) -> None:
    rows = [
        {"notionalFloor": 0, "notionalCap": 5000, "initialLeverage": 50, "maintMarginRatio": 0.01, "cum": 0},
        # continuity needs cum = 0 + 5 000·(0.02 − 0.01) = 50
        {
            "notionalFloor": 5000,
            "notionalCap": 10000,
            "initialLeverage": 20,
            "maintMarginRatio": 0.02,
            "cum": 40,
        },
    ]
    with pytest.raises(ConfigError, match=r"FOOUSDT bracket 2: cum 40.0 breaks continuity \(expected 50"):
        load_bracket_file(_write(tmp_path, rows))
    rows[1]["cum"] = 50
    tables = load_bracket_file(_write(tmp_path, rows))
    assert bracket_table("FOOUSDT", tables)[1].maint_amount == 50.0


def _solve_by_bisection(qty: float, entry: float, balance: float, packed: np.ndarray) -> float:
    """Mark price where balance + qty·(P − entry) = MM(|qty|·P), found without the closed form."""

    def gap(p: float) -> float:
        return balance + qty * (p - entry) - maintenance_margin(abs(qty) * p, packed)

    lo, hi = 1e-9, entry * 1e3
    if qty > 0 and gap(lo) > 0:
        return 0.0  # a long that cannot be liquidated
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (gap(mid) > 0) == (qty > 0):
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@settings(max_examples=150, deadline=None)
@given(
    qty=st.floats(0.001, 5_000.0) | st.floats(-5_000.0, -0.001),
    entry=st.floats(1_000.0, 100_000.0),
    leverage=st.floats(1.0, 125.0),
    symbol=st.sampled_from(["BTCUSDT", "PAXGUSDT", "DEFAULT"]),
)
def test_closed_form_liquidation_price_matches_a_root_search_on_every_tier(
    qty: float, entry: float, leverage: float, symbol: str
) -> None:
    packed = pack_brackets(bracket_table(symbol))
    balance = abs(qty) * entry / leverage  # isolated margin, as Binance's WB
    lp = liquidation_price(qty, entry, balance, packed)
    ref = _solve_by_bisection(qty, entry, balance, packed)
    if qty > 0 and ref == 0.0:
        assert lp < 1e-9 * entry  # a fully margined long: no positive price liquidates it (or ~0 by rounding)
        return
    assert math.isfinite(lp) and lp > 0
    assert lp == pytest.approx(ref, rel=1e-9)
    # at LP the margin balance equals the maintenance margin of the tier holding |qty|·LP
    assert balance + qty * (lp - entry) == pytest.approx(
        maintenance_margin(abs(qty) * lp, packed), rel=1e-9, abs=1e-9 * abs(qty) * entry
    )
