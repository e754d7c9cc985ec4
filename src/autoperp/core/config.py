"""Configuration: TOML files loaded into pydantic models, overridable by environment variables.

Precedence (later wins): model defaults < TOML file < ``AUTOPERP__SECTION__KEY=value`` variables.
An override value is parsed as TOML when it can be (``AUTOPERP__VALIDATION__SPIKE_Z=40`` is a number,
``AUTOPERP__DOWNLOAD__SOURCES='["archive"]'`` a list) and taken as a string otherwise.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from autoperp.core.errors import ConfigError

ENV_PREFIX = "AUTOPERP__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    user_data_dir: Path = Path("user_data")
    exchange: str = "binanceusdm"

    @property
    def data_dir(self) -> Path:
        """Root of the Parquet store."""
        return self.user_data_dir / "data"


class ValidationConfig(_Section):
    """Thresholds of the import checks. Rules listed in ``disabled_rules`` are skipped and reported as such."""

    spike_z: float = Field(25.0, gt=0, description="robust z-score of a one-bar return that reverts")
    # Real 1m crypto bars move -11% and bounce 3-5% (FILUSDT 2023); a bad tick is an order of magnitude
    # off and comes straight back, so the bar is set well above anything seen in ../shared/data/real.
    spike_min_return: float = Field(
        0.15,
        gt=0,
        description="smallest |log return| of a 1m bar counted as a spike; scales with sqrt(bar minutes)",
    )
    spike_revert: float = Field(0.8, gt=0, le=1, description="share of the move the next bar must give back")
    funding_rate_cap: float = Field(0.03, gt=0, description="|rate| per settlement above this is refused")
    funding_rate_caps: dict[str, float] = Field(
        default_factory=dict, description="per-symbol caps, ccxt symbol -> |rate|"
    )
    gap_tolerance: float = Field(1.5, ge=1.0, description="a step > this x timeframe is a gap")
    disabled_rules: list[str] = Field(default_factory=list)

    @field_validator("funding_rate_caps")
    @classmethod
    def _upper_symbols(cls, v: dict[str, float]) -> dict[str, float]:
        # environment variable names are case-insensitive in spirit; symbols are upper-case ccxt form
        return {k.upper(): x for k, x in v.items()}


class DownloadConfig(_Section):
    archive_url: str = "https://data.binance.vision"
    api_url: str | None = Field(None, description="override of the exchange REST base URL (tests, proxies)")
    sources: list[str] = Field(default_factory=lambda: ["archive", "ccxt"])
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0)
    verify_checksums: bool = True


class SyntheticConfig(_Section):
    seed: int = 7
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"])
    days: float = Field(14.0, gt=0)
    timeframe: str = "1m"


class AppConfig(_Section):
    data: DataConfig = Field(default_factory=DataConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    download: DownloadConfig = Field(default_factory=DownloadConfig)
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict built from ``AUTOPERP__SECTION__KEY[__SUBKEY]`` variables (names lower-cased)."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if len(path) < 2:
            raise ConfigError(f"environment variable {name}: use AUTOPERP__SECTION__KEY")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} conflicts with another override")
        node[path[-1]] = _parse_env_value(raw)
    return tree


def merge_nested(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, recursing into tables both have (config layering)."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = merge_nested(out[k], v)
        else:
            out[k] = v
    return out


def read_toml(path: Path | str) -> dict[str, Any]:
    """The TOML file ``path`` as a dict; :class:`ConfigError` naming the file when it is missing,
    unreadable or not TOML."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from None


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Load ``path`` (TOML; optional) and apply environment overrides.

    Raises :class:`ConfigError` naming the file and the offending key.
    """
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = read_toml(path)
    env = env_overrides(os.environ if environ is None else environ)
    if env:
        source += " + environment"
    try:
        return AppConfig.model_validate(merge_nested(raw, env))
    except PydanticValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{source}: '{key}': {first['msg']} (env override: {ENV_PREFIX}{key.upper().replace('.', '__')})"
        ) from None
