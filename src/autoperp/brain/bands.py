"""Dyadic frequency bands over rFFT bins: the self-similar scales of the ZIRA block (DESIGN.md §4).

A window of length L has ``L // 2 + 1`` rFFT bins. Bin 0 (the window mean) is band B_0; bin f >= 1 lies in
band ``floor(log2 f) + 1``, so the bands are {0}, [1, 2), [2, 4), [4, 8), ... — each band spans an octave,
the same relative width at every scale.
"""

from __future__ import annotations

import torch

from autoperp.core.errors import UsageError


def n_rfft_bins(window: int) -> int:
    """Number of rFFT bins of a real signal of ``window`` samples."""
    if window < 1:
        raise UsageError(f"brain/bands.py: field 'window': must be >= 1, got {window}")
    return window // 2 + 1


def dyadic_band_index(n_bins: int) -> torch.Tensor:
    """Band number of each rFFT bin, shape ``(n_bins,)``, dtype int64.

    Bin 0 -> 0; bin f >= 1 -> ``floor(log2 f) + 1``.
    """
    if n_bins < 1:
        raise UsageError(f"brain/bands.py: field 'n_bins': must be >= 1, got {n_bins}")
    bins = torch.arange(n_bins, dtype=torch.int64)
    # int.bit_length(f) == floor(log2 f) + 1 for f >= 1 and 0 for f == 0: exactly the band number,
    # computed in integers so no float rounding can misplace a power of two.
    return torch.tensor([int(f).bit_length() for f in bins.tolist()], dtype=torch.int64)


def n_dyadic_bands(n_bins: int) -> int:
    """Number of dyadic bands J + 1 covering ``n_bins`` rFFT bins."""
    return int(dyadic_band_index(n_bins).max().item()) + 1


def band_membership(n_bins: int) -> torch.Tensor:
    """One-hot membership ``1[f in B_j]``, shape ``(n_bins, n_bands)``, dtype float32.

    Each row has exactly one 1: the bands partition the bins.
    """
    index = dyadic_band_index(n_bins)
    return torch.nn.functional.one_hot(index, num_classes=int(index.max().item()) + 1).to(torch.float32)
