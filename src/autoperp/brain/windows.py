"""Windows that end at decision time: the only way a brain model should see a series (DESIGN.md §4).

A ZIRA block reads out the last position of its window; a window built here for time t holds rows
``t - L + 1 .. t`` and nothing later, so the readout cannot see the future by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from autoperp.core.errors import UsageError


def windows_ending_at(series: torch.Tensor, t: int | Sequence[int], window: int) -> torch.Tensor:
    """Windows of ``window`` rows ending at (and including) row ``t`` of ``series``.

    ``series`` has shape ``(T, d)`` (rows are time steps, oldest first); ``t`` is one row index or several.
    Returns shape ``(len(t), window, d)`` (``(1, window, d)`` for a single int). Rows after ``t`` are never
    read. Raises :class:`UsageError` when a window would start before row 0 or end past the last row.
    """
    if series.dim() != 2:
        raise UsageError(
            f"brain/windows.py: field 'series': expected shape (T, d), got {tuple(series.shape)}"
        )
    if window < 1:
        raise UsageError(f"brain/windows.py: field 'window': must be >= 1, got {window}")
    ends = [t] if isinstance(t, int) else list(t)
    n_rows = series.shape[0]
    out = []
    for end in ends:
        if end < window - 1 or end >= n_rows:
            raise UsageError(
                f"brain/windows.py: field 't': window of {window} rows ending at row {end} "
                f"does not fit a series of {n_rows} rows (need {window - 1} <= t < {n_rows})"
            )
        out.append(series[end - window + 1 : end + 1])
    return torch.stack(out, dim=0)
