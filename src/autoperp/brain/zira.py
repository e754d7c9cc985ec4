"""The ZIRA block (Zira spectral-resonance block), exactly as DESIGN.md §4.

For a window X in R^{L x d} ending at decision time t and a regime vector v_t:

    X^ = rFFT(X) over time                                   (L//2 + 1 bins, d channels)
    g  = 2 * sigmoid(W_g v_t + b_g)                          one gain per dyadic band, W_g = 0, b_g = 0 at init
    m_j ~ Bernoulli(p) / p in training, >= 1 band kept;      m = 1 in eval
    Y  = irFFT(X^ * W * sum_j 1[f in B_j] g_j m_j, n=L)
    Z  = RMSNorm(X + Linear(Y))

and only Z at the last position is read out: the FFT mixes the whole window, so every earlier position of Z
depends on later inputs (see :meth:`ZiraBlock.sequence`, for tests only).

Parts and their switches (for ablation, DESIGN.md §6 / issue 5):

- ``use_bands``: dyadic bands B_0..B_J (the fractal part); off -> one band holding every bin, so gains and
  dropout act on the whole spectrum at once (dropout then never drops: one band is always kept).
- ``use_gains``: regime-conditioned band gains (the resonance part); off -> g = 1, no gain network.
- ``use_dropout``: band dropout (the probabilistic part); off -> m = 1 also in training.
- ``mode``: ``"zira"`` the block above; ``"gfnet"`` the plain GFNet global filter (g = 1, m = 1 whatever the
  switches say), Z = RMSNorm(X + Linear(irFFT(X^ * W))); ``"mlp"`` a position-wise MLP with the same residual
  and norm, Z = RMSNorm(X + Linear(GELU(Linear(X)))), no mixing over time; ``"identity"`` Z = X, no
  parameters (the readout is the last input row unchanged).

Initialisation: the filter W is GFNet's (real and imaginary parts ~ N(0, 0.02^2)), the output Linear has
PyTorch's default weights and a zero bias, so ``Linear(Y)`` is a few percent of X and Z ~ RMSNorm(X): the block
starts identity-like, yet gradients reach W, the gain network and the output Linear from the first step
(a zero output Linear would cut them off).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from autoperp.brain.bands import band_membership, n_rfft_bins
from autoperp.core.errors import UsageError

#: The default regime vector v_t, in this order (DESIGN.md §4).
REGIME_FEATURES: tuple[str, ...] = ("rv_short", "rv_medium", "rv_long", "hurst", "funding_z")

#: Standard deviation of the real and imaginary parts of the initial filter (GFNet's 0.02).
FILTER_INIT_STD = 0.02

#: RMSNorm epsilon: keeps an all-zero window finite.
RMS_EPS = 1e-6

ZiraMode = Literal["zira", "gfnet", "identity", "mlp"]


class ZiraConfig(BaseModel):
    """Shape and switches of one ZIRA block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_model: int = Field(ge=1, description="channels d of the window")
    window: int = Field(ge=2, description="window length L in time steps")
    n_regime: int = Field(
        default=len(REGIME_FEATURES),
        ge=1,
        description="length of the regime vector v_t (realised vol x3, Hurst, funding z by default)",
    )
    keep_prob: float = Field(default=0.9, gt=0.0, le=1.0, description="band keep probability p (fraction)")
    use_bands: bool = True
    use_gains: bool = True
    use_dropout: bool = True
    mode: ZiraMode = "zira"
    mlp_hidden_mult: int = Field(default=2, ge=1, description="hidden width of mode 'mlp', in units of d")


