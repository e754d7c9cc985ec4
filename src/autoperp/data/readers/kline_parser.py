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
_MANT_LIMIT = 10**15


@njit(cache=True, nogil=True, inline="always")
def _at(buf: np.ndarray, pos: int) -> int:
    """``buf[pos]`` without the negative-index wraparound numba adds for a signed index."""
    return buf[np.uintp(pos)]  # type: ignore[no-any-return]


@njit(cache=True, nogil=True)
def _significant(buf: np.ndarray, start: int, n_int: int, fstart: int, n_frac: int) -> int:
    """The mantissa of a number with more digits than an int64 holds (leading zeros), or -1 when it has
    more than 15 significant digits."""
    mant = 0
    for k in range(n_int + n_frac):
        p = start + k if k < n_int else fstart + k - n_int
        mant = mant * 10 + (np.int64(buf[p]) - 48)
        if mant >= _MANT_LIMIT:
            return -1
    return mant


@njit(cache=True, nogil=True)
def _parse(buf: np.ndarray, pos: int, n_rows: int, slots: np.ndarray, pow10: np.ndarray) -> tuple:
    # ``buf`` ends with b"\n", so every scan below stops at a non-digit before the end: no bounds checks
    # in the loops over digits, which are most of the work
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
            if _at(buf, pos) == 45:  # '-'
                neg = True
                pos += 1
            # digits before and after the point; leading zeros add nothing to ``mant``, so below 19 digits
            # ``mant >= 10**15`` is "more than 15 significant digits", the most that convert exactly
            mant = 0
            start = pos
            while True:
                d = np.int64(_at(buf, pos)) - 48
                if d < 0 or d > 9:
                    break
                mant = mant * 10 + d
                pos += 1
            n_int = pos - start
            frac = 0
            dot = False
            fstart = pos
            if _at(buf, pos) == 46:  # '.'
                dot = True
                pos += 1
                fstart = pos
                while True:
                    d = np.int64(_at(buf, pos)) - 48
                    if d < 0 or d > 9:
                        break
                    mant = mant * 10 + d
                    pos += 1
                frac = pos - fstart
            if n_int + frac == 0:
                return ts, trades, vals, -1  # empty field or a lone '.'
            if n_int + frac > 18:  # mant may have wrapped: count the significant digits
                mant = _significant(buf, start, n_int, fstart, frac)
                if mant < 0:
                    return ts, trades, vals, -1
            elif mant >= _MANT_LIMIT:
                return ts, trades, vals, -1
            exp = 0
            c = _at(buf, pos)
            if c == 101 or c == 69:  # 'e' / 'E'
                pos += 1
                eneg = False
                c = _at(buf, pos)
                if c == 45 or c == 43:
                    eneg = c == 45
                    pos += 1
                estart = pos
                while True:
                    c = _at(buf, pos)
                    if c < 48 or c > 57:
                        break
                    exp = exp * 10 + (np.int64(c) - 48)
                    pos += 1
                    if exp > 400:
                        return ts, trades, vals, -1
                if pos == estart:
                    return ts, trades, vals, -1
                if eneg:
                    exp = -exp
            # field terminator: ',' between fields, end of line after the last
            if field < _N_FIELDS - 1:
                if _at(buf, pos) != 44:
                    return ts, trades, vals, -1
                pos += 1
            else:
                if _at(buf, pos) == 13:
                    pos += 1
                if _at(buf, pos) != 10:
                    return ts, trades, vals, -1
                pos += 1
            if field == 0 or field == 8:
                if dot or exp != 0:
                    return ts, trades, vals, -1
                v = -mant if neg else mant
                if field == 0:
                    ts[row] = v
                else:
                    trades[row] = v
            else:
                slot = slots[field]
                if slot >= 0:
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


@njit(cache=True, nogil=True)
def _count_lines(buf: np.ndarray, pos: int) -> int:
    """Rows from ``pos`` on: newlines, plus one for a last line without one."""
    n = buf.shape[0]
    count = 0
    for i in range(pos, n):
        count += _at(buf, i) == 10  # unsigned index: the loop vectorizes (10x)
    if n > pos and buf[n - 1] != 10:
        count += 1
    return count


def parse_klines(data: bytes, *, header: bool) -> dict[str, np.ndarray] | None:
    """Canonical candle columns from archive kline CSV bytes, or None when the file needs the slow path."""
    if not data.endswith(b"\n"):
        data += b"\n"  # the parser relies on a final newline (a missing one is a row end all the same)
    buf = np.frombuffer(data, dtype=np.uint8)
    pos = 0
    if header:
        nl = data.find(b"\n")
        if nl < 0:
            return None
        pos = nl + 1
    n_rows = int(_count_lines(buf, pos))
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
