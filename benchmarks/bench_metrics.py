"""Time the metrics package on synthetic data: every performance metric over 10 M one-minute bars (with
timestamps and positions), PSR + DSR of a 10 M-bar series, PBO by CSCV (S=16) of a 10 000 × 100 matrix.

Each figure is the median of ``--repeat`` runs after one warm-up run (numba compilation excluded).
Last line: JSON {"bars": N, "all_metrics_s": X, "psr_dsr_s": Y, "pbo_s": Z, ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from autoperp.metrics import (
    deflated_sharpe_ratio,
    performance,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_moments,
)


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pbo-rows", type=int, default=10_000)
    ap.add_argument("--pbo-trials", type=int, default=100)
    args = ap.parse_args()

    rng = np.random.default_rng(42)
    n = args.bars
    r = rng.normal(2e-6, 1e-3, n)
    ts = 1_600_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    pos = np.repeat(rng.choice([-1.0, 0.0, 1.0], size=n // 60 + 1), 60)[:n]

    def all_metrics() -> object:
        return performance(r, bar_ms=60_000, timestamps_ms=ts, positions=pos)

    def psr_dsr() -> object:
        m = sharpe_moments(r)
        psr = probabilistic_sharpe_ratio(m.sharpe, m.n, skewness=m.skewness, kurtosis=m.kurtosis)
        dsr = deflated_sharpe_ratio(
            m.sharpe, m.n, n_trials=100, sharpe_variance=1e-6, skewness=m.skewness, kurtosis=m.kurtosis
        )
        return psr, dsr

    trials = rng.normal(0.0, 0.01, (args.pbo_rows, args.pbo_trials))

    def pbo() -> object:
        return probability_of_backtest_overfitting(trials, 16)

    t_all = _median_time(all_metrics, args.repeat)
    t_psr = _median_time(psr_dsr, args.repeat)
    t_pbo = _median_time(pbo, args.repeat)
    rep = performance(r, bar_ms=60_000, timestamps_ms=ts, positions=pos)
    print(
        f"performance over {n:,} bars: {t_all:.3f} s (sharpe {rep.sharpe:.3f}, max dd {rep.max_drawdown:.3f})"
    )
    print(f"PSR + DSR over {n:,} bars: {t_psr:.3f} s")
    print(f"PBO (CSCV, S=16, {args.pbo_rows}x{args.pbo_trials}): {t_pbo:.3f} s")
    print(
        json.dumps(
            {
                "bars": n,
                "all_metrics_s": round(t_all, 4),
                "psr_dsr_s": round(t_psr, 4),
                "pbo_s": round(t_pbo, 4),
                "pbo_shape": [args.pbo_rows, args.pbo_trials],
                "repeat": args.repeat,
            }
        )
    )


if __name__ == "__main__":
    main()
