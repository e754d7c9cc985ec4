"""The vault: the untouched final test set (``shared/data/vault``). This module is the only code that
reads it, and only ``autoperp evaluate --vault`` calls it; every other command refuses a path inside it.

Files are chosen by what their names say (pair, timeframe, kind) before anything is read, so a vault
holding a cross-section of many pairs is opened only for the pairs asked about. They are read through
:mod:`autoperp.data.readers` and validated like any ``--datafile`` (see
:func:`autoperp.backtest.data_source.load_from_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from autoperp.backtest.data_source import LoadedData, load_from_files
from autoperp.backtest.vault_guard import default_vault_dir, inside_vault, refuse_vault_paths
from autoperp.core.config import ValidationConfig
from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.timeframes import can_resample
from autoperp.core.types import DataKind
from autoperp.data.readers import infer_from_name, is_supported

__all__ = ["default_vault_dir", "inside_vault", "load_vault", "refuse_vault_paths", "vault_files"]

_USABLE = (DataKind.FUTURES, DataKind.MARK, DataKind.FUNDING)


def _wanted(path: Path, symbols: Sequence[Symbol], timeframe: str) -> bool:
    info = infer_from_name(path)
    if info.kind is not None and info.kind not in _USABLE:
        return False
    if symbols and info.symbol is not None and info.symbol not in symbols:
        return False
    if info.kind is DataKind.FUNDING or info.timeframe is None:
        return True
    return info.timeframe == timeframe or can_resample(info.timeframe, timeframe)


def vault_files(vault_dir: Path, symbols: Sequence[Symbol], timeframe: str) -> list[Path]:
    """Data files under ``vault_dir`` whose names fit ``symbols`` (all when empty) and ``timeframe``."""
    root = Path(vault_dir)
    if not root.is_dir():
        raise UsageError(f"{root}: vault directory not found (give --vault-dir DIR or set AUTOPERP_SHARED)")
    files = sorted(
        f for f in root.rglob("*") if f.is_file() and is_supported(f) and _wanted(f, symbols, timeframe)
    )
    if not files:
        pairs = ", ".join(map(str, symbols)) or "any pair"
        raise UsageError(f"{root}: the vault holds no {timeframe} candle file for {pairs}")
    return files


def load_vault(
    vault_dir: Path,
    symbols: Sequence[Symbol],
    timeframe: str,
    timerange: TimeRange,
    validation: ValidationConfig | None = None,
) -> LoadedData:
    """Markets of ``symbols`` (every pair with candles when empty) from the vault at ``vault_dir``."""
    files = vault_files(vault_dir, symbols, timeframe)
    return load_from_files(
        files, timeframe, timerange, symbols=symbols, validation=validation, allow_vault=True
    )
