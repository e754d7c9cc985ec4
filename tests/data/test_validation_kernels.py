"""The validation kernels' shortcuts (a branch-free pass for clean rows, a division-free pass for regular
timestamps, a log-free pass for spikes) give exactly the counts and first rows of the rules row by row."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoperp.data.validation import kernels
from autoperp.data.validation.rules import N_RULES, RULE_INDEX

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -1.0, 1e-300, 1e308]


def hit(counts: list[int], first: list[int], rule: str, i: int) -> None:
    r = RULE_INDEX[rule]
    if counts[r] == 0:
        first[r] = i
    counts[r] += 1


def reference_rows(o, h, lo, c, v, tb, qv, tbq):  # type: ignore[no-untyped-def]
    """The row rules one row at a time, in plain Python."""
    n = len(o)
    counts, first = [0] * N_RULES, [-1] * N_RULES
    for i in range(n):
        row = [o[i], h[i], lo[i], c[i]] + [a[i] for a in (v, tb, qv, tbq) if len(a) == n]
        if not all(math.isfinite(x) for x in row):
            hit(counts, first, "nan_inf", i)
            continue
        if min(o[i], h[i], lo[i], c[i]) <= 0:
            hit(counts, first, "non_positive_price", i)
        if h[i] < lo[i]:
            hit(counts, first, "high_below_low", i)
        elif o[i] > h[i] or o[i] < lo[i]:
            hit(counts, first, "open_outside_range", i)
        if h[i] >= lo[i] and (c[i] > h[i] or c[i] < lo[i]):
            hit(counts, first, "close_outside_range", i)
        if len(v) == n and v[i] < 0:
            hit(counts, first, "negative_volume", i)
        if len(tb) == n:
            if tb[i] < 0:
                hit(counts, first, "negative_volume", i)
            elif len(v) == n and tb[i] > v[i] * (1.0 + 1e-9) + 1e-12:
                hit(counts, first, "taker_buy_exceeds_volume", i)
    return counts, first


def random_rows(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = c * np.exp(rng.normal(0, 0.005, n))
    h = np.maximum(o, c) * (1 + rng.random(n) * 0.01)
    lo = np.minimum(o, c) * (1 - rng.random(n) * 0.01)
    v = rng.random(n) * 100
    tb = v * rng.random(n)
    cols = [o, h, lo, c, v, tb, v * c, tb * c]
    for _ in range(int(rng.integers(0, 4)) if n else 0):
        i = int(rng.integers(0, n))
        r = rng.random()
        if r < 0.5:
            cols[int(rng.integers(0, 8))][i] = SPECIALS[int(rng.integers(0, len(SPECIALS)))]
        elif r < 0.7:
            col = cols[int(rng.integers(0, 8))]
            col[i] *= 1 + rng.choice([-1, 1]) * 10 ** rng.uniform(-12, -1)
        elif r < 0.85:
            tb[i] = v[i] * (1 + 1e-9) + 1e-12 + rng.choice([0.0, 1e-13, -1e-13, 1e-10])
        else:
            h[i], lo[i] = lo[i], h[i]
    return cols


@pytest.mark.parametrize("seed", range(300))
def test_row_checks_match_the_rules_row_by_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols = random_rows(rng, int(rng.integers(0, 40)))
    empty = np.empty(0)
    variant = seed % 5  # which optional columns the series has
    if variant in (1, 4):
        cols[4] = empty
    if variant in (2, 4):
        cols[5] = empty
    if variant == 3:
        cols[6] = cols[7] = empty
    counts = np.zeros(N_RULES, np.int64)
    first = np.full(N_RULES, -1, np.int64)
    kernels.candle_row_checks(*cols, counts, first)
    ref_counts, ref_first = reference_rows(*cols)
    assert counts.tolist() == ref_counts
    assert first.tolist() == ref_first


@pytest.mark.parametrize("seed", range(200))
def test_order_checks_match_the_rules_row_by_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 30))
    step = int(rng.choice([0, 60_000, 1000, 7]))
    ts = int(rng.choice([0, 1_699_999_980_000, -300_000, 2**62])) + np.arange(n, dtype=np.int64) * max(
        step, 1
    )
    for _ in range(int(rng.integers(0, 3)) if n else 0):
        ts[int(rng.integers(0, n))] += int(rng.choice([-1, 1, step, -step, 2 * step, 0]))
    if seed % 17 == 0 and n > 2:  # a fall whose int64 difference wraps around to exactly one step
        ts[0] = 2**63 - 1
        ts[1] = 2**63 - 1 - 2**64 + max(step, 1)
    counts = np.zeros(N_RULES, np.int64)
    first = np.full(N_RULES, -1, np.int64)
    monotone = kernels.order_checks(ts, step, counts, first)
    ref_counts, ref_first = [0] * N_RULES, [-1] * N_RULES
    for i in range(n):
        if step > 0 and int(ts[i]) % step != 0:
            hit(ref_counts, ref_first, "misaligned_timestamp", i)
        if i > 0 and ts[i] < ts[i - 1]:
            hit(ref_counts, ref_first, "out_of_order", i)
    assert monotone == all(ts[i] >= ts[i - 1] for i in range(1, n))
    assert counts.tolist() == ref_counts
    assert first.tolist() == ref_first


@pytest.mark.parametrize("min_ret", [0.0, 1e-12, 0.01, 0.15, 0.5])
def test_spike_candidates_match_taking_every_log(min_ret: float) -> None:
    rng = np.random.default_rng(int(min_ret * 1000))
    for _ in range(50):
        n = 300
        step = rng.choice(
            [min_ret, np.nextafter(min_ret, 0), np.nextafter(min_ret, 1), min_ret / 2, 2 * min_ret]
        )
        close = 100 * np.exp(np.cumsum(rng.choice([-1, 1], n) * np.resize(step, n)))
        expected = [
            i
            for i in range(1, n - 1)
            if abs(r0 := np.log(close[i] / close[i - 1])) >= min_ret
            and r0 * (r1 := np.log(close[i + 1] / close[i])) < 0
            and abs(r0 + r1) <= (1 - 0.8) * abs(r0)
        ]
        assert kernels.spike_candidates(close, min_ret, 0.8).tolist() == expected
