"""Where the vault (the untouched final test set, ``shared/data/vault``) is, and the refusal every data
path but ``autoperp evaluate --vault`` applies to it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from autoperp.core.errors import UsageError

__all__ = ["default_vault_dir", "inside_vault", "refuse_vault_paths"]


def default_vault_dir() -> Path:
    """``$AUTOPERP_SHARED/data/vault``, else ``../shared/data/vault`` from the working directory."""
    shared = os.environ.get("AUTOPERP_SHARED")
    base = Path(shared) if shared else Path.cwd().parent / "shared"
    return (base / "data" / "vault").resolve()


def inside_vault(path: Path, vault_dir: Path | None = None) -> bool:
    """True when ``path`` is the vault directory or anything under it."""
    vault = (vault_dir or default_vault_dir()).resolve()
    try:
        Path(path).resolve().relative_to(vault)
    except ValueError:
        return False
    return True


def refuse_vault_paths(paths: Sequence[Path], option: str) -> None:
    """:class:`UsageError` naming the first of ``paths`` that lies in the vault: only ``evaluate --vault``
    may read the final test set."""
    for p in paths:
        if inside_vault(p):
            raise UsageError(
                f"{option} {p}: is inside the vault (the final test set); only `autoperp evaluate --vault` reads it"
            )
