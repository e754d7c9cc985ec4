"""Encoders and observations (DESIGN.md §4): shapes, causality of the price tokens, absent embedding."""

from __future__ import annotations

import pytest
import torch

from autoperp.brain.encoders import (
    AbsentEmbedding,
    AltEncoder,
    ChartEncoder,
    FlowEncoder,
    PriceEncoder,
    SentimentEncoder,
)
from autoperp.brain.observation import Observation
from autoperp.core.errors import ConfigError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_price_encoder_tokens_and_causality() -> None:
    enc = PriceEncoder("fast", 5, 16, window=12, n_recent=3).eval()
    x = torch.randn(2, 12, 5, generator=gen())
    out = enc(x, torch.randn(2, 5, generator=gen(1)))
    assert out.shape == (2, 4, 16)
    # Recent token k is the projection of row L - n_recent + k only: changing an older row leaves it alone.
    y = x.clone()
    y[:, 9] += 10.0
    out2 = enc(y, None)
    out1 = enc(x, None)
    assert torch.allclose(out1[:, 2:], out2[:, 2:])
    assert not torch.allclose(out1[:, 1], out2[:, 1])


@pytest.mark.parametrize("mode", ["zira", "gfnet", "mlp", "identity"])
def test_price_encoder_modes(mode: str) -> None:
    enc = PriceEncoder("slow", 4, 8, window=16, mode=mode)  # type: ignore[arg-type]
    assert enc(torch.randn(3, 16, 4, generator=gen()), None).shape == (3, 1, 8)


def test_price_encoder_rejects_wrong_window() -> None:
    enc = PriceEncoder("day", 4, 8, window=16)
    with pytest.raises(ConfigError, match="'day'"):
        enc(torch.randn(3, 15, 4))


def test_vector_chart_sentiment_shapes() -> None:
    assert FlowEncoder(6, 16)(torch.randn(2, 6)).shape == (2, 1, 16)
    assert AltEncoder(4, 16)(torch.randn(2, 4)).shape == (2, 1, 16)
    assert SentimentEncoder(3, 16)(torch.randn(2, 3)).shape == (2, 1, 16)
    chart = ChartEncoder(16, (4, 8))
    assert chart(torch.rand(2, 1, 64, 60)).shape == (2, 1, 16)
    convs = [m for m in chart.features if isinstance(m, torch.nn.Conv2d)]
    assert all(c.kernel_size == (5, 3) for c in convs)
    with pytest.raises(ConfigError, match="'flow'"):
        FlowEncoder(6, 16)(torch.randn(2, 5))
    with pytest.raises(ConfigError, match="'chart'"):
        chart(torch.rand(2, 1, 32, 60))


def test_absent_embedding_replaces_rows() -> None:
    absent = AbsentEmbedding(2, 8)
    tokens = torch.randn(3, 2, 8)
    present = torch.tensor([True, False, True])
    out = absent(tokens, present)
    assert torch.equal(out[0], tokens[0]) and torch.equal(out[2], tokens[2])
    assert torch.equal(out[1], absent.weight.detach())
    assert not torch.all(absent.weight == 0)  # never zero-filled
    assert absent(None, present).shape == (3, 2, 8)


def test_observation_checks_name_the_field() -> None:
    regime = torch.randn(2, 5)
    with pytest.raises(ConfigError, match="'fast'"):
        Observation(regime=regime, fast=torch.randn(3, 10, 5))
    with pytest.raises(ConfigError, match="'chart'"):
        Observation(regime=regime, chart=torch.rand(2, 64, 60))
    with pytest.raises(ConfigError, match="presence"):
        Observation(regime=regime, presence={"flow": torch.ones(2)})
    with pytest.raises(ConfigError, match="unknown modality"):
        Observation(regime=regime, presence={"news": torch.ones(2, dtype=torch.bool)})
    obs = Observation(regime=regime, flow=torch.randn(2, 6), presence={"flow": torch.tensor([True, False])})
    assert obs.present("flow").tolist() == [True, False]
    assert obs.present("chart").tolist() == [False, False]
    assert obs.row(1).batch == 1 and obs.row(1).present("flow").tolist() == [False]
