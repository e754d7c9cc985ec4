"""Lifecycle stage 1 — data: a synthetic market is generated, written in the exchange's archive layout,
imported through validation into the store, read back, resampled, stressed, and a corrupted copy refused.
Runs with no internet and no ../shared."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoperp.core.config import AppConfig
from autoperp.core.errors import ValidationError
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_DAY, format_ms
from autoperp.core.timeframes import timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.archive_writer import write_funding_csv, write_klines_csv
from autoperp.data.calibration import stylized_facts
from autoperp.data.import_view import print_import_report
from autoperp.data.importer import import_frames
from autoperp.data.readers import read_file
from autoperp.data.scenarios import apply_scenario
from autoperp.data.schema import MarketFrame
from autoperp.data.store.parquet import ParquetStore
from autoperp.data.synthetic import generate_market
from autoperp.data.validation import validate_frame

EXCHANGE = "synthetic"
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


@dataclass
class DataStageResult:
    store: ParquetStore
    symbols: list[Symbol]
    rows: int
    new_rows: int
    hourly: dict[Symbol, pd.DataFrame] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")) if root.exists() else []:
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def _write_market(cfg: AppConfig, out_dir: Path) -> tuple[list[Symbol], list[Path]]:
    syn = cfg.synthetic
    symbols = [Symbol.parse(s) for s in syn.symbols]
    bar_ms = timeframe_ms(syn.timeframe)
    n_bars = int(syn.days * MS_PER_DAY // bar_ms)
    market = generate_market(symbols, n_bars, timeframe=syn.timeframe, start_ms=START_MS, seed=syn.seed)
    files = []
    for s, series in market.items():
        files.append(
            write_klines_csv(
                series.candles.frame, out_dir / f"{s.exchange_id}-{syn.timeframe}-synthetic.csv", bar_ms
            )
        )
        files.append(
            write_funding_csv(series.funding.frame, out_dir / f"{s.exchange_id}-fundingRate-synthetic.csv")
        )
    return symbols, files


def _read_all(files: list[Path]) -> list[MarketFrame]:
    return [mf for f in files for mf in read_file(f, exchange=EXCHANGE)]


def _facts_table(store: ParquetStore, symbols: list[Symbol], timeframe: str) -> Table:
    t = Table(title="stylised facts of the stored 1m returns")
    for c in (
        "pair",
        "bars",
        "excess kurtosis",
        "acf |r| lag 1",
        "acf |r| lag 60",
        "corr(vol, |r|)",
        "corr(taker, r)",
    ):
        t.add_column(c, justify="left" if c == "pair" else "right")
    for s in symbols:
        f = stylized_facts(store.read_candles(EXCHANGE, s, timeframe))
        t.add_row(
            s.ccxt,
            f"{f.n:,}",
            f"{f.excess_kurtosis:.1f}",
            f"{f.acf_abs_1:.3f}",
            f"{f.acf_abs[-1]:.3f}",
            f"{f.vol_absret_corr:.2f}",
            f"{f.taker_ret_corr:.2f}",
        )
    return t


def _check_resample(store: ParquetStore, symbol: Symbol, timeframe: str) -> tuple[pd.DataFrame, bool]:
    """1h bars from DuckDB against pandas resampling of the same stored 1m bars."""
    hourly = store.read_candles(EXCHANGE, symbol, "1h")
    base = store.read_candles(EXCHANGE, symbol, timeframe)
    ref = (
        base.assign(dt=pd.to_datetime(base["ts"], unit="ms"))
        .set_index("dt")
        .resample("1h")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last"})
        .dropna()
    )
    ok = len(ref) == len(hourly) and all(
        np.array_equal(ref[c].to_numpy(), hourly[c].to_numpy()) for c in ref.columns
    )
    return hourly, ok


def _stress(store: ParquetStore, symbol: Symbol, timeframe: str, console: Console) -> bool:
    base = store.read_candles(EXCHANGE, symbol, timeframe)
    t = Table(title=f"stress scenarios on {symbol.ccxt} (copies; the store is untouched)")
    for c in ("scenario", "rows", "min close / start", "max close / start", "validation"):
        t.add_column(c, justify="left" if c in ("scenario", "validation") else "right")
    ok = True
    start = float(base["close"].iat[0])
    for name in (
        "flash_crash",
        "liquidity_drought",
        "volatility_jump",
        "trend_reversal",
        "pump_and_dump",
        "exchange_outage",
    ):
        stressed, _record = apply_scenario(name, base, rng=1)
        mf = MarketFrame(
            kind=DataKind.FUTURES,
            symbol=symbol,
            timeframe=timeframe,
            frame=stressed,
            source=f"scenario:{name}",
            exchange=EXCHANGE,
        )
        rules = {f.rule for f in validate_frame(mf).findings}
        expected = {"gap"} if name == "exchange_outage" else set()
        ok &= rules == expected
        verdict = "passes" if not rules else "flags " + ", ".join(sorted(rules))
        t.add_row(
            name,
            f"{len(stressed):,}",
            f"{stressed['close'].min() / start:.3f}",
            f"{stressed['close'].max() / start:.3f}",
            verdict,
        )
    console.print(t)
    return ok


def _refuse_corrupt(store: ParquetStore, files: list[Path], work: Path, console: Console) -> bool:
    src = files[0]
    bad = work / src.name.replace("synthetic", "corrupted")
    lines = src.read_text().splitlines()
    cells = lines[1001].split(",")
    cells[3] = str(float(cells[2]) * 1.5)  # low above high on data row 1001
    lines[1001] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    before = _tree_digest(store.root)
    try:
        import_frames(read_file(bad, exchange=EXCHANGE), store, AppConfig().validation)
    except ValidationError as e:
        console.print(f"[green]refused as it should be:[/] {escape(e.one_line())}")
        unchanged = _tree_digest(store.root) == before
        console.print(f"store unchanged after the refusal: {unchanged}")
        return unchanged and "row 1001" in str(e)
    finally:
        bad.unlink(missing_ok=True)
    console.print("[red]a corrupted file was accepted[/]")
    return False


def run_data_stage(cfg: AppConfig, console: Console) -> DataStageResult:
    """Generate -> write archive files -> validate + import -> read back -> resample -> stress -> refuse."""
    syn = cfg.synthetic
    work = cfg.data.user_data_dir / "demo" / "synthetic"
    console.rule("[bold]1. data")
    symbols, files = _write_market(cfg, work)
    console.print(
        f"generated {len(symbols)} correlated synthetic perps, {syn.days:g} days of {syn.timeframe} bars from "
        f"{format_ms(START_MS)} (seed {syn.seed}) -> {work}"
    )
    store = ParquetStore(cfg.data.data_dir)
    report = import_frames(_read_all(files), store, cfg.validation)
    print_import_report(report, console)
    result = DataStageResult(store, symbols, report.rows, report.added)
    series = [i for i in store.list_series() if i.key.exchange == EXCHANGE]
    console.print(
        f"store {cfg.data.data_dir}: {len(series)} synthetic series, {sum(i.rows for i in series):,} rows"
    )
    console.print(_facts_table(store, symbols, syn.timeframe))
    ok_resample = True
    for s in symbols:
        result.hourly[s], ok = _check_resample(store, s, syn.timeframe)
        ok_resample &= ok
    console.print(f"1h bars resampled from 1m in DuckDB equal pandas' resampling: {ok_resample}")
    result.checks["resample"] = ok_resample
    result.checks["scenarios"] = _stress(store, symbols[0], syn.timeframe, console)
    result.checks["refusal"] = _refuse_corrupt(store, files, work, console)
    return result
