"""NewsAPI-style headline CSV -> news kind (symbol MARKET_WIDE, exchange 'news').

Columns: an unnamed index, ``source`` (a Python dict printed as text, ``{'id': ..., 'name': ...}``; its
``name`` is kept), ``author, title, description, url, urlToImage, publishedAt`` (ISO-8601 UTC),
``content``. Rows are kept as they are, duplicates included (validation decides).
"""

from __future__ import annotations

import io

import pandas as pd

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers.context import ReadContext
from autoperp.data.readers.timestamps import strings_to_ms
from autoperp.data.schema import MARKET_WIDE, MarketFrame

NEWS_HEADER: tuple[str, ...] = ("source", "author", "title", "description", "url", "publishedAt")
_NAME_RE = r"""['"]name['"]\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")"""


def is_news_header(fields: list[str]) -> bool:
    """True when the header has the NewsAPI article fields."""
    return all(c in fields for c in NEWS_HEADER)


def read_news_csv(data: bytes, ctx: ReadContext) -> list[MarketFrame]:
    """Headline CSV bytes -> one news MarketFrame (ts ms, source, title, description, url, author)."""
    src = ctx.source
    ctx.kind([DataKind.NEWS], default=DataKind.NEWS)
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"cannot parse the news CSV ({' '.join(str(exc).split())})", path=src) from None
    missing = [c for c in NEWS_HEADER if c not in df.columns]
    if missing:
        raise FormatError(f"missing column(s) {', '.join(missing)}", path=src, field=missing[0])
    if df.empty:
        raise FormatError("file has a header but no data rows", path=src)
    ts = strings_to_ms(df["publishedAt"].to_numpy(dtype=object), source=src, field="publishedAt")
    raw_source = df["source"]
    extracted = raw_source.str.extract(_NAME_RE)
    name = extracted[0].fillna(extracted[1])
    source_name = name.where(name.notna(), raw_source)
    columns = {
        "ts": ts,
        "source": pd.array(source_name.to_numpy(dtype=object), dtype="string"),
        "title": pd.array(df["title"].to_numpy(dtype=object), dtype="string"),
        "description": pd.array(df["description"].to_numpy(dtype=object), dtype="string"),
        "url": pd.array(df["url"].to_numpy(dtype=object), dtype="string"),
        "author": pd.array(df["author"].to_numpy(dtype=object), dtype="string"),
    }
    notes = ["source = the 'name' inside NewsAPI's source dict; urlToImage and content not kept"]
    dup = int(pd.Series(columns["title"]).duplicated().sum())
    if dup:
        notes.append(f"{dup} rows repeat an earlier title (kept; validation decides)")
    return [
        ctx.frame(
            DataKind.NEWS,
            columns,  # type: ignore[arg-type]
            symbol=ctx.options.symbol or MARKET_WIDE,
            exchange=ctx.options.exchange or "news",
            notes=notes,
        )
    ]