class ZiraBlock(nn.Module):
    """One ZIRA block. ``forward`` returns the last-position readout, shape ``(B, d)``."""

    membership: torch.Tensor

    def __init__(self, config: ZiraConfig) -> None:
        super().__init__()
        self.config = config
        d, n_bins = config.d_model, n_rfft_bins(config.window)
        self.n_bins = n_bins
        membership = band_membership(n_bins) if config.use_bands else torch.ones(n_bins, 1)
        # (n_bins, n_bands): a buffer so it follows .to(device) and is saved with the state dict.
        self.register_buffer("membership", membership, persistent=False)
        self.n_bands = int(membership.shape[1])

        self.filter: nn.Parameter | None = None
        self.out: nn.Linear | None = None
        self.gain: nn.Linear | None = None
        self.mlp: nn.Sequential | None = None
        self.norm: nn.RMSNorm | None = None
        if config.mode in ("zira", "gfnet"):
            # Stored as real (n_bins, d, 2): optimisers, quantisation and state dicts handle real tensors.
            self.filter = nn.Parameter(torch.randn(n_bins, d, 2) * FILTER_INIT_STD)
            self.out = nn.Linear(d, d)
            nn.init.zeros_(self.out.bias)
            self.norm = nn.RMSNorm(d, eps=RMS_EPS)
        if config.mode == "zira" and config.use_gains:
            self.gain = nn.Linear(config.n_regime, self.n_bands)
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.gain.bias)
        if config.mode == "mlp":
            hidden = config.mlp_hidden_mult * d
            last = nn.Linear(hidden, d)
            nn.init.zeros_(last.bias)
            self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), last)
            self.norm = nn.RMSNorm(d, eps=RMS_EPS)

    # -- parts -------------------------------------------------------------------------------------------

    def band_gains(self, regime: torch.Tensor | None, batch: int, like: torch.Tensor) -> torch.Tensor:
        """Gains g, shape ``(B, n_bands)``: ``2 * sigmoid(W_g v + b_g)``, or 1 when gains are off.

        ``regime=None`` means v = 0, so g = ``2 * sigmoid(b_g)`` (exactly 1 at init).
        """
        if self.gain is None:
            return torch.ones(batch, self.n_bands, dtype=like.dtype, device=like.device)
        if regime is None:
            logits = self.gain.bias.to(like.dtype).expand(batch, self.n_bands)
        else:
            logits = self.gain(regime.to(self.gain.weight.dtype)).to(like.dtype)
        return 2.0 * torch.sigmoid(logits)

    def band_mask(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        """Band dropout mask m, shape ``(B, n_bands)``: each band kept with probability p and scaled by 1/p.

        When a row drops every band, one band chosen uniformly is kept (also scaled by 1/p). Returns ones in
        eval mode, with dropout switched off, outside mode ``"zira"``, or when p = 1. Uses torch's global RNG,
        so ``torch.manual_seed`` makes it reproducible.
        """
        p = self.config.keep_prob
        ones = torch.ones(batch, self.n_bands, dtype=like.dtype, device=like.device)
        if not self.training or not self.config.use_dropout or self.config.mode != "zira" or p >= 1.0:
            return ones
        kept = torch.rand(batch, self.n_bands, device=like.device) < p
        none_kept = ~kept.any(dim=1)
        if bool(none_kept.any()):
            rescue = torch.randint(self.n_bands, (batch,), device=like.device)
            forced = nn.functional.one_hot(rescue, self.n_bands).bool() & none_kept[:, None]
            kept = kept | forced
        return kept.to(like.dtype) / p

    def _spectral(self, x: torch.Tensor, regime: torch.Tensor | None) -> torch.Tensor:
        """Y = irFFT(X^ * W * sum_j 1[f in B_j] g_j m_j), shape ``(B, L, d)``."""
        assert self.filter is not None  # mode zira/gfnet built it
        # FFTs in half precision need power-of-two lengths; compute in float32 at least.
        work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        batch, length = work.shape[0], work.shape[1]
        spectrum = torch.fft.rfft(work, dim=1)  # (B, n_bins, d)
        weight = torch.view_as_complex(self.filter.to(work.dtype).contiguous())  # (n_bins, d)
        spectrum = spectrum * weight
        if self.config.mode == "zira":
            per_band = self.band_gains(regime, batch, work) * self.band_mask(batch, work)  # (B, n_bands)
            per_bin = per_band @ self.membership.to(work.dtype).T  # (B, n_bins)
            spectrum = spectrum * per_bin[:, :, None]
        y: torch.Tensor = torch.fft.irfft(spectrum, n=length, dim=1)
        return y.to(x.dtype)

    def _check(self, x: torch.Tensor, regime: torch.Tensor | None) -> None:
        cfg = self.config
        if x.dim() != 3 or x.shape[1] != cfg.window or x.shape[2] != cfg.d_model:
            raise UsageError(
                f"brain/zira.py: field 'x': expected shape (B, {cfg.window}, {cfg.d_model}), "
                f"got {tuple(x.shape)}"
            )
        if regime is not None and (regime.dim() != 2 or tuple(regime.shape) != (x.shape[0], cfg.n_regime)):
            raise UsageError(
                f"brain/zira.py: field 'regime': expected shape ({x.shape[0]}, {cfg.n_regime}), "
                f"got {tuple(regime.shape)}"
            )

    # -- outputs -----------------------------------------------------------------------------------------

    def sequence(self, x: torch.Tensor, regime: torch.Tensor | None = None) -> torch.Tensor:
        """The full Z, shape ``(B, L, d)``. NOT CAUSAL: in modes zira/gfnet every position depends on the
        whole window, later rows included. For tests and diagnostics only; models read :meth:`forward`.
        """
        self._check(x, regime)
        mode = self.config.mode
        if mode == "identity":
            return x
        assert self.norm is not None
        if mode == "mlp":
            assert self.mlp is not None
            z: torch.Tensor = self.norm(x + self.mlp(x))
            return z
        assert self.out is not None
        z = self.norm(x + self.out(self._spectral(x, regime)))
        return z

    def forward(self, x: torch.Tensor, regime: torch.Tensor | None = None) -> torch.Tensor:
        """Readout at the last position of windows ending at decision time.

        ``x``: ``(B, L, d)``, oldest row first, the last row at decision time t (build it with
        :func:`autoperp.brain.windows.windows_ending_at`). ``regime``: ``(B, n_regime)`` or None (v = 0).
        Returns ``(B, d)``.
        """
        return self.sequence(x, regime)[:, -1, :]
