"""Higher-timeframe candles aggregated in DuckDB from a finer stored timeframe."""

from __future__ import annotations

from autoperp.core.time import MS_PER_DAY
from autoperp.core.timeframes import timeframe_ms

# Binance weeks open on Monday 00:00 UTC; the epoch was a Thursday.
_WEEK_OFFSET_MS = 4 * MS_PER_DAY

_SUMS = ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume")


def resample_sql(columns: tuple[str, ...], source_tf: str, target_tf: str) -> str:
    """SQL over a relation named ``src`` (columns as stored) giving complete ``target_tf`` buckets.

    Parameters ``$start`` and ``$end`` (ms, half-open) bound the source bars, so a bucket that straddles
    either end is incomplete. The store holds no duplicate bars, so a bucket is complete when it holds every ``source_tf`` bar; incomplete buckets are left out, so a
    resampled 1h bar is exactly what the exchange would have published.
    """
    step, src = timeframe_ms(target_tf), timeframe_ms(source_tf)
    ratio = step // src
    off = _WEEK_OFFSET_MS if target_tf == "1w" else 0
    bucket = f"((ts - {off}) // {step}) * {step} + {off}"
    sel = [
        f"{bucket} AS ts",
        "arg_min(open, ts) AS open",
        "max(high) AS high",
        "min(low) AS low",
        "arg_max(close, ts) AS close",
    ]
    sel += [f"sum({c}) AS {c}" for c in _SUMS if c in columns]
    if "trades" in columns:
        sel.append("CAST(sum(trades) AS BIGINT) AS trades")
    return (
        f"SELECT {', '.join(sel)} FROM src "
        f"WHERE ts >= $start AND ts < $end "
        f"GROUP BY 1 HAVING count(*) = {ratio} ORDER BY 1"
    )
