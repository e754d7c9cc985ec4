"""What the policy sees at one decision: a batch of tensors, one field per modality (DESIGN.md §4).

Every field is a window or a vector that ends at decision time t (build windows with
:func:`autoperp.brain.windows.windows_ending_at`). A modality field may be ``None`` (absent for every row)
and ``presence[name]`` (B,) bool marks rows where it is absent; the policy then uses a learned "absent"
embedding instead of the encoder's token, so an absent modality is never zero-filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from autoperp.core.errors import ConfigError

#: Maskable modalities, in the order the policy builds tokens for them. ``regime`` is always required: it
#: is computed from price alone and conditions the ZIRA band gains.
MODALITIES: tuple[str, ...] = ("day", "slow", "alt", "fast", "flow", "chart", "sentiment", "account")

#: Rank of each tensor field including the batch dimension.
_RANKS: dict[str, int] = {
    "fast": 3,
    "slow": 3,
    "day": 3,
    "regime": 2,
    "flow": 2,
    "alt": 2,
    "chart": 4,
    "sentiment": 2,
    "account": 2,
}


@dataclass
class Observation:
    """One batch of decision inputs.

    * ``fast`` (B, L_fast, F_price): recent 1m bars; ``slow`` (B, L_slow, F_price): hourly bars;
      ``day`` (B, L_day, F_price): daily bars — oldest row first, last row at decision time.
    * ``regime`` (B, 5): realised vol at 3 horizons, Hurst exponent, funding z-score.
    * ``flow`` (B, F_flow): order flow (taker-buy share, signed volume, trade counts, ...).
    * ``alt`` (B, F_alt): alternative data (funding, mark/index basis, open interest).
    * ``chart`` (B, 1, 64, 60): OHLC bar images (Jiang, Kelly & Xiu).
    * ``sentiment`` (B, F_sent): text sentiment scores or embeddings.
    * ``account`` (B, 4): the trader's own state — exposure / max leverage (signed), unrealised PnL /
      equity, margin ratio (maintenance margin / balance, 0 when flat), time to the next funding in units
      of 8 h.
    * ``presence``: optional ``{modality: (B,) bool}``; False = absent in that row.
    """

    regime: torch.Tensor
    fast: torch.Tensor | None = None
    slow: torch.Tensor | None = None
    day: torch.Tensor | None = None
    flow: torch.Tensor | None = None
    alt: torch.Tensor | None = None
    chart: torch.Tensor | None = None
    sentiment: torch.Tensor | None = None
    account: torch.Tensor | None = None
    presence: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        batch = self.batch
        for name, rank in _RANKS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, torch.Tensor):
                raise ConfigError(f"brain/observation.py: field '{name}' must be a tensor, got {type(value)}")
            if value.dim() != rank or value.shape[0] != batch:
                raise ConfigError(
                    f"brain/observation.py: field '{name}' must have {rank} dims with batch {batch} first, "
                    f"got shape {tuple(value.shape)}"
                )
        for name, mask in self.presence.items():
            if name not in MODALITIES:
                raise ConfigError(
                    f"brain/observation.py: field 'presence' has unknown modality '{name}' "
                    f"(known: {', '.join(MODALITIES)})"
                )
            if mask.shape != (batch,) or mask.dtype != torch.bool:
                raise ConfigError(
                    f"brain/observation.py: field 'presence[{name}]' must be bool of shape ({batch},), "
                    f"got {mask.dtype} {tuple(mask.shape)}"
                )

    @property
    def batch(self) -> int:
        """Rows B (taken from ``regime``)."""
        if not isinstance(self.regime, torch.Tensor) or self.regime.dim() != 2:
            raise ConfigError("brain/observation.py: field 'regime' must be a (B, n_regime) tensor")
        return int(self.regime.shape[0])

    def present(self, name: str) -> torch.Tensor:
        """(B,) bool: rows where modality ``name`` is given (all False when the field is None)."""
        value = getattr(self, name)
        if value is None:
            return torch.zeros(self.batch, dtype=torch.bool, device=self.regime.device)
        mask = self.presence.get(name)
        if mask is None:
            return torch.ones(self.batch, dtype=torch.bool, device=self.regime.device)
        return mask.to(self.regime.device)

    def to(self, device: torch.device | str) -> Observation:
        """A copy with every tensor moved to ``device``."""
        moved = {n: (None if getattr(self, n) is None else getattr(self, n).to(device)) for n in _RANKS}
        presence = {k: v.to(device) for k, v in self.presence.items()}
        return replace(self, presence=presence, **moved)  # type: ignore[arg-type]

    def row(self, index: int) -> Observation:
        """Row ``index`` as a batch of one (streaming one decision at a time)."""
        sliced = {
            n: (None if getattr(self, n) is None else getattr(self, n)[index : index + 1]) for n in _RANKS
        }
        presence = {k: v[index : index + 1] for k, v in self.presence.items()}
        return replace(self, presence=presence, **sliced)  # type: ignore[arg-type]
