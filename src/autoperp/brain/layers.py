"""Transformer building blocks shared by the HRM and its flat ablation (DESIGN.md §4).

Post-norm blocks (``x = RMSNorm(x + Attn(x)); x = RMSNorm(x + MLP(x))``) with rotary attention through
``F.scaled_dot_product_attention`` and a SwiGLU MLP. Attention is non-causal: every token of the
sequence is known at decision time, so there is no future to hide inside one sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autoperp.core.errors import ConfigError

__all__ = ["Attention", "BlockStack", "PostNormBlock", "RotaryEmbedding", "SwiGLU", "apply_rotary"]


class RotaryEmbedding(nn.Module):
    """Precomputed rotary cos/sin tables for positions ``0..max_tokens-1``.

    The tables are non-persistent buffers: they follow ``.to(device)`` but are not saved in state dicts
    (they are a pure function of the shape and ``base``).
    """

    cos: torch.Tensor
    sin: torch.Tensor

    def __init__(self, head_dim: int, max_tokens: int, base: float = 10_000.0) -> None:
        super().__init__()
        if head_dim % 2 != 0:
            raise ConfigError(f"brain/layers.py: rotary head_dim must be even, got {head_dim}")
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(max_tokens, dtype=torch.float32), inv_freq)
        self.max_tokens = max_tokens
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)`` of shape (seq_len, head_dim / 2)."""
        if seq_len > self.max_tokens:
            raise ConfigError(
                f"brain/layers.py: sequence of {seq_len} tokens exceeds max_tokens={self.max_tokens}"
            )
        return self.cos[:seq_len], self.sin[:seq_len]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the last dim of ``x`` (B, heads, S, head_dim)."""
    x1, x2 = x.chunk(2, dim=-1)
    cos = cos.to(x.dtype)
    sin = sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class SwiGLU(nn.Module):
    """SwiGLU MLP: ``down(silu(gate(x)) * up(x))`` with hidden width ``round(expansion·d·2/3)``.

    The 2/3 keeps the parameter count of a plain ``expansion``-wide MLP, as in LLaMA-style models.
    """

    def __init__(self, d_model: int, expansion: float) -> None:
        super().__init__()
        hidden = max(1, round(expansion * d_model * 2 / 3))
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        out: torch.Tensor = self.down(F.silu(gate) * up)
        return out


class Attention(nn.Module):
    """Multi-head non-causal self-attention with rotary position encoding."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if n_heads <= 0 or d_model % n_heads != 0:
            raise ConfigError(f"brain/layers.py: d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        qkv = self.qkv(x).view(b, s, 3, self.n_heads, self.head_dim)
        # rotary on q and k together, on the contiguous qkv block (the same elementwise operations as
        # apply_rotary, so bit-identical; one pass instead of two permuted copies)
        half = self.head_dim // 2
        qk = qkv[:, :, :2]
        x1, x2 = qk[..., :half], qk[..., half:]
        c = cos.to(x.dtype)[None, :, None, None, :]
        sn = sin.to(x.dtype)[None, :, None, None, :]
        qk = torch.cat((x1 * c - x2 * sn, x1 * sn + x2 * c), dim=-1).permute(2, 0, 3, 1, 4)
        v = qkv[:, :, 2].transpose(1, 2)
        y = F.scaled_dot_product_attention(qk[0], qk[1], v, is_causal=False)
        out: torch.Tensor = self.out(y.transpose(1, 2).reshape(b, s, d))
        return out


class PostNormBlock(nn.Module):
    """``x = RMSNorm(x + Attn(x)); x = RMSNorm(x + SwiGLU(x))``.

    Post-norm keeps every recurrent state on the unit-RMS scale, which is what lets the HRM apply the
    same block many times without the state growing.
    """

    def __init__(self, d_model: int, n_heads: int, expansion: float, eps: float = 1e-5) -> None:
        super().__init__()
        self.attn = Attention(d_model, n_heads)
        self.mlp = SwiGLU(d_model, expansion)
        self.norm1 = nn.RMSNorm(d_model, eps=eps)
        self.norm2 = nn.RMSNorm(d_model, eps=eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attn(x, cos, sin))
        out: torch.Tensor = self.norm2(x + self.mlp(x))
        return out


class BlockStack(nn.Module):
    """``n_layers`` post-norm blocks sharing one rotary table; maps (B, S, d) → (B, S, d)."""

    def __init__(self, d_model: int, n_heads: int, n_layers: int, expansion: float, max_tokens: int) -> None:
        super().__init__()
        if n_layers <= 0:
            raise ConfigError(f"brain/layers.py: n_layers must be positive, got {n_layers}")
        # Blocks first: they check d_model % n_heads before the rotary table needs the head width.
        self.blocks = nn.ModuleList(PostNormBlock(d_model, n_heads, expansion) for _ in range(n_layers))
        self.rotary = RotaryEmbedding(d_model // n_heads, max_tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cos, sin = self.rotary(x.shape[1])
        for block in self.blocks:
            x = block(x, cos, sin)
        return x
