"""Policy observations gathered from a :class:`~autoperp.learn.feature_table.FeatureTable` on the device.

The env hands out indices — (series, decision bar) per env plus the (N, 4) account vector — and the
policy side builds its :class:`~autoperp.brain.observation.Observation` here, with one vectorised
``index_select`` per modality (no Python loop over rows), on CPU or CUDA alike:

* ``fast`` (B, fast_window, 5): rows ``bar - fast_window + 1 .. bar`` of the ``price`` group;
* ``slow`` (B, slow_window, 5): rows ``k - slow_window + 1 .. k`` of ``table.slow`` where
  ``k = slow_index[s, bar]`` is the last hourly bar complete at the decision bar's close;
* ``regime`` / ``flow`` / ``alt`` (B, F): the row of the decision bar;
* ``account`` (B, 4): passed through.

Nothing after the decision bar is read (row j of the table is what is known at bar j's close), so the
gather is causal by construction (tested by overwriting later rows with NaN). Only modalities switched on
in the policy config are gathered; ``flow`` is None (absent in every row) when the table has no flow
inputs, and ``slow`` is marked absent in rows whose hourly history is shorter than the window.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from autoperp.brain.observation import Observation
from autoperp.brain.policy import PolicyConfig
from autoperp.core.errors import ValidationError

__all__ = ["ObservationGather"]


class TableLike(Protocol):
    """The fields of :class:`autoperp.learn.feature_table.FeatureTable` the gather reads."""

    groups: dict[str, tuple[int, ...]]
    bars: np.ndarray
    slow: np.ndarray
    slow_index: np.ndarray
    n_bars: np.ndarray
    has_flow: bool


def _index(x: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    return t.to(device=device, dtype=torch.long).reshape(-1)


class ObservationGather:
    """(series, bar, account) → :class:`Observation` for a policy of ``config``; tensors live on ``device``.

    The table's groups are copied once into contiguous (S·n_max, F) tensors on the device, so each call
    is a handful of ``index_select`` kernels whatever the batch size.
    """

    def __init__(self, table: TableLike, config: PolicyConfig, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = dev = torch.device(device)
        on = set(config.modalities)
        s, n_max, _ = table.bars.shape
        self.n_series, self.n_max = int(s), int(n_max)
        bars = torch.from_numpy(np.ascontiguousarray(table.bars, dtype=np.float32))

        def group(name: str, width: int, field: str) -> torch.Tensor:
            cols = tuple(table.groups.get(name, ()))
            if len(cols) != width:
                raise ValidationError(
                    f"learn/gather.py: table group '{name}' has {len(cols)} columns, the policy's "
                    f"'{field}' expects {width}",
                    field=field,
                )
            return bars[:, :, list(cols)].reshape(s * n_max, width).contiguous().to(dev)

        self.regime = group("regime", config.n_regime, "n_regime")
        self.price = group("price", config.price_features, "price_features") if "fast" in on else None
        self.alt = group("alt", config.alt_features, "alt_features") if "alt" in on else None
        self.flow = (
            group("flow", config.flow_features, "flow_features") if "flow" in on and table.has_flow else None
        )
        self.slow: torch.Tensor | None = None
        self.slow_index = torch.from_numpy(np.ascontiguousarray(table.slow_index, dtype=np.int64)).to(dev)
        self.n_slow = int(table.slow.shape[1])
        # With fewer hourly rows than the window no row can ever be full: slow stays absent (None).
        if "slow" in on and self.n_slow >= config.slow_window:
            if table.slow.shape[2] != config.price_features:
                raise ValidationError(
                    f"learn/gather.py: table 'slow' has {table.slow.shape[2]} features, the policy's "
                    f"'price_features' is {config.price_features}",
                    field="price_features",
                )
            slow = np.ascontiguousarray(table.slow, dtype=np.float32).reshape(-1, config.price_features)
            self.slow = torch.from_numpy(slow).to(dev)
        self.n_bars = torch.from_numpy(np.asarray(table.n_bars, dtype=np.int64)).to(dev)
        # Row offsets of each window relative to its last row: -(W-1) .. 0.
        self.fast_offsets = torch.arange(-config.fast_window + 1, 1, device=dev)
        self.slow_offsets = torch.arange(-config.slow_window + 1, 1, device=dev)

    def _check(self, series: torch.Tensor, bar: torch.Tensor, account: torch.Tensor) -> None:
        b = series.shape[0]
        if bar.shape[0] != b or account.shape != (b, self.config.account_features):
            raise ValidationError(
                f"learn/gather.py: series {tuple(series.shape)}, bar {tuple(bar.shape)} and account "
                f"{tuple(account.shape)} must share the batch (account (B, {self.config.account_features}))",
                field="account",
            )
        bad_series = (series < 0) | (series >= self.n_series)
        if bool(bad_series.any()):
            row = int(bad_series.nonzero()[0, 0])
            raise ValidationError(
                f"learn/gather.py: row {row}: series {int(series[row])} outside [0, {self.n_series})",
                field="series",
            )
        first = self.config.fast_window - 1 if self.price is not None else 0
        bad_bar = (bar < first) | (bar >= self.n_bars[series])
        if bool(bad_bar.any()):
            row = int(bad_bar.nonzero()[0, 0])
            raise ValidationError(
                f"learn/gather.py: row {row}: bar {int(bar[row])} of series {int(series[row])} is outside "
                f"[{first}, {int(self.n_bars[series[row]])}) (the fast window needs {first} earlier bars)",
                field="bar",
            )

    def __call__(
        self,
        series: torch.Tensor | np.ndarray,
        bar: torch.Tensor | np.ndarray,
        account: torch.Tensor | np.ndarray | None,
    ) -> Observation:
        """The observation of rows (series[i], bar[i]) with account vectors ``account`` (B, 4) or None.

        Raises:
            ValidationError: a series or bar out of range (naming the row), or mismatched shapes.
        """
        dev = self.device
        s = _index(series, dev)
        b = _index(bar, dev)
        acc = None
        if account is not None:
            acc = torch.as_tensor(account).to(device=dev, dtype=torch.float32)
        self._check(s, b, acc if acc is not None else torch.zeros(s.shape[0], self.config.account_features))
        row = s * self.n_max + b  # flat row of the decision bar
        fast = None
        if self.price is not None:
            idx = row[:, None] + self.fast_offsets[None, :]  # (B, W), all inside series s (checked)
            fast = self.price.index_select(0, idx.reshape(-1)).view(idx.shape[0], idx.shape[1], -1)
        presence: dict[str, torch.Tensor] = {}
        slow = None
        if self.slow is not None:
            k = self.slow_index.view(-1).index_select(0, row)  # (B,) last complete hourly row, -1 none
            full = k >= self.config.slow_window - 1
            # Rows without a full hourly window read row 0 and are marked absent (never zero-filled).
            rows = torch.where(full, k, torch.full_like(k, self.config.slow_window - 1))
            idx = (s * self.n_slow + rows)[:, None] + self.slow_offsets[None, :]
            slow = self.slow.index_select(0, idx.reshape(-1)).view(idx.shape[0], idx.shape[1], -1)
            if not bool(full.all()):
                presence["slow"] = full
        return Observation(
            regime=self.regime.index_select(0, row),
            fast=fast,
            slow=slow,
            flow=None if self.flow is None else self.flow.index_select(0, row),
            alt=None if self.alt is None else self.alt.index_select(0, row),
            account=acc if "account" in self.config.modalities else None,
            presence=presence,
        )
