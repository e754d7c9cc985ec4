"""Binance USD-M websocket capture (hftbacktest collector): ``<local receive ns> <json>`` per line.

The JSON is a combined-stream payload ``{"stream": ..., "data": ...}`` of ``depthUpdate`` (U/u/pu ids,
``b``/``a`` level lists), ``bookTicker`` or ``trade`` events, or the REST depth snapshot
``{"lastUpdateId", "E", "T", "bids", "asks"}``, which the collector writes *after* the first diffs.

Times: exchange times only (trade/bookTicker ``T`` = matching-engine time, depthUpdate ``E`` = event
time), in ms. The local receive stamp is not used: the collector's clock is offset from the exchange's
(the offset is reported in the notes).

The book is rebuilt the Binance way: diffs are buffered, the snapshot is applied, diffs with
``u < lastUpdateId`` are dropped, the first applied diff must satisfy ``U <= lastUpdateId <= u``, and
every later diff must have ``pu`` equal to the previous diff's ``u``. A break raises
:class:`FormatError` naming the line: the real captures have none, so a break means a damaged file,
not something to paper over. Book snapshots are taken on a grid of ``snapshot_interval_ms`` (multiples
of it since the epoch): the snapshot at grid time t holds every diff with ``E <= t``; the first is the
first grid time at or after the first applied diff, the last at or before the last diff.

Speed: lines are classified with numpy over the raw bytes (no per-line Python), each event type is
parsed in one ``pyarrow.json`` pass, and level lists are flattened into float arrays; only the book
replay itself walks the diff levels (dict updates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.book import ASK, BID, L2Book, SnapshotRecorder, first_grid_at_or_after
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.json_lines import (
    LEVELS,
    LevelLists,
    Lines,
    bytes_at,
    first_in_window,
    floats,
    gather,
    ints,
    level_lists,
    locate_bad_json,
    parse_object,
    read_json_lines,
    require,
    split_lines,
    window,
)
from autoperp.data.readers.json_lines import field as struct_field
from autoperp.data.readers.naming import symbol_from_exchange_id
from autoperp.data.schema import MarketFrame

# line classes
_OTHER, _TICKER, _TRADE, _DEPTH, _SNAPSHOT = 0, 1, 2, 3, 4

_TICKER_SCHEMA = pa.schema(
    [
        ("stream", pa.string()),
        (
            "data",
            pa.struct(
                [
                    ("s", pa.string()),
                    ("u", pa.int64()),
                    ("b", pa.string()),
                    ("B", pa.string()),
                    ("a", pa.string()),
                    ("A", pa.string()),
                    ("T", pa.int64()),
                    ("E", pa.int64()),
                ]
            ),
        ),
    ]
)
_TRADE_SCHEMA = pa.schema(
    [
        ("stream", pa.string()),
        (
            "data",
            pa.struct(
                [
                    ("s", pa.string()),
                    ("t", pa.int64()),
                    ("p", pa.string()),
                    ("q", pa.string()),
                    ("m", pa.bool_()),
                    ("T", pa.int64()),
                    ("E", pa.int64()),
                ]
            ),
        ),
    ]
)
_DEPTH_SCHEMA = pa.schema(
    [
        ("stream", pa.string()),
        (
            "data",
            pa.struct(
                [
                    ("e", pa.string()),
                    ("s", pa.string()),
                    ("E", pa.int64()),
                    ("U", pa.int64()),
                    ("u", pa.int64()),
                    ("pu", pa.int64()),
                    ("b", LEVELS),
                    ("a", LEVELS),
                ]
            ),
        ),
    ]
)


@dataclass
class DepthDiffs:
    """All depthUpdate events in line order; level k of event i lies in ``offsets[i]:offsets[i+1]``."""

    line: np.ndarray  # 1-based line numbers
    first_id: np.ndarray  # U
    last_id: np.ndarray  # u
    prev_last_id: np.ndarray  # pu
    event_ms: np.ndarray  # E
    bids: LevelLists
    asks: LevelLists

    def __len__(self) -> int:
        return len(self.line)


@dataclass
class DepthSnapshot:
    """The REST /fapi/v1/depth response found in the capture (levels as [price, qty] strings)."""

    line: int
    last_update_id: int
    event_ms: int
    bids: list[list[str]]
    asks: list[list[str]]


@dataclass
class WsCapture:
    """Everything parsed from a capture, in line order; ``line`` arrays hold 1-based line numbers."""

    source: str
    exchange_ids: list[str]
    ticker: dict[str, np.ndarray]  # ts (T), bid, bid_qty, ask, ask_qty, update_id (u), event_ms (E), line
    trades: dict[str, np.ndarray]  # ts (T), price, qty, is_buyer_maker, id, event_ms (E), line
    diffs: DepthDiffs | None
    snapshots: list[DepthSnapshot]
    clock_offset_ms: float | None
    ignored_streams: dict[str, int] = field(default_factory=dict)


@dataclass
class BookRebuild:
    """Snapshots of the rebuilt book and, per snapshot, the id ``u`` of the last diff applied."""

    recorder: SnapshotRecorder
    update_ids: list[int]
    dropped_before_snapshot: int
    applied: int
    notes: list[str]


def parse_ws_capture(data: bytes, source: str) -> WsCapture:
    """Split a capture into ticker/trade arrays, depth diffs and REST snapshots (no book work)."""
    lines = split_lines(data, source)
    classes, json_start = _classify(lines, source)
    ticker = _read_ticker(lines, np.flatnonzero(classes == _TICKER), json_start, source)
    trades = _read_trades(lines, np.flatnonzero(classes == _TRADE), json_start, source)
    depth_idx = np.flatnonzero(classes == _DEPTH)
    diffs, depth_symbols = _read_depth(lines, depth_idx, json_start, source) if len(depth_idx) else (None, [])
    snapshots: list[DepthSnapshot] = []
    ignored: dict[str, int] = {}
    for i in np.flatnonzero((classes == _SNAPSHOT) | (classes == _OTHER)):  # few lines: one by one
        line_no = int(i) + 1
        obj = parse_object(lines.line(int(i))[int(json_start[i] - lines.starts[i]) :], line_no, source)
        if "lastUpdateId" in obj:
            snapshots.append(_snapshot(obj, line_no, source))
            continue
        name = str(obj.get("stream") or obj.get("e") or "unknown")
        stream = name.split("@", 1)[1] if "@" in name else name
        ignored[stream] = ignored.get(stream, 0) + 1
    symbols = set(ticker.pop("symbol").tolist()) | set(trades.pop("symbol").tolist()) | set(depth_symbols)
    symbols.discard("")
    return WsCapture(
        source=source,
        exchange_ids=sorted(symbols),
        ticker=ticker,
        trades=trades,
        diffs=diffs,
        snapshots=snapshots,
        clock_offset_ms=_clock_offset(lines, ticker, json_start),
        ignored_streams=ignored,
    )


def rebuild_book(capture: WsCapture, *, interval_ms: int, depth: int | None) -> BookRebuild:
    """Replay the diffs on the first REST snapshot the Binance way; record grid snapshots (see module doc)."""
    source = capture.source
    diffs = capture.diffs
    if diffs is None or not len(diffs):
        raise FormatError("the capture has no depthUpdate lines: no book to rebuild", path=source)
    if not capture.snapshots:
        raise FormatError(
            "the capture has depth diffs but no REST depth snapshot ({lastUpdateId, bids, asks}) to start "
            "the book from: pass kind=trades or kind=quotes to read the other streams",
            path=source,
        )
    snap = capture.snapshots[0]
    book = L2Book()
    try:
        book.apply(BID, snap.bids)
        book.apply(ASK, snap.asks)
    except (TypeError, ValueError):
        raise FormatError(
            "a snapshot level is not a [price, qty] pair of numbers", path=source, row=snap.line
        ) from None

    lid = snap.last_update_id
    keep = diffs.last_id >= lid
    if not keep.any():
        raise FormatError(
            f"no depth diff reaches the snapshot's lastUpdateId={lid}: the book cannot be rebuilt",
            path=source,
            row=snap.line,
        )
    start = int(np.argmax(keep))  # diffs before it are dropped (u < lastUpdateId)
    if diffs.first_id[start] > lid:
        raise FormatError(
            f"first depth diff after the snapshot starts at U={diffs.first_id[start]}, beyond the snapshot's "
            f"lastUpdateId={lid}: updates in between are missing, the book cannot be rebuilt",
            path=source,
            row=int(diffs.line[start]),
        )
    broken = np.flatnonzero(diffs.prev_last_id[start + 1 :] != diffs.last_id[start:-1])
    if len(broken):
        k = start + 1 + int(broken[0])
        raise FormatError(
            f"depth diff sequence broken: pu={diffs.prev_last_id[k]} but the previous diff ended at "
            f"u={diffs.last_id[k - 1]}; the capture lost updates here, the book cannot be rebuilt past it",
            path=source,
            row=int(diffs.line[k]),
        )

    recorder = SnapshotRecorder(depth)
    update_ids: list[int] = []
    bo, bp, bq = diffs.bids.offsets.tolist(), diffs.bids.price.tolist(), diffs.bids.qty.tolist()
    ao, ap, aq = diffs.asks.offsets.tolist(), diffs.asks.price.tolist(), diffs.asks.qty.tolist()
    event_ms = diffs.event_ms.tolist()
    last_id = diffs.last_id.tolist()
    bids, asks = book.bids, book.asks
    next_grid = first_grid_at_or_after(event_ms[start], interval_ms)
    for k in range(start, len(event_ms)):
        e = event_ms[k]
        while next_grid < e and k > start:
            recorder.record(next_grid, book)
            update_ids.append(last_id[k - 1])
            next_grid += interval_ms
        for side, lo, hi, prices, qtys in (
            (bids, bo[k], bo[k + 1], bp, bq),
            (asks, ao[k], ao[k + 1], ap, aq),
        ):
            for j in range(lo, hi):
                if qtys[j] == 0.0:
                    side.pop(prices[j], None)
                else:
                    side[prices[j]] = qtys[j]
    last_e = max(event_ms[start:])
    while next_grid <= last_e:
        recorder.record(next_grid, book)
        update_ids.append(last_id[-1])
        next_grid += interval_ms
    applied = len(event_ms) - start
    notes = [
        f"book rebuilt from the REST snapshot on line {snap.line} (lastUpdateId={lid}) and {applied} depth "
        f"diffs ({start} older diffs dropped); no sequence breaks",
        f"book snapshots every {interval_ms} ms on the epoch grid, top {depth or 'all'} levels per side; "
        "the snapshot at t holds every diff with event time E <= t; rows are derived, not source lines",
    ]
    if len(capture.snapshots) > 1:
        notes.append(f"{len(capture.snapshots) - 1} later REST snapshot(s) not needed (no sequence break)")
    return BookRebuild(recorder, update_ids, start, applied, notes)


def read_ws_capture(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """Capture bytes -> [BOOK, TRADES, QUOTES] MarketFrames (or the one kind asked for with ``kind=``)."""
    allowed = (DataKind.BOOK, DataKind.TRADES, DataKind.QUOTES)
    kinds = [ctx.kind(allowed)] if ctx.options.kind is not None else list(allowed)
    capture = parse_ws_capture(data, ctx.source)
    if len(capture.exchange_ids) > 1:
        raise FormatError(
            f"the capture mixes several symbols ({', '.join(capture.exchange_ids)}); split it per symbol",
            path=ctx.source,
        )
    content_symbol = (
        symbol_from_exchange_id(capture.exchange_ids[0], spot=bool(ctx.name.spot))
        if capture.exchange_ids
        else None
    )
    symbol = ctx.symbol(content_symbol)
    exchange = ctx.exchange()
    common = ["exchange times used (trade/bookTicker T, depthUpdate E); the local receive stamp is ignored"]
    if capture.clock_offset_ms is not None:
        common.append(
            f"collector clock: local receive stamp minus exchange E is {capture.clock_offset_ms:+.0f} ms "
            "(median over the first bookTicker lines)"
        )
    if capture.ignored_streams:
        common.append(f"streams not read: {capture.ignored_streams}")
    frames: list[MarketFrame] = []
    if DataKind.BOOK in kinds:
        rebuild = rebuild_book(capture, interval_ms=ctx.options.snapshot_interval_ms, depth=ctx.options.depth)
        if len(rebuild.recorder) == 0:
            raise FormatError(
                "the capture's depth stream is shorter than one snapshot interval: pass a smaller "
                "snapshot_interval_ms",
                path=ctx.source,
            )
        frames.append(
            ctx.frame(
                DataKind.BOOK,
                rebuild.recorder.columns(),
                symbol=symbol,
                exchange=exchange,
                notes=[*common, *rebuild.notes],
            )
        )
    row_note = "row i of this frame comes from the i-th {} line of the capture (other lines interleave)"
    if DataKind.TRADES in kinds and len(capture.trades["ts"]):
        cols = {k: capture.trades[k] for k in ("ts", "price", "qty", "is_buyer_maker", "id")}
        frames.append(
            ctx.frame(
                DataKind.TRADES,
                cols,
                symbol=symbol,
                exchange=exchange,
                notes=[*common, row_note.format("trade"), "ts = trade time T; is_buyer_maker from 'm'"],
            )
        )
    if DataKind.QUOTES in kinds and len(capture.ticker["ts"]):
        cols = {k: capture.ticker[k] for k in ("ts", "bid", "bid_qty", "ask", "ask_qty")}
        frames.append(
            ctx.frame(
                DataKind.QUOTES,
                cols,
                symbol=symbol,
                exchange=exchange,
                notes=[*common, row_note.format("bookTicker"), "ts = bookTicker transaction time T"],
            )
        )
    if not frames:
        wanted = ", ".join(k.value for k in kinds)
        raise FormatError(f"the capture holds no {wanted} events", path=ctx.source)
    return frames


# -- parsing helpers ----------------------------------------------------------------------------------


def _classify(lines: Lines, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(class per line, offset of its JSON) from a few bytes of each line, vectorised."""
    buf, starts, ends = lines.buf, lines.starts, lines.ends
    prefix = window(buf, starts, 40)
    space = first_in_window(buf, starts, b" ", 40, ends)
    width = space - starts
    non_digit = ((prefix < 48) | (prefix > 57)) & (np.arange(40) < width[:, None])
    bad = (width <= 0) | non_digit.any(axis=1)
    if bad.any():
        raise FormatError(
            "expected '<local receive ns> <json>' (hftbacktest capture line)",
            path=source,
            row=int(np.flatnonzero(bad)[0]) + 1,
        )
    json_start = space + 1
    classes = np.full(len(starts), _OTHER, dtype=np.int8)
    stream = bytes_at(buf, json_start, b'{"stream":"', ends)
    at = first_in_window(buf, json_start + 11, b"@", 64, ends)
    at_ok = stream & (at > 0)
    after = np.where(at_ok, at + 1, json_start)
    classes[at_ok & bytes_at(buf, after, b'bookTicker"', ends)] = _TICKER
    classes[at_ok & bytes_at(buf, after, b'trade"', ends)] = _TRADE
    classes[at_ok & bytes_at(buf, after, b"depth", ends)] = _DEPTH
    classes[bytes_at(buf, json_start, b'{"lastUpdateId"', ends)] = _SNAPSHOT
    return classes, json_start


