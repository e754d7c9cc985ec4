"""Headline sentiment: the crypto lexicon, causal per-bar aggregation, the embeddings extra, real news."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.core.errors import DataError
from autoperp.features.sentiment import (
    CRYPTO_LEXICON,
    embed_headlines,
    per_bar_sentiment,
    score_headlines,
)

vader = pytest.importorskip("vaderSentiment.vaderSentiment", reason="vaderSentiment is not installed")

MIN = 60_000


@pytest.mark.parametrize(
    ("headline", "sign"),
    [
        ("Bitcoin to the moon", 1),
        ("Traders get rekt", -1),
        ("Rug pull hits token holders", -1),
        ("Token pump continues", 1),
        ("Pump and dump scheme exposed", -1),
        ("HODL through the winter", 1),
        ("Analysts turn bullish", 1),
        ("Analysts turn bearish", -1),
        ("Longs liquidated overnight", -1),
        ("Exchange hack drains wallets", -1),
        ("Protocol exploit drains pool", -1),
        ("Bitcoin hits new ATH", 1),
        ("Ether at an all-time high", 1),
        ("FUD spreads after tweet", -1),
        ("SEC ETF approval expected", 1),
    ],
)
def test_crypto_terms_move_scores_in_the_documented_direction(headline: str, sign: int) -> None:
    plain = vader.SentimentIntensityAnalyzer().polarity_scores(headline)["compound"]
    ours = float(score_headlines([headline])[0])
    assert np.sign(ours) == sign
    assert sign * (ours - plain) > 0, f"{headline!r}: plain VADER {plain}, with crypto lexicon {ours}"


def test_lexicon_valences_on_vader_scale_and_plain_text_unchanged() -> None:
    assert all(-4.0 <= v <= 4.0 and v != 0 for v in CRYPTO_LEXICON.values())
    text = "Markets are calm and the outlook is good"
    plain = vader.SentimentIntensityAnalyzer().polarity_scores(text)["compound"]
    assert score_headlines([text])[0] == pytest.approx(plain)
    np.testing.assert_array_equal(score_headlines(["", None]), [0.0, 0.0])  # type: ignore[list-item]


def test_headline_counts_from_the_bar_that_contains_it() -> None:
    bars = np.arange(10) * MIN
    # inside bar 2; exactly at bar 4's close (so bar 5); before the first bar; after the last close
    news = np.array([2 * MIN + 1, 5 * MIN, -7, 10 * MIN])
    scores = np.array([0.8, -0.4, 0.2, 1.0])
    sent, count = per_bar_sentiment(bars, news, scores, halflife_bars=1.0)
    np.testing.assert_array_equal(count, [1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    assert sent[0] == pytest.approx(0.2)
    assert sent[1] == pytest.approx(0.2)  # one headline: the decayed mean is its score
    # bar 2: 0.2 aged two bars (weight 1/4) and 0.8 fresh
    assert sent[2] == pytest.approx((0.2 * 0.25 + 0.8) / 1.25)
    assert sent[5] == pytest.approx((0.2 / 32 + 0.8 / 8 - 0.4) / (1 / 32 + 1 / 8 + 1))


def test_per_bar_sentiment_is_causal() -> None:
    rng = np.random.default_rng(0)
    bars = np.arange(200) * MIN
    news = rng.integers(0, 200 * MIN, 80)
    scores = rng.uniform(-1, 1, 80)
    base, base_n = per_bar_sentiment(bars, news, scores, halflife_bars=5.0, bar_ms=MIN)
    t = 120
    late = news >= (t + 1) * MIN  # published after bar t's close
    scores2 = scores.copy()
    scores2[late] = rng.uniform(-1, 1, late.sum())
    news2 = news.copy()
    news2[late] = rng.integers((t + 1) * MIN, 400 * MIN, late.sum())
    sent, n = per_bar_sentiment(bars, news2, scores2, halflife_bars=5.0, bar_ms=MIN)
    np.testing.assert_array_equal(sent[: t + 1], base[: t + 1])
    np.testing.assert_array_equal(n[: t + 1], base_n[: t + 1])
    # truncating the bars changes nothing either
    sent3, _ = per_bar_sentiment(bars[: t + 1], news, scores, halflife_bars=5.0, bar_ms=MIN)
    np.testing.assert_array_equal(sent3, base[: t + 1])
    assert np.abs(base).max() <= 1.0


def test_bad_input_raises_named_errors() -> None:
    bars = np.arange(5) * MIN
    with pytest.raises(DataError, match="field 'scores'"):
        per_bar_sentiment(bars, np.array([1]), np.array([1.5]), 2.0)
    with pytest.raises(DataError, match="row 3: field 'bar_ts'"):
        per_bar_sentiment(np.array([0, MIN, MIN]), np.array([1]), np.array([0.5]), 2.0)
    with pytest.raises(DataError, match="halflife_bars"):
        per_bar_sentiment(bars, np.array([1]), np.array([0.5]), 0.0)


def test_embeddings_without_the_extra_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"'embeddings' extra.*pip install -e \.\[embeddings\]"):
        embed_headlines(["Bitcoin rallies"])


@pytest.mark.real_data
def test_real_newsapi_headlines(real_dir: Path) -> None:
    files = sorted((real_dir / "news_newsapi_sample").glob("*.csv.gz"))
    if not files:
        pytest.skip("no NewsAPI sample under news_newsapi_sample")
    df = pd.read_csv(files[0])
    scores = score_headlines(df["title"].tolist())
    assert scores.shape == (len(df),) and len(df) >= 50
    assert np.isfinite(scores).all() and (np.abs(scores) <= 1.0).all()
    assert (scores > 0.05).any() and (scores < -0.05).any()
    published = pd.to_datetime(df["publishedAt"], utc=True).astype("int64").to_numpy() // 1_000_000
    start = published.min() // MIN * MIN
    bars = np.arange(start, published.max() + MIN, MIN)
    sent, count = per_bar_sentiment(bars, published, scores, halflife_bars=30.0)
    assert count.sum() == len(df)
    assert (np.abs(sent) <= 1.0).all()
    first = int(np.argmax(count > 0))
    assert (sent[:first] == 0).all()
