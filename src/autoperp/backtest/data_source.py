"""Market data for a backtest, from the store or straight from files, packed into kernel markets.

From the store (``user_data/data``): trade candles of kind ``futures`` (resampled in DuckDB when only a
finer timeframe is stored), mark-price candles of kind ``mark`` and funding events of kind
``funding_rate`` when the store has them; their absence is said in the run's notes.

From files (``--datafile``): anything :func:`autoperp.data.readers.read_file` reads. Candle, mark and
funding frames are told apart by what the reader found (``--datafile-mark``/``--datafile-funding`` force
the kind). Every frame is validated exactly as an import would be, except that gaps are allowed (the
simulator steps over them); several files of one series (monthly archives) are joined in time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from autoperp.backtest.vault_guard import refuse_vault_paths
from autoperp.core.config import ValidationConfig
from autoperp.core.errors import DataError, StoreError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange, format_ms
from autoperp.core.timeframes import can_resample, timeframe_ms
from autoperp.core.types import DataKind
from autoperp.data.readers import infer_from_name, read_file
from autoperp.data.schema import EVENTS, MarketFrame
from autoperp.data.store.base import MarketStore, SeriesKey
from autoperp.data.store.resample import resample_sql
from autoperp.data.validation import ValidationReport, validate_frame
from autoperp.sim.market import SimMarket, build_market

__all__ = ["LoadedData", "PairFrames", "load_from_files", "load_from_store", "resample_candles"]

_CANDLE_KINDS = (DataKind.FUTURES, DataKind.SPOT)


@dataclass
class PairFrames:
    """One pair's inputs before packing: trade candles, optional mark candles and funding events."""

    symbol: Symbol
    candles: pd.DataFrame
    mark: pd.DataFrame | None = None
    funding: pd.DataFrame | None = None


@dataclass
class LoadedData:
    """Kernel markets (one per pair, in the order asked for), where they came from, and notes."""

    markets: list[SimMarket]
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _market(frames: PairFrames, timeframe: str) -> SimMarket:
    return build_market(
        frames.candles,
        mark=frames.mark,
        funding=frames.funding,
        symbol=frames.symbol.ccxt,
        timeframe=timeframe,
    )


def _no_bars(symbol: Symbol, timeframe: str, timerange: TimeRange, where: str, span: str = "") -> UsageError:
    return UsageError(
        f"no {timeframe} bars of {symbol} in {timerange} {where}{span}: choose another --timerange"
    )


# ------------------------------------------------------------------------------------------------ store
def _stored_span(store: MarketStore, exchange: str, symbol: Symbol) -> str | None:
    """'first → last' of the pair's stored futures candles (finest timeframe), None when there are none."""
    infos = [
        i
        for i in store.list_series()
        if i.key.exchange == exchange and i.key.symbol == symbol and i.key.kind is DataKind.FUTURES
    ]
    spans = [(i.start_ms, i.end_ms) for i in infos if i.start_ms is not None and i.end_ms is not None]
    if not infos:
        return None
    if not spans:
        return "empty"
    return f"{format_ms(min(a for a, _ in spans))} → {format_ms(max(b for _, b in spans))}"