def _table(
    lines: Lines, idx: np.ndarray, json_start: np.ndarray, schema: pa.Schema, source: str, what: str
) -> pa.ChunkedArray:
    blob = gather(lines, idx, json_start)
    try:
        table = read_json_lines(blob, schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        locate_bad_json(lines, idx, json_start, source, what)
    data = table.column("data")
    require(data.combine_chunks(), "data", idx + 1, source, what)
    return data


def _read_ticker(lines: Lines, idx: np.ndarray, json_start: np.ndarray, source: str) -> dict[str, np.ndarray]:
    if not len(idx):
        out = {k: np.zeros(0, np.float64) for k in ("bid", "bid_qty", "ask", "ask_qty")}
        out.update({k: np.zeros(0, np.int64) for k in ("ts", "update_id", "event_ms", "line")})
        out["symbol"] = np.zeros(0, dtype=object)
        return out
    what = "bookTicker event"
    data = _table(lines, idx, json_start, _TICKER_SCHEMA, source, what)
    rows = idx + 1
    return {
        "ts": ints(struct_field(data, "T"), "T", rows, source, what),
        "bid": floats(struct_field(data, "b"), "b", rows, source, what),
        "bid_qty": floats(struct_field(data, "B"), "B", rows, source, what),
        "ask": floats(struct_field(data, "a"), "a", rows, source, what),
        "ask_qty": floats(struct_field(data, "A"), "A", rows, source, what),
        "update_id": ints(struct_field(data, "u"), "u", rows, source, what),
        "event_ms": ints(struct_field(data, "E"), "E", rows, source, what),
        "line": rows.astype(np.int64),
        "symbol": _unique_strings(struct_field(data, "s")),
    }


def _read_trades(lines: Lines, idx: np.ndarray, json_start: np.ndarray, source: str) -> dict[str, np.ndarray]:
    if not len(idx):
        out = {k: np.zeros(0, np.float64) for k in ("price", "qty")}
        out.update({k: np.zeros(0, np.int64) for k in ("ts", "id", "event_ms", "line")})
        out["is_buyer_maker"] = np.zeros(0, dtype=bool)
        out["symbol"] = np.zeros(0, dtype=object)
        return out
    what = "trade event"
    data = _table(lines, idx, json_start, _TRADE_SCHEMA, source, what)
    rows = idx + 1
    maker = require(struct_field(data, "m"), "m", rows, source, what)
    return {
        "ts": ints(struct_field(data, "T"), "T", rows, source, what),
        "price": floats(struct_field(data, "p"), "p", rows, source, what),
        "qty": floats(struct_field(data, "q"), "q", rows, source, what),
        "is_buyer_maker": np.asarray(maker.to_numpy(zero_copy_only=False), dtype=bool),
        "id": ints(struct_field(data, "t"), "t", rows, source, what),
        "event_ms": ints(struct_field(data, "E"), "E", rows, source, what),
        "line": rows.astype(np.int64),
        "symbol": _unique_strings(struct_field(data, "s")),
    }


def _read_depth(
    lines: Lines, idx: np.ndarray, json_start: np.ndarray, source: str
) -> tuple[DepthDiffs, list[str]]:
    what = "depthUpdate event"
    data = _table(lines, idx, json_start, _DEPTH_SCHEMA, source, what)
    rows = idx + 1
    diffs = DepthDiffs(
        line=rows.astype(np.int64),
        first_id=ints(struct_field(data, "U"), "U", rows, source, what),
        last_id=ints(struct_field(data, "u"), "u", rows, source, what),
        prev_last_id=ints(struct_field(data, "pu"), "pu", rows, source, what),
        event_ms=ints(struct_field(data, "E"), "E", rows, source, what),
        bids=level_lists(struct_field(data, "b"), "b", rows, source, what),
        asks=level_lists(struct_field(data, "a"), "a", rows, source, what),
    )
    return diffs, _unique_strings(struct_field(data, "s")).tolist()


def _unique_strings(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null("").unique().to_pylist(), dtype=object)


def _int(obj: dict[str, Any], key: str, line_no: int, source: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"missing or non-integer '{key}' ({value!r})", path=source, row=line_no, field=key)
    return value


def _snapshot(obj: dict[str, Any], line_no: int, source: str) -> DepthSnapshot:
    levels = {}
    for key in ("bids", "asks"):
        value = obj.get(key)
        if not isinstance(value, list):
            raise FormatError(f"snapshot without a '{key}' list", path=source, row=line_no, field=key)
        levels[key] = value
    return DepthSnapshot(
        line=line_no,
        last_update_id=_int(obj, "lastUpdateId", line_no, source),
        event_ms=_int(obj, "E", line_no, source),
        bids=levels["bids"],
        asks=levels["asks"],
    )


def _clock_offset(lines: Lines, ticker: dict[str, np.ndarray], json_start: np.ndarray) -> float | None:
    """Median (local receive ms - exchange E) over the first 2000 bookTicker lines."""
    n = min(2000, len(ticker["line"]))
    if n == 0:
        return None
    rows = ticker["line"][:n] - 1
    local_ns = np.array([int(lines.line(int(i))[: int(json_start[i] - lines.starts[i]) - 1]) for i in rows])
    return float(np.median(local_ns // 1_000_000 - ticker["event_ms"][:n]))
