"""Synthetic markets for backtest tests: kernel markets, a filled store, and data files on disk."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from autoperp.core.config import ValidationConfig
from autoperp.core.symbols import Symbol
from autoperp.data.archive_writer import write_funding_csv, write_klines_csv
from autoperp.data.importer import import_frames
from autoperp.data.store.parquet import ParquetStore
from autoperp.data.synthetic import DEFAULT_START_MS, SyntheticSeries, generate_market
from autoperp.sim.market import SimMarket, build_market

BTC = Symbol.parse("BTC/USDT:USDT")
ETH = Symbol.parse("ETH/USDT:USDT")
T0 = DEFAULT_START_MS  # 2024-01-01 00:00 UTC
MIN = 60_000
EXCHANGE = "binanceusdm"


def synthetic(symbols: list[Symbol], n: int, seed: int = 0) -> dict[Symbol, SyntheticSeries]:
    return generate_market(symbols, n, seed=seed)


def sim_market(series: SyntheticSeries, *, mark: bool = True, funding: bool = True) -> SimMarket:
    return build_market(
        series.candles.frame,
        mark=series.mark.frame if mark else None,
        funding=series.funding.frame if funding else None,
        symbol=series.symbol.ccxt,
        timeframe=series.candles.timeframe,
    )


def fill_store(root: Path, market: dict[Symbol, SyntheticSeries], *, mark: bool = True) -> ParquetStore:
    """A Parquet store under ``root`` holding the series (as exchange ``binanceusdm``), imported with
    validation exactly as `import-data` would."""
    store = ParquetStore(root)
    frames = []
    for s in market.values():
        for mf in (s.candles, s.mark, s.funding) if mark else (s.candles, s.funding):
            frames.append(dataclasses.replace(mf, exchange=EXCHANGE))
    import_frames(frames, store, ValidationConfig())
    return store


def write_files(directory: Path, series: SyntheticSeries, *, parts: int = 1) -> dict[str, list[Path]]:
    """Binance-archive CSVs of ``series``: candles split into ``parts`` consecutive files, mark candles
    and the funding events."""
    frame = series.candles.frame
    sym = series.symbol.exchange_id
    n = len(frame)
    cuts = [round(i * n / parts) for i in range(parts + 1)]
    candles = [
        write_klines_csv(
            frame.iloc[a:b].reset_index(drop=True), directory / f"{sym}-1m-2024-{i + 1:02d}.csv", MIN
        )
        for i, (a, b) in enumerate(itertools.pairwise(cuts))
    ]
    mark = write_klines_csv(series.mark.frame, directory / f"{sym}-1m-mark.csv", MIN)
    funding = write_funding_csv(series.funding.frame, directory / f"{sym}-fundingRate-2024-01.csv")
    return {"candles": candles, "mark": [mark], "funding": [funding]}
