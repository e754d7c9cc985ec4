"""A numba parser for the Binance kline CSV layout: the hot path of every bulk import.

It accepts only the plain form the archive writes (12 numeric fields, decimal numbers with at most 15
significant digits, optional exponent, ``\\n`` or ``\\r\\n`` line ends) and returns ``None`` for anything
else, so the pyarrow reader (with its row/column diagnosis) handles every unusual file. Numbers parse to
the same doubles as pyarrow/strtod: a mantissa below 2**53 divided or multiplied by an exact power of ten
(≤ 1e22) is one correctly rounded IEEE operation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_N_FIELDS = 12
# field -> output slot: 0 = int ts, 1..8 = float columns, -1 = skipped; count (field 8) -> int slot
_FLOAT_SLOT = np.array([-1, 0, 1, 2, 3, 4, -1, 5, -1, 6, 7, -1], dtype=np.int64)
_POW10 = np.array([10.0**i for i in range(23)])
_MAX_EXACT = 2**53


@njit(cache=True, nogil=True)
def _parse(buf: np.ndarray, pos: int, n_rows: int, slots: np.ndarray, pow10: np.ndarray) -> tuple:
    ts = np.empty(n_rows, dtype=np.int64)
    trades = np.empty(n_rows, dtype=np.int64)
    vals = np.empty((8, n_rows), dtype=np.float64)
    n = buf.shape[0]
    row = 0
    while pos < n:
        if row >= n_rows:
            return ts, trades, vals, -1
        for field in range(_N_FIELDS):
            neg = False
            if pos < n and buf[pos] == 45:  # '-'
                neg = True
                pos += 1
            mant = 0
            digits = 0
            frac = 0
            seen_dot = False
            start = pos
            while pos < n:
                c = buf[pos]
                if 48 <= c <= 57:
                    if mant != 0 or c != 48:
                        digits += 1
                    mant = mant * 10 + (c - 48)
                    if seen_dot:
                        frac += 1
                    if digits > 15:
                        return ts, trades, vals, -1
                elif c == 46 and not seen_dot:  # '.'
                    seen_dot = True
                else:
                    break
                pos += 1
            if pos == start or (seen_dot and pos == start + 1):
                return ts, trades, vals, -1  # empty field or a lone '.'
            exp = 0
            if pos < n and (buf[pos] == 101 or buf[pos] == 69):  # 'e' / 'E'
                pos += 1
                eneg = False
                if pos < n and (buf[pos] == 45 or buf[pos] == 43):
                    eneg = buf[pos] == 45
                    pos += 1
                estart = pos
                while pos < n and 48 <= buf[pos] <= 57:
                    exp = exp * 10 + (buf[pos] - 48)
                    pos += 1
                    if exp > 400:
                        return ts, trades, vals, -1
                if pos == estart:
                    return ts, trades, vals, -1
                if eneg:
                    exp = -exp
            # field terminator: ',' between fields, end of line after the last
            if field < _N_FIELDS - 1:
                if pos >= n or buf[pos] != 44:
                    return ts, trades, vals, -1
                pos += 1
            else:
                if pos < n and buf[pos] == 13:
                    pos += 1
                if pos < n:
                    if buf[pos] != 10:
                        return ts, trades, vals, -1
                    pos += 1
            slot = slots[field]
            if field == 0 or field == 8:
                if seen_dot or exp != 0:
                    return ts, trades, vals, -1
                v = -mant if neg else mant
                if field == 0:
                    ts[row] = v
                else:
                    trades[row] = v
            elif slot >= 0:
                e10 = exp - frac
                x = float(mant)
                if e10 < 0:
                    if -e10 > 22:
                        return ts, trades, vals, -1
                    x = x / pow10[-e10]
                elif e10 > 0:
                    if e10 > 22:
                        return ts, trades, vals, -1
                    x = x * pow10[e10]
                    if mant >= _MAX_EXACT or x >= 1e300:
                        return ts, trades, vals, -1
                vals[slot, row] = -x if neg else x
        row += 1
    return ts, trades, vals, row


def parse_klines(data: bytes, *, header: bool) -> dict[str, np.ndarray] | None:
    """Canonical candle columns from archive kline CSV bytes, or None when the file needs the slow path."""
    buf = np.frombuffer(data, dtype=np.uint8)
    pos = 0
    if header:
        nl = data.find(b"\n")
        if nl < 0:
            return None
        pos = nl + 1
    body = buf[pos:]
    n_rows = int(np.count_nonzero(body == 10)) + (1 if len(body) and body[-1] != 10 else 0)
    if n_rows == 0:
        return None
    ts, trades, vals, got = _parse(buf, pos, n_rows, _FLOAT_SLOT, _POW10)
    if got != n_rows:
        return None  # a blank line, an odd field or a number this parser does not take: use pyarrow
    return {
        "ts": ts,
        "open": vals[0],
        "high": vals[1],
        "low": vals[2],
        "close": vals[3],
        "volume": vals[4],
        "quote_volume": vals[5],
        "trades": trades,
        "taker_buy_volume": vals[6],
        "taker_buy_quote_volume": vals[7],
    }
