"""News sentiment: VADER lexicon scores extended with crypto slang, and their causal per-bar aggregate.

``score_headlines`` gives each headline VADER's compound score in [-1, 1]. ``per_bar_sentiment`` turns
timestamped scores into a per-bar series that a strategy may read at each bar's close:

* a headline published at ``p`` (ms) is known at the close of the bar that contains ``p``, i.e. it
  counts from the first bar ``i`` with ``bar_ts[i] + bar_ms > p`` (a headline published exactly at a
  bar's close belongs to the next bar; one published in a data gap, to the first bar after it);
  headlines after the last bar's close are not known yet and are dropped;
* sentiment at bar ``i`` is the exponentially decayed mean of the scores known by then, with weight
  ``0.5 ** (age_in_bars / halflife_bars)``; it is 0 (neutral) before the first headline.

Sentence embeddings (``embed_headlines``) need the optional ``embeddings`` extra.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

from autoperp.core.errors import DataError

#: Crypto terms and their VADER valence (VADER's scale: -4 extremely negative .. +4 extremely positive;
#: its general-English lexicon rates e.g. "good" 1.9, "great" 3.1, "bad" -2.5, "scam" -2.7, "fraud" -2.8).
#: Multi-word entries are matched as phrases (case-insensitive) before VADER tokenises the text.
CRYPTO_LEXICON: dict[str, float] = {
    # price going up strongly ("to the moon"); as positive as "great" in crypto headlines
    "moon": 2.5,
    "mooning": 2.8,
    # "wrecked": a leveraged loss; about as bad as "bad"
    "rekt": -2.5,
    # a rug pull is the developers absconding with funds: on a par with "scam"/"fraud"
    "rug": -2.5,
    "rug pull": -3.0,
    "rugpull": -3.0,
    # in crypto headlines "pump" means a sharp price rise (mildly positive; often speculative), but
    # "pump and dump" is market manipulation
    "pump": 1.2,
    "pumps": 1.2,
    "pump and dump": -2.7,
    # "dump" is already -1.6 in VADER; a crypto dump is a heavy sell-off, slightly worse
    "dump": -1.9,
    "dumps": -1.9,
    # holding through volatility: mild conviction, mildly positive
    "hodl": 1.0,
    # directional market views: clearly positive / negative but not extreme (like "good"/"bad")
    "bullish": 2.0,
    "bearish": -2.0,
    # forced closes of leveraged positions: losses
    "liquidated": -2.2,
    "liquidation": -1.8,
    "liquidations": -1.8,
    # a hack or exploit means stolen funds ("hacked" is -1.7 and "exploit" -0.4 in VADER, which reads the
    # latter as neutral "make use of"); in crypto news both are close to "scam"
    "hack": -2.5,
    "hacked": -2.5,
    "exploit": -2.3,
    "exploited": -2.3,
    # an all-time high: a strong positive price event
    "ath": 2.3,
    "all-time high": 2.3,
    "all time high": 2.3,
    # FUD (fear, uncertainty, doubt) is -1.1 in VADER; the sentiment it labels is negative, a bit more so
    "fud": -1.5,
    # spot ETF approval has been the biggest positive institutional catalyst; rejection the reverse
    "etf approval": 2.8,
    "etf approved": 2.8,
    "etf rejection": -2.5,
    "etf rejected": -2.5,
}


def _token(phrase: str) -> str:
    # VADER splits on whitespace and strips edge punctuation; an underscore-joined phrase survives both
    return phrase.replace(" ", "_").replace("-", "_")


_PHRASES = sorted((k for k in CRYPTO_LEXICON if " " in k or "-" in k), key=len, reverse=True)
_PHRASE_RE = re.compile(
    r"\b(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in _PHRASES) + r")\b", re.IGNORECASE
)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    # the lexicon dict is per instance, so this never alters another user's analyzer
    sia.lexicon.update({_token(k): v for k, v in CRYPTO_LEXICON.items()})
    return sia


def _join_phrases(text: str) -> str:
    return _PHRASE_RE.sub(lambda m: _token(" ".join(m.group(0).lower().split())), text)


def score_headlines(titles: Sequence[str] | np.ndarray) -> np.ndarray:
    """VADER compound score in [-1, 1] of each headline (crypto lexicon included); '' or None score 0."""
    sia = _analyzer()
    out = np.zeros(len(titles), dtype=np.float64)
    for i, t in enumerate(titles):
        if t is None or (isinstance(t, float) and not np.isfinite(t)):
            continue
        out[i] = sia.polarity_scores(_join_phrases(str(t)))["compound"]
    return out


@njit(cache=False, nogil=True)
def _decay(sums: np.ndarray, counts: np.ndarray, d: float) -> np.ndarray:  # pragma: no cover - numba
    out = np.zeros(sums.shape[0])
    s = 0.0
    w = 0.0
    for i in range(sums.shape[0]):
        s = s * d + sums[i]
        w = w * d + counts[i]
        if w > 0.0:
            out[i] = s / w
    return out


def per_bar_sentiment(
    bar_ts: np.ndarray,
    news_ts: np.ndarray,
    scores: np.ndarray,
    halflife_bars: float,
    bar_ms: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Causal per-bar sentiment: ``(decayed mean score in [-1, 1], headlines that became known in the bar)``.

    ``bar_ts``: bar open times (ms UTC, strictly increasing); ``news_ts``: publication times (ms UTC, any
    order); ``scores``: one per headline; ``halflife_bars``: decay half-life in bars (> 0); ``bar_ms``:
    bar length in ms, by default the smallest step between consecutive bars. See the module docstring.
    """
    ts = np.asarray(bar_ts, dtype=np.int64)
    p = np.asarray(news_ts, dtype=np.int64)
    sc = np.asarray(scores, dtype=np.float64)
    if ts.ndim != 1 or ts.shape[0] == 0:
        raise DataError("need a 1-D, non-empty array of bar open times (ms)", field="bar_ts")
    steps = np.diff(ts)
    if (steps <= 0).any():
        row = int(np.argmax(steps <= 0)) + 2
        raise DataError("bar open times must be strictly increasing", row=row, field="bar_ts")
    if bar_ms is None:
        if steps.size == 0:
            raise DataError("cannot infer bar_ms from one bar: pass bar_ms", field="bar_ms")
        bar_ms = int(steps.min())
    if bar_ms <= 0:
        raise DataError(f"bar length must be > 0 ms, got {bar_ms}", field="bar_ms")
    if p.shape != sc.shape or p.ndim != 1:
        raise DataError(
            f"news_ts {p.shape} and scores {sc.shape} must be 1-D of equal length", field="scores"
        )
    bad = ~np.isfinite(sc) | (np.abs(sc) > 1.0)
    if bad.any():
        row = int(np.argmax(bad)) + 1
        raise DataError(f"score must be finite and in [-1, 1], got {sc[row - 1]}", row=row, field="scores")
    if not halflife_bars > 0:
        raise DataError(f"half-life must be > 0 bars, got {halflife_bars}", field="halflife_bars")
    n = ts.shape[0]
    idx = np.searchsorted(ts + bar_ms, p, side="right")
    known = idx < n
    count = np.bincount(idx[known], minlength=n).astype(np.int64)
    sums = np.bincount(idx[known], weights=sc[known], minlength=n)
    sentiment = _decay(sums, count.astype(np.float64), float(0.5 ** (1.0 / halflife_bars)))
    return sentiment, count


def embed_headlines(
    titles: Sequence[str], model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
) -> np.ndarray:
    """Sentence embeddings ``(len(titles), dim)`` float32 via sentence-transformers (the ``embeddings`` extra).

    The model is fetched by sentence-transformers on first use (network, then its local cache).
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ImportError(
            "headline embeddings need the optional 'embeddings' extra (sentence-transformers): "
            "pip install -e .[embeddings]"
        ) from err
    model = SentenceTransformer(model_name)
    return np.asarray(model.encode(list(titles), convert_to_numpy=True), dtype=np.float32)
