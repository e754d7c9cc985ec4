"""Import + validation of every real 1m kline file, against pandas doing the same work.

Ours: `autoperp.data.readers.read_file` -> `import_frames` (every validation rule, then Parquet writes
into a fresh store). Baseline: `pandas.read_csv` (`read_feather` for feather files) plus the same checks
written in idiomatic vectorised pandas (no store write: the baseline is given that for free).
Both run in this process, on the same files, best of ``--repeat`` runs each.
Last line: JSON {"rows": N, "rows_per_s": X, "ratio_vs_pandas": R}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from autoperp.core.config import ValidationConfig
from autoperp.data.importer import import_files, prepare
from autoperp.data.readers import read_files
from autoperp.data.store.parquet import ParquetStore

T = TypeVar("T")
U = TypeVar("U")

KLINE_COLS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
]  # fmt: skip


def real_dir() -> Path:
    shared = Path(os.environ.get("AUTOPERP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "data" / "real"


def kline_files(root: Path) -> list[Path]:
    files = sorted((root / "binance_um_1m_monthly_isda").glob("*-1m-*.csv.gz"))
    files += sorted((root / "binance_um_1m_typhonun").glob("*-1m-futures.feather"))
    files += sorted((root / "nautilus_samples").glob("*_1m.csv.gz"))
    return files


def pandas_load(path: Path) -> pd.DataFrame:
    if path.suffix == ".feather":
        df = pd.read_feather(path)
        df["ts"] = (
            df["date"].astype("int64") // 10**6 if df["date"].dt.unit == "ns" else df["date"].astype("int64")
        )
        return df
    head = pd.read_csv(path, nrows=1)
    if "open_time" in head.columns:
        df = pd.read_csv(path)
        df["ts"] = df["open_time"]
    else:
        df = pd.read_csv(path)
        df["ts"] = pd.to_datetime(df["timestamp"]).astype("datetime64[ms]").astype("int64")
    return df


def pandas_checks(
    df: pd.DataFrame, step: int = 60_000, z_max: float = 25.0, min_ret: float = 0.15, revert: float = 0.8
) -> int:
    """The same rules as autoperp's validation, in pandas. Returns the number of findings."""
    o, h, lo, c, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    num = df.select_dtypes("number")
    found = 0
    found += int((~np.isfinite(num)).any(axis=1).sum())
    found += int(((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)).sum())
    found += int((h < lo).sum())
    found += int(((o > h) | (o < lo)).sum())
    found += int(((c > h) | (c < lo)).sum())
    found += int((v < 0).sum())
    if "taker_buy_volume" in df:
        found += int((df["taker_buy_volume"] > v * (1 + 1e-9) + 1e-12).sum())
    ts = df["ts"]
    found += int(df.duplicated().sum())
    found += int((df.duplicated(subset=["ts"]) & ~df.duplicated()).sum())
    found += int((ts.diff() < 0).sum())
    found += int((ts % step != 0).sum())
    s = df.sort_values("ts").drop_duplicates("ts")
    found += int((s["ts"].diff() > 1.5 * step).sum())
    r = np.log(s["close"]).diff()
    med = r.median()
    scale = 1.4826 * (r - med).abs().median()
    z = (r - med) / scale
    nxt_r, nxt_z = r.shift(-1), z.shift(-1)
    spike = (r.abs() >= min_ret) & (z.abs() >= z_max) & (r * nxt_r < 0) & (nxt_z.abs() >= z_max)
    spike &= (r + nxt_r).abs() <= (1 - revert) * r.abs()
    found += int(spike.sum())
    return found


def run_pandas(files: list[Path]) -> tuple[int, int]:
    rows = findings = 0
    for f in files:
        df = pandas_load(f)
        rows += len(df)
        findings += pandas_checks(df)
    return rows, findings


def run_ours(files: list[Path], store_root: Path) -> int:
    return import_files(files, ParquetStore(store_root), ValidationConfig()).rows


def run_ours_no_store(files: list[Path]) -> int:
    """Read + validate only: the like-for-like comparison with the pandas baseline, which stores nothing."""
    frames = [mf for group in read_files(files) for mf in group]
    config = ValidationConfig()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return sum(len(mf) for mf, _log in pool.map(lambda mf: prepare(mf, config, repair=False), frames))


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def paired(
    ours: Callable[[], T], theirs: Callable[[], U], repeat: int, cleanup: Callable[[], None]
) -> tuple[list[float], list[float], T, U]:
    """Alternate ours and theirs ``repeat`` times, so both see the same machine (shared VMs drift by
    ±30% over a minute); ``cleanup`` (emptying the store) runs untimed before each of ours."""
    t_ours, t_theirs = [], []
    for _ in range(repeat):
        cleanup()
        a, out_ours = timed(ours)
        b, out_theirs = timed(theirs)
        t_ours.append(a)
        t_theirs.append(b)
    return t_ours, t_theirs, out_ours, out_theirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    root = real_dir()
    files = kline_files(root)
    if not files:
        sys.exit(f"no real 1m kline files under {root} (set AUTOPERP_SHARED)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    store = tmp / "store"

    def empty_store() -> None:  # every timed import starts from an empty store (untimed)
        shutil.rmtree(store, ignore_errors=True)

    try:
        run_ours(files[:2], tmp / "warm")  # numba compile + imports, not timed
        t_ours, t_pd, rows, (rows_pd, findings) = paired(
            lambda: run_ours(files, store), lambda: run_pandas(files), args.repeat, empty_store
        )
        t_check, _, _, _ = paired(lambda: run_ours_no_store(files), lambda: 0, args.repeat, lambda: None)
        by_kind = {}
        for label, suffix in (("csv", ".gz"), ("feather", ".feather")):
            sub = [f for f in files if f.suffix == suffix]
            a, b, _, _ = paired(
                lambda sub=sub: run_ours(sub, store), lambda sub=sub: run_pandas(sub), 3, empty_store
            )
            by_kind[label] = (len(sub), min(a), min(b))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert rows == rows_pd, f"row counts differ: ours {rows}, pandas {rows_pd}"
    assert findings == 0, f"pandas checks found {findings} problems in real data that ours did not"
    ratios = sorted(b / a for a, b in zip(t_ours, t_pd, strict=True))
    ratio = statistics.median(ratios)
    best = min(t_ours)
    print(f"files: {len(files)}  rows: {rows:,}  runs: {args.repeat} (ours and pandas alternating)")
    for label, (n, a, b) in by_kind.items():
        print(f"  {label:8s} {n:3d} files  ours {a:6.3f} s  pandas {b:6.3f} s  ratio {b / a:5.2f}")
    print(
        f"  read + validate only (no store write): {min(t_check):6.3f} s  ratio {min(t_pd) / min(t_check):5.2f}"
    )
    print(f"  all      ours best {best:6.3f} s ({rows / best:,.0f} rows/s), pandas best {min(t_pd):6.3f} s")
    print(f"  ratio per run: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f}")
    print(
        json.dumps(
            {
                "rows": rows,
                "rows_per_s": round(rows / statistics.median(t_ours)),
                "ratio_vs_pandas": round(ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
