"""Options shared by several commands, and the config/store they lead to."""

from __future__ import annotations

from pathlib import Path

import typer

from autoperp.core.config import AppConfig, load_config
from autoperp.data.store.parquet import ParquetStore

CONFIG_OPTION = typer.Option(
    None, "--config", "-c", help="TOML config file (env AUTOPERP__SECTION__KEY overrides it)."
)


def app_config(path: Path | None) -> AppConfig:
    return load_config(path)


def open_store(cfg: AppConfig) -> ParquetStore:
    return ParquetStore(cfg.data.data_dir)


def split_multi(values: list[str] | None) -> list[str]:
    """Accept both repeated options and comma/space-separated values: `--pairs A,B --pairs C`."""
    out: list[str] = []
    for v in values or []:
        out += [x for x in v.replace(",", " ").split() if x]
    return out