def load_from_store(
    store: MarketStore, exchange: str, symbols: Sequence[Symbol], timeframe: str, timerange: TimeRange
) -> LoadedData:
    """Markets of ``symbols`` at ``timeframe`` within ``timerange`` from ``store`` (exchange id as stored).

    Raises :class:`StoreError` for a pair the store lacks, :class:`UsageError` when the range holds no bar.
    """
    timeframe_ms(timeframe)
    root = getattr(store, "root", "store")
    # an unbounded range is passed as None: the store's month pruning cannot take open ends when resampling
    tr = None if timerange.start_ms is None and timerange.end_ms is None else timerange
    out = LoadedData([])
    for sym in symbols:
        span = _stored_span(store, exchange, sym)
        if span is None:
            raise StoreError(
                f"no futures candles of {sym} on {exchange} in {root}: `autoperp list-data` shows what is stored,"
                " `autoperp import-data` or `autoperp download-data` adds it"
            )
        try:
            candles = store.read_candles(exchange, sym, timeframe, tr, kind=DataKind.FUTURES)
        except StoreError:
            candles = None
        if candles is None or candles.empty:
            raise _no_bars(sym, timeframe, timerange, f"on {exchange}", f" (stored: {span})")
        out.sources.append(f"{root}: {exchange} {sym} futures {timeframe}")
        try:
            mark: pd.DataFrame | None = store.read_candles(exchange, sym, timeframe, tr, kind=DataKind.MARK)
            out.sources.append(f"{root}: {exchange} {sym} mark {timeframe}")
        except StoreError:  # build_market notes that equity is then marked at trade prices
            mark = None
        fkey = SeriesKey(exchange, sym, DataKind.FUNDING, EVENTS)
        try:
            funding: pd.DataFrame | None = store.read(fkey, tr)
        except StoreError:  # build_market notes that no funding is charged
            funding = None
        if funding is not None:
            out.sources.append(f"{root}: {exchange} {sym} funding_rate")
        out.markets.append(_market(PairFrames(sym, candles, mark, funding), timeframe))
    return out


# ------------------------------------------------------------------------------------------------ files
def resample_candles(df: pd.DataFrame, source_tf: str, target_tf: str, timerange: TimeRange) -> pd.DataFrame:
    """Complete ``target_tf`` buckets of ``source_tf`` candles (the store's DuckDB aggregation)."""
    if source_tf == target_tf:
        return df
    if not can_resample(source_tf, target_tf):
        raise UsageError(
            f"cannot make {target_tf} bars from {source_tf} bars: pass --timeframe {source_tf} or coarser"
        )
    sql = resample_sql(tuple(df.columns), source_tf, target_tf)
    start = timerange.start_ms if timerange.start_ms is not None else -(2**62)
    end = timerange.end_ms if timerange.end_ms is not None else 2**62
    con = duckdb.connect(":memory:")
    try:
        con.register("src", df)
        return con.execute(sql, {"start": start, "end": end}).df()
    finally:
        con.close()


def _validate(mf: MarketFrame, config: ValidationConfig) -> int:
    """Refuse ``mf`` as an import would, except for gaps (returned as a count of gap findings' rows)."""
    report = validate_frame(mf, config)
    blocking = [f for f in report.findings if f.rule != "gap"]
    ValidationReport(report.source, report.rows, blocking).raise_first(repair=False)
    return sum(f.count for f in report.findings if f.rule == "gap")


def _read(path: Path, kind: DataKind | None, symbols: Sequence[Symbol], timeframe: str) -> list[MarketFrame]:
    if not path.is_file():
        raise UsageError(f"{path}: data file not found")
    name = infer_from_name(path)
    hints: dict[str, object] = {}
    if kind is not None:
        hints["kind"] = kind
    if name.symbol is None and len(symbols) == 1:
        hints["symbol"] = symbols[0]
    if name.timeframe is None and kind is not DataKind.FUNDING:
        hints["timeframe"] = timeframe
    return read_file(path, **hints)  # type: ignore[arg-type]


def _join(parts: list[MarketFrame], what: str) -> pd.DataFrame:
    """Frames of one series (several files) as one frame sorted by ts; conflicting rows are refused."""
    if len(parts) == 1:
        df = parts[0].frame
    else:
        cols = [c for c in parts[0].frame.columns if all(c in p.frame.columns for p in parts)]
        df = pd.concat([p.frame[cols] for p in parts], ignore_index=True)
    df = df.sort_values("ts", kind="stable").drop_duplicates(ignore_index=True)
    ts = df["ts"].to_numpy(np.int64)
    dup = np.flatnonzero(ts[1:] == ts[:-1])
    if dup.size:
        at = format_ms(int(ts[dup[0]]))
        files = ", ".join(p.source for p in parts)
        raise DataError(f"{what}: two different rows for {at} in {files}", rule="duplicate_conflict")
    return df


