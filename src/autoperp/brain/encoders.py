"""Per-modality encoders: each turns one :class:`~autoperp.brain.observation.Observation` field into tokens
of width ``d_model`` for the policy's token sequence (DESIGN.md §4).

* :class:`PriceEncoder`: per-position input projection, then a :class:`ZiraBlock` read out at the last
  position (one token per timescale), plus optionally the projections of the last ``n_recent`` rows as
  extra tokens. Both are causal: the ZIRA readout is the only position-mixing step and it is taken at the
  decision row; the projections are position-wise, so row t - k depends on row t - k alone.
  The readout is computed without materialising the window's spectrum: see :meth:`PriceEncoder.readout`.
* :class:`VectorEncoder`: an MLP over a feature vector (order flow, alternative data, the account) → one
  token.
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

#: Dtypes the folded ZIRA readout handles; half precision takes the block's own FFT path (float32 FFTs).
_FOLDED_DTYPES = (torch.float32, torch.float64)

__all__ = [
    "AbsentEmbedding",
    "AccountEncoder",
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
        # Folded kernel reused by calls without autograd while its parameters are unchanged (see readout).
        self._kernel_cache: tuple[tuple[object, ...], torch.Tensor, torch.Tensor] | None = None

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
        n_regime = self.zira.config.n_regime
        if regime is not None and tuple(regime.shape) != (x.shape[0], n_regime):
            raise ConfigError(
                f"brain/encoders.py: field 'regime' must be ({x.shape[0]}, {n_regime}), got {tuple(regime.shape)}"
            )
        readout = self.readout(x, regime)[:, None, :]
        if self.n_recent == 0:
            return readout
        # Position-wise projection of the last rows only: equal to slicing the full projection.
        return torch.cat((readout, self.proj(x[:, -self.n_recent :, :])), dim=1)

    def readout(self, x: torch.Tensor, regime: torch.Tensor | None) -> torch.Tensor:
        """``zira(proj(x), regime)`` (B, d) at the last position, without the full (B, L, d) sequence.

        * ``"identity"`` / ``"mlp"`` are position-wise: only the last row is projected and transformed.
        * ``"zira"`` / ``"gfnet"``: the last row of irFFT(rFFT(h)·W·gain) is linear in the window, so with
          h = proj(x) it equals ``Σ_j g_j · (x.flatten(1) @ K_j)`` for a kernel K (L·F, bands·d) built from
          the filter, the projection and the FFT bases (:meth:`_spectral_kernel`). One GEMM replaces the
          projection of all L rows, two FFTs, the output Linear over L rows and an L-row RMSNorm; results
          equal the FFT path to float rounding (~1e-7 relative in float32, tested).
        """
        z = self.zira
        mode = z.config.mode
        last: torch.Tensor = self.proj(x[:, -1, :])  # (B, d)
        if mode == "identity":
            return last
        if mode == "mlp":
            assert z.mlp is not None and z.norm is not None
            out: torch.Tensor = z.norm(last + z.mlp(last))
            return out
        if x.dtype not in _FOLDED_DTYPES or type(self.proj) is not nn.Linear:
            # Half precision (the block computes its FFTs in float32) or a quantised projection (no float
            # weight to fold): the block's own path.
            full: torch.Tensor = z(self.proj(x), regime)
            return full
        assert z.out is not None and z.norm is not None
        batch = x.shape[0]
        kernel, bias = self._kernel(x.dtype)  # (L·F, J·d), (J, d)
        n_bands = bias.shape[0]
        per_band_y = (x.reshape(batch, -1) @ kernel).view(batch, n_bands, -1) + bias  # (B, J, d)
        if mode == "zira":
            gains = z.band_gains(regime, batch, x) * z.band_mask(batch, x)  # (B, J), same RNG draws
            y = torch.bmm(gains[:, None, :], per_band_y)[:, 0, :]
        else:
            y = per_band_y[:, 0, :]
        out = z.norm(last + z.out(y))
        return out

    def _kernel(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_spectral_kernel`, cached while autograd is off (rollouts, live decisions).

        The cache key holds each parameter's version counter and storage address, which every in-place
        update (optimiser step, ``load_state_dict``) or re-assignment changes, so a stale kernel is never
        used; with autograd on the kernel is rebuilt so gradients reach the parameters.
        """
        if torch.is_grad_enabled():
            return self._spectral_kernel(dtype)
        z = self.zira
        assert z.filter is not None
        params = (z.filter, self.proj.weight, self.proj.bias)
        key = (dtype, *((p._version, p.data_ptr(), p.device) for p in params))
        cache = self._kernel_cache
        if cache is None or cache[0] != key:
            kernel, bias = self._spectral_kernel(dtype)
            cache = (key, kernel, bias)
            self._kernel_cache = cache
        return cache[1], cache[2]

    def _spectral_kernel(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel K (L·F, J·d) and bias (J, d) of the last-position ZIRA output before its Linear.

        y_last[c] = Σ_k g_k (α_k Re(S_k W_kc) + β_k Im(S_k W_kc)), S = rFFT(h) over time, where α, β are
        irFFT's weights of bin k at the last sample (taken from ``torch.fft`` itself on unit vectors, so
        the DC and Nyquist conventions match exactly). Writing S_k = Σ_t h_t F_k(t) gives a per-(k, t, c)
        weight M; summing M over the bins of each band and multiplying in proj's weight gives K. Built
        from parameters at every call (cheap: independent of the batch), so gradients reach the filter
        and the projection.
        """
        z = self.zira
        assert z.filter is not None
        length = self.window
        bases = _fft_bases(length, dtype, self.proj.weight.device)
        rfft_basis, alpha, beta = bases  # (L, K) complex, (K,), (K,)
        weight = torch.view_as_complex(z.filter.to(dtype).contiguous())  # (K, d)
        fw = rfft_basis.T[:, :, None] * weight[:, None, :]  # (K, L, d): F_k(t) W_kc
        m = alpha[:, None, None] * fw.real + beta[:, None, None] * fw.imag  # (K, L, d)
        if z.config.mode == "zira":
            membership = z.membership.to(dtype)  # (K, J)
        else:
            membership = torch.ones(m.shape[0], 1, dtype=dtype, device=m.device)
        per_band = torch.einsum("kj,ktc->jtc", membership, m)  # (J, L, d)
        w = self.proj.weight.to(dtype)  # (d, F)
        kernel = torch.einsum("jtc,cf->tfjc", per_band, w).reshape(length * self.n_features, -1)
        bias = per_band.sum(1) * self.proj.bias.to(dtype)  # (J, d)
        return kernel, bias


_BASES: dict[tuple[int, torch.dtype, torch.device], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _fft_bases(
    length: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """rFFT of each unit impulse (L, K), and irFFT's real/imaginary weights of bin k at sample L-1.

    Cached per (length, dtype, device): pure constants, computed by ``torch.fft`` once — as normal tensors
    even when the first call runs under ``torch.inference_mode`` (an inference tensor cannot enter a later
    autograd graph).
    """
    key = (length, dtype, device)
    cached = _BASES.get(key)
    if cached is None:
        with torch.inference_mode(False), torch.no_grad():
            eye = torch.eye(length, dtype=dtype, device=device)
            basis = torch.fft.rfft(eye, dim=1)  # row t: spectrum of the impulse at t
            n_bins = basis.shape[1]
            unit = torch.eye(n_bins, dtype=dtype, device=device).to(basis.dtype)
            alpha = torch.fft.irfft(unit, n=length, dim=1)[:, -1].contiguous()
            beta = torch.fft.irfft(unit * 1j, n=length, dim=1)[:, -1].contiguous()
        cached = (basis, alpha, beta)
        _BASES[key] = cached
    return cached


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


class AccountEncoder(VectorEncoder):
    """The trader's account (exposure / max leverage, unrealised PnL / equity, margin ratio, time to
    funding) → one token."""

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__("account", n_features, d_model)


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
