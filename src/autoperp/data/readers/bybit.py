"""Bybit history-data order book files (``*_ob500.data``, JSON lines, usually zipped).

Each line: ``{"topic": "orderbook.500.XRPUSDT", "type": "snapshot"|"delta", "ts": ms, "data": {"s", "b",
"a", "u", "seq"}, "cts": ms}`` with ``b``/``a`` lists of ``[price, size]`` strings (size 0 deletes the
level). ``u`` increases by exactly 1 per message; a snapshot (``u`` may restart at 1) replaces the book.
A gap in ``u`` raises :class:`FormatError` naming the line. Deltas before the first snapshot cannot be
applied and are skipped (noted).

Output: BOOK snapshots of the top ``depth`` levels per side on the epoch grid of ``snapshot_interval_ms``
(state at t = every message with ``ts <= t``), from the first snapshot to the last message. ``ts``
(Bybit's system time) is used; ``cts`` (matching-engine time) is not kept.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.book import L2Book, SnapshotRecorder, first_grid_at_or_after
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.json_lines import (
    LEVELS,
    gather,
    ints,
    level_lists,
    locate_bad_json,
    read_json_lines,
    require,
    split_lines,
)
from autoperp.data.readers.json_lines import field as struct_field
from autoperp.data.readers.naming import symbol_from_exchange_id
from autoperp.data.schema import MarketFrame

_SCHEMA = pa.schema(
    [
        ("topic", pa.string()),
        ("type", pa.string()),
        ("ts", pa.int64()),
        (
            "data",
            pa.struct(
                [("s", pa.string()), ("b", LEVELS), ("a", LEVELS), ("u", pa.int64()), ("seq", pa.int64())]
            ),
        ),
    ]
)


def read_bybit_orderbook(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """Bybit orderbook JSON lines -> one BOOK MarketFrame of grid snapshots."""
    src = ctx.source
    ctx.kind([DataKind.BOOK], default=DataKind.BOOK)
    lines = split_lines(data, src)
    idx = np.arange(len(lines))
    try:
        table = read_json_lines(gather(lines, idx, lines.starts), _SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        locate_bad_json(lines, idx, lines.starts, src, "orderbook")
    rows = idx + 1
    what = "orderbook message"
    kinds = np.asarray(
        require(table.column("type").combine_chunks(), "type", rows, src, what).to_pylist(), dtype=object
    )
    bad = np.flatnonzero((kinds != "snapshot") & (kinds != "delta"))
    if len(bad):
        raise FormatError(
            f"type must be snapshot or delta, found {kinds[bad[0]]!r}",
            path=src,
            row=int(bad[0]) + 1,
            field="type",
        )
    ts = ints(table.column("ts").combine_chunks(), "ts", rows, src, what)
    payload = table.column("data")
    require(payload.combine_chunks(), "data", rows, src, what)
    update = ints(struct_field(payload, "u"), "u", rows, src, what)
    bids = level_lists(struct_field(payload, "b"), "b", rows, src, what)
    asks = level_lists(struct_field(payload, "a"), "a", rows, src, what)
    symbols = [s for s in struct_field(payload, "s").unique().to_pylist() if s]
    if len(symbols) > 1:
        raise FormatError(f"the file mixes several symbols ({', '.join(symbols[:5])})", path=src)
    spot = bool(ctx.name.spot)
    content_symbol = symbol_from_exchange_id(symbols[0], spot=spot) if symbols else None
    symbol, exchange = ctx.symbol(content_symbol), ctx.exchange("bybit")

    is_snap = kinds == "snapshot"
    if not is_snap.any():
        raise FormatError("no snapshot message: the book cannot be built from deltas alone", path=src)
    start = int(np.argmax(is_snap))
    gaps = np.flatnonzero(~is_snap[start + 1 :] & (update[start + 1 :] != update[start:-1] + 1))
    if len(gaps):
        k = start + 1 + int(gaps[0])
        raise FormatError(
            f"orderbook sequence broken: u={update[k]} after u={update[k - 1]} (expected {update[k - 1] + 1})",
            path=src,
            row=k + 1,
            field="u",
        )
    book = L2Book()
    recorder = SnapshotRecorder(ctx.options.depth)
    interval = ctx.options.snapshot_interval_ms
    bo, bp, bq = bids.offsets.tolist(), bids.price.tolist(), bids.qty.tolist()
    ao, ap, aq = asks.offsets.tolist(), asks.price.tolist(), asks.qty.tolist()
    ts_list = ts.tolist()
    next_grid = first_grid_at_or_after(ts_list[start], interval)
    for k in range(start, len(ts_list)):
        while k > start and next_grid < ts_list[k]:
            recorder.record(next_grid, book)
            next_grid += interval
        if is_snap[k]:
            book.clear()
        for levels, lo, hi, prices, qtys in (
            (book.bids, bo[k], bo[k + 1], bp, bq),
            (book.asks, ao[k], ao[k + 1], ap, aq),
        ):
            for j in range(lo, hi):
                if qtys[j] == 0.0:
                    levels.pop(prices[j], None)
                else:
                    levels[prices[j]] = qtys[j]
    last = max(ts_list[start:])
    while next_grid <= last:
        recorder.record(next_grid, book)
        next_grid += interval
    if len(recorder) == 0:
        raise FormatError(
            "the file is shorter than one snapshot interval: pass a smaller snapshot_interval_ms", path=src
        )
    notes = [
        f"book replayed from {len(ts_list) - start} messages ({int(is_snap.sum())} snapshot); grid snapshots every "
        f"{interval} ms of the top {ctx.options.depth or 'all'} levels per side; rows are derived, not source lines",
    ]
    if start:
        notes.append(f"{start} delta message(s) before the first snapshot skipped")
    return [ctx.frame(DataKind.BOOK, recorder.columns(), symbol=symbol, exchange=exchange, notes=notes)]
