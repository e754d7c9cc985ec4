"""Per-modality encoders: each turns one :class:`~autoperp.brain.observation.Observation` field into tokens
of width ``d_model`` for the policy's token sequence (DESIGN.md §4).

* :class:`PriceEncoder`: per-position input projection, then a :class:`ZiraBlock` read out at the last
  position (one token per timescale), plus optionally the projections of the last ``n_recent`` rows as
  extra tokens. Both are causal: the ZIRA readout is the only position-mixing step and it is taken at the
  decision row; the projections are position-wise, so row t - k depends on row t - k alone.
* :class:`VectorEncoder`: an MLP over a feature vector (order flow, alternative data) → one token.
* :class:`ChartEncoder`: a small CNN after Jiang, Kelly & Xiu ("(Re-)Imag(in)ing Price Trends"): blocks of
  5×3 convolution, LeakyReLU and 2×2 max-pool, then a linear map → one token.
* :class:`SentimentEncoder`: a linear projection of sentiment features → one token.
* :class:`AbsentEmbedding`: the learned token used where a modality is absent or switched off.
"""

from __future__ import annotations

import torch
from torch import nn

from autoperp.brain.zira import ZiraBlock, ZiraConfig, ZiraMode
from autoperp.core.errors import ConfigError

__all__ = [
    "AbsentEmbedding",
    "AltEncoder",
    "ChartEncoder",
    "FlowEncoder",
    "PriceEncoder",
    "SentimentEncoder",
    "TokenTypeEmbedding",
    "VectorEncoder",
]

#: Negative slope of the chart CNN's LeakyReLU (Jiang, Kelly & Xiu use 0.01).
LEAKY_SLOPE = 0.01


def _check_last(x: torch.Tensor, name: str, expected: int) -> None:
    if x.shape[-1] != expected:
        raise ConfigError(
            f"brain/encoders.py: field '{name}' has {x.shape[-1]} features, the policy expects {expected}"
        )


class PriceEncoder(nn.Module):
    """Window (B, L, F) → tokens (B, 1 + n_recent, d): the ZIRA readout, then the last rows' projections."""

    def __init__(
        self,
        name: str,
        n_features: int,
        d_model: int,
        window: int,
        mode: ZiraMode = "zira",
        n_regime: int = 5,
        n_recent: int = 0,
    ) -> None:
        super().__init__()
        if n_recent < 0 or n_recent > window:
            raise ConfigError(f"brain/encoders.py: n_recent={n_recent} must be in [0, window={window}]")
        self.name = name
        self.n_features = n_features
        self.window = window
        self.n_recent = n_recent
        self.proj = nn.Linear(n_features, d_model)
        self.zira = ZiraBlock(ZiraConfig(d_model=d_model, window=window, n_regime=n_regime, mode=mode))

    @property
    def n_tokens(self) -> int:
        return 1 + self.n_recent

    def forward(self, x: torch.Tensor, regime: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.window:
            raise ConfigError(
                f"brain/encoders.py: field '{self.name}' must be (B, {self.window}, {self.n_features}), "
                f"got {tuple(x.shape)}"
            )
        _check_last(x, self.name, self.n_features)
        h = self.proj(x)
        readout: torch.Tensor = self.zira(h, regime)[:, None, :]
        if self.n_recent == 0:
            return readout
        return torch.cat((readout, h[:, -self.n_recent :, :]), dim=1)


class VectorEncoder(nn.Module):
    """Feature vector (B, F) → one token (B, 1, d) through ``Linear → GELU → Linear``."""

    def __init__(self, name: str, n_features: int, d_model: int, hidden: int | None = None) -> None:
        super().__init__()
        self.name = name
        self.n_features = n_features
        width = hidden if hidden is not None else d_model
        self.net = nn.Sequential(nn.Linear(n_features, width), nn.GELU(), nn.Linear(width, d_model))

    n_tokens = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_last(x, self.name, self.n_features)
        out: torch.Tensor = self.net(x)[:, None, :]
        return out


class FlowEncoder(VectorEncoder):
    """Order flow (taker-buy share, signed volume, trade counts, book imbalance, spread) → one token."""

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__("flow", n_features, d_model)


class AltEncoder(VectorEncoder):
    """Alternative data (funding, mark/index basis, open interest) → one token."""

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__("alt", n_features, d_model)


class SentimentEncoder(nn.Module):
    """Sentiment features (B, F) → one token (B, 1, d) by a linear projection."""

    n_tokens = 1

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        self.n_features = n_features
        self.proj = nn.Linear(n_features, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_last(x, "sentiment", self.n_features)
        out: torch.Tensor = self.proj(x)[:, None, :]
        return out


class ChartEncoder(nn.Module):
    """Chart images (B, 1, H, W) → one token (B, 1, d).

    Each block is ``Conv2d(5×3, padding 2×1) → LeakyReLU(0.01) → MaxPool(2×2)`` as in Jiang, Kelly & Xiu
    (their pool is 2×1 and their widths 64/128/256; both are smaller here so a batch-1 decision stays in
    the millisecond range on CPU). Batch norm is left out so a decision does not depend on its batch.
    """

    n_tokens = 1

    def __init__(
        self, d_model: int, channels: tuple[int, ...] = (8, 16, 32), height: int = 64, width: int = 60
    ):
        super().__init__()
        if not channels:
            raise ConfigError("brain/encoders.py: chart channels must not be empty")
        self.height, self.width = height, width
        layers: list[nn.Module] = []
        c_in, h, w = 1, height, width
        for c_out in channels:
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size=(5, 3), padding=(2, 1)),
                nn.LeakyReLU(LEAKY_SLOPE),
                nn.MaxPool2d(2),
            ]
            c_in, h, w = c_out, h // 2, w // 2
        if h < 1 or w < 1:
            raise ConfigError(
                f"brain/encoders.py: {len(channels)} chart blocks pool a {height}×{width} image away"
            )
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * h * w, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, self.height, self.width):
            raise ConfigError(
                f"brain/encoders.py: field 'chart' must be (B, 1, {self.height}, {self.width}), got {tuple(x.shape)}"
            )
        out: torch.Tensor = self.head(self.features(x).flatten(1))[:, None, :]
        return out


class AbsentEmbedding(nn.Module):
    """Learned tokens (n_tokens, d) that replace a modality's tokens in rows where it is absent."""

    def __init__(self, n_tokens: int, d_model: int) -> None:
        super().__init__()
        # On the scale of the encoders' outputs at init, so "absent" starts as a distinct point, not zero.
        self.weight = nn.Parameter(torch.randn(n_tokens, d_model) * 0.5)
        self.n_tokens = n_tokens

    def forward(self, tokens: torch.Tensor | None, present: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, n, d) or None (absent everywhere); ``present`` (B,) bool → (B, n, d)."""
        batch = present.shape[0]
        absent = self.weight[None].expand(batch, -1, -1)
        if tokens is None:
            return absent
        # torch.where, not a blend: an absent row's input values cannot leak into its tokens.
        return torch.where(present[:, None, None], tokens, absent.to(tokens.dtype))


class TokenTypeEmbedding(nn.Module):
    """One learned vector per token type, added to each token of the sequence."""

    def __init__(self, n_types: int, d_model: int) -> None:
        super().__init__()
        self.table = nn.Embedding(n_types, d_model)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, tokens: torch.Tensor, type_ids: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, S, d) + embedding of ``type_ids`` (S,)."""
        out: torch.Tensor = tokens + self.table(type_ids)[None]
        return out
