"""Binance order-book depth rows (the futures historical depth layout, as in the NautilusTrader samples).

Columns: ``symbol, timestamp`` (ms), ``first_update_id, last_update_id, side`` (b/a), ``update_type``
(``snap`` = a row of a full snapshot, ``set`` = a diff level), ``price, qty`` (qty 0 deletes), ``pu``
(previous update's last id, -1 for snapshots). Consecutive rows with the same ``last_update_id`` and
``update_type`` form one update.

The book is replayed in file order: a snapshot replaces the book; diffs must chain (``pu`` equals the
previous update's ``last_update_id``), and the first diff after a snapshot must cover it
(``first_update_id <= snapshot id``; older diffs are skipped). A break raises :class:`FormatError`
naming the row. Output: BOOK snapshots (top ``depth`` levels per side) after an update at its
timestamp, at most one per ``snapshot_interval_ms``, and always after the last update. A file of diffs
without any snapshot yields a *partial* book (only levels the diffs set), flagged in the notes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.book import ASK, BID, L2Book, SnapshotRecorder
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.csv_table import first_line, read_typed_csv, split_fields
from autoperp.data.readers.naming import symbol_from_exchange_id
from autoperp.data.schema import MarketFrame

DEPTH_COLUMNS: tuple[str, ...] = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "timestamp": pa.int64(),
    "first_update_id": pa.int64(),
    "last_update_id": pa.int64(),
    "side": pa.string(),
    "update_type": pa.string(),
    "price": pa.float64(),
    "qty": pa.float64(),
    "pu": pa.int64(),
}


def depth_header(fields: list[str], source: str) -> bool:
    """True for the depth header, False for a headerless first data row; raise for anything else."""
    if [f.lower() for f in fields] == list(DEPTH_COLUMNS):
        return True
    if len(fields) == len(DEPTH_COLUMNS) and fields[5] in ("snap", "set"):
        return False
    raise FormatError(f"unexpected depth header {fields}; expected {list(DEPTH_COLUMNS)}", path=source)


def is_depth_row_layout(fields: list[str]) -> bool:
    """True when a first line is the depth header or a depth data row."""
    return [f.lower() for f in fields] == list(DEPTH_COLUMNS) or (
        len(fields) == len(DEPTH_COLUMNS) and fields[5] in ("snap", "set")
    )


def read_depth_rows(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """Depth-row CSV bytes -> one BOOK MarketFrame of replayed snapshots."""
    src = ctx.source
    header = depth_header(split_fields(first_line(data)), src)
    ctx.kind([DataKind.BOOK], default=DataKind.BOOK)
    table = read_typed_csv(
        data,
        source=src,
        names=DEPTH_COLUMNS,
        types=_TYPES,
        header=header,
        non_null=["timestamp", "first_update_id", "last_update_id", "pu", "price", "qty"],
    )
    ts = table.column("timestamp").to_numpy()
    last_id = table.column("last_update_id").to_numpy()
    first_id = table.column("first_update_id").to_numpy()
    pu = table.column("pu").to_numpy()
    side_text = np.asarray(table.column("side").to_numpy(zero_copy_only=False), dtype=str)
    kind_text = np.asarray(table.column("update_type").to_numpy(zero_copy_only=False), dtype=str)
    side = np.where(side_text == "b", BID, np.where(side_text == "a", ASK, 0))
    bad = np.flatnonzero(side == 0)
    if len(bad):
        raise FormatError(
            f"side must be 'b' or 'a', found {side_text[bad[0]]!r}",
            path=src,
            row=int(bad[0]) + 1,
            field="side",
        )
    is_snap = kind_text == "snap"
    bad = np.flatnonzero(~is_snap & (kind_text != "set"))
    if len(bad):
        raise FormatError(
            f"update_type must be 'snap' or 'set', found {kind_text[bad[0]]!r}",
            path=src,
            row=int(bad[0]) + 1,
            field="update_type",
        )
    symbols = [s for s in table.column("symbol").unique().to_pylist() if s]
    if len(symbols) > 1:
        raise FormatError(
            f"the file mixes several symbols ({', '.join(symbols[:5])})", path=src, field="symbol"
        )
    content_symbol = symbol_from_exchange_id(symbols[0], spot=bool(ctx.name.spot)) if symbols else None
    symbol, exchange = ctx.symbol(content_symbol), ctx.exchange()

    # update boundaries: a new update starts where last_update_id or update_type changes
    change = np.flatnonzero((np.diff(last_id) != 0) | (np.diff(is_snap.astype(np.int8)) != 0)) + 1
    bounds = np.concatenate(([0], change, [len(ts)])).tolist()
    price = table.column("price").to_numpy().tolist()
    qty = table.column("qty").to_numpy().tolist()
    side_list = side.tolist()

    book = L2Book()
    recorder = SnapshotRecorder(ctx.options.depth)
    interval = ctx.options.snapshot_interval_ms
    snap_id: int | None = None
    prev_last: int | None = None
    skipped = 0
    seen_snapshot = False
    last_recorded: int | None = None
    n_updates = len(bounds) - 1
    for g in range(n_updates):
        lo, hi = bounds[g], bounds[g + 1]
        if is_snap[lo]:
            book.clear()
            snap_id = int(last_id[lo])
            prev_last = None
            seen_snapshot = True
        else:
            if snap_id is not None and prev_last is None:
                if last_id[lo] < snap_id:
                    skipped += 1
                    continue
                if first_id[lo] > snap_id:
                    raise FormatError(
                        f"first diff after the snapshot starts at first_update_id={first_id[lo]}, beyond the "
                        f"snapshot id {snap_id}: updates in between are missing",
                        path=src,
                        row=lo + 1,
                    )
            elif prev_last is not None and pu[lo] != prev_last:
                raise FormatError(
                    f"depth sequence broken: pu={pu[lo]} but the previous update ended at {prev_last}",
                    path=src,
                    row=lo + 1,
                    field="pu",
                )
            prev_last = int(last_id[lo])
        for j in range(lo, hi):
            levels = book.bids if side_list[j] == BID else book.asks
            if qty[j] == 0.0:
                levels.pop(price[j], None)
            else:
                levels[price[j]] = qty[j]
        t = int(ts[lo])
        if last_recorded is None or t >= last_recorded + interval or g == n_updates - 1:
            recorder.record(t, book)
            last_recorded = t
    notes = [
        f"book replayed from {n_updates} updates in file order; snapshots of the top "
        f"{ctx.options.depth or 'all'} levels per side after an update, at most one per {interval} ms, "
        "and after the last; rows are derived, not source rows",
    ]
    if skipped:
        notes.append(f"{skipped} diff update(s) older than the snapshot skipped")
    if not seen_snapshot:
        notes.append(
            "PARTIAL BOOK: the file has no snapshot rows, so the book holds only the levels these diffs set "
            "(read it after its snapshot to get the full book)"
        )
    for name, code in (("bid", BID), ("ask", ASK)):
        if not (side == code).any():
            notes.append(f"the file has no {name} rows: the {name} side is empty")
    if len(recorder) == 0:
        raise FormatError("no book state could be built from the rows", path=src)
    return [ctx.frame(DataKind.BOOK, recorder.columns(), symbol=symbol, exchange=exchange, notes=notes)]