def load_from_files(
    datafiles: Sequence[Path],
    timeframe: str,
    timerange: TimeRange,
    *,
    symbols: Sequence[Symbol] = (),
    mark_files: Sequence[Path] = (),
    funding_files: Sequence[Path] = (),
    validation: ValidationConfig | None = None,
    allow_vault: bool = False,
) -> LoadedData:
    """Markets built from data files (no store involved). ``symbols`` (optional) selects pairs and names
    the pair of a file whose name does not say it; without it every pair with candles is used.
    Files inside the vault are refused unless ``allow_vault`` (only the ``evaluate --vault`` path sets it)."""
    timeframe_ms(timeframe)
    if not allow_vault:
        refuse_vault_paths([Path(p) for p in (*datafiles, *mark_files, *funding_files)], "--datafile")
    config = validation or ValidationConfig()
    parts: dict[tuple[Symbol, DataKind], list[MarketFrame]] = {}
    out = LoadedData([])
    for paths, kind in ((datafiles, None), (mark_files, DataKind.MARK), (funding_files, DataKind.FUNDING)):
        for path in paths:
            frames = _read(Path(path), kind, symbols, timeframe)
            for mf in frames:
                if mf.kind not in (*_CANDLE_KINDS, DataKind.MARK, DataKind.FUNDING):
                    raise UsageError(
                        f"{path}: holds {mf.kind.value} data; a backtest reads candles, mark or funding files"
                    )
                gaps = _validate(mf, config)
                if gaps:
                    out.notes.append(f"{path}: {gaps} gap(s) in the bars (stepped over, never filled)")
                k = DataKind.FUTURES if mf.kind in _CANDLE_KINDS else mf.kind
                parts.setdefault((mf.symbol, k), []).append(mf)
            out.sources.append(str(path))
    with_candles = sorted({s for s, k in parts if k is DataKind.FUTURES})
    if not with_candles:
        raise UsageError("no candle data among the --datafile files (mark or funding alone cannot be traded)")
    chosen = list(symbols) or with_candles
    for sym in chosen:
        if (sym, DataKind.FUTURES) not in parts:
            raise UsageError(
                f"no candles of {sym} in the data files (they hold: {', '.join(map(str, with_candles))})"
            )
        candles = _series(parts[(sym, DataKind.FUTURES)], timeframe, timerange, f"{sym} candles")
        if candles.empty:
            raise _no_bars(sym, timeframe, timerange, "in the data files")
        mark = None
        if (sym, DataKind.MARK) in parts:
            mark_parts = parts[(sym, DataKind.MARK)]
            src_tf = mark_parts[0].timeframe
            if src_tf == timeframe or can_resample(src_tf, timeframe):
                mark = _series(mark_parts, timeframe, timerange, f"{sym} mark")
            else:
                out.notes.append(f"{sym}: mark-price bars are {src_tf}, coarser than {timeframe}: not used")
        funding = None
        if (sym, DataKind.FUNDING) in parts:
            # not cut to the timerange: build_market charges only settlements that fall on a bar
            funding = _join(parts[(sym, DataKind.FUNDING)], f"{sym} funding")
        out.markets.append(_market(PairFrames(sym, candles, mark, funding), timeframe))
    return out


def _series(parts: list[MarketFrame], timeframe: str, timerange: TimeRange, what: str) -> pd.DataFrame:
    tfs = {p.timeframe for p in parts}
    if len(tfs) > 1:
        raise UsageError(
            f"{what}: files of different timeframes ({', '.join(sorted(tfs))}): give one timeframe"
        )
    df = _join(parts, what)
    df = df[timerange.contains(df["ts"].to_numpy(np.int64))].reset_index(drop=True)
    return resample_candles(df, parts[0].timeframe, timeframe, timerange)
