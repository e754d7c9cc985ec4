"""Trained models on disk: ``user_data/models/<id>/`` (DESIGN.md §5, §10).

Layout of one model directory:

* ``model.pt`` — the policy's ``state_dict``;
* ``config.json`` — ``{"policy": PolicyConfig, "env": EnvConfig, "table": TableSpec, "ppo": PPOConfig,
  ...}`` as JSON (whatever configs the run had; ``policy`` is required to rebuild the network);
* ``manifest.json`` — ``model_id``, ``created_at`` (ISO 8601 UTC), ``seed``, ``code_version`` (package
  version + source fingerprint), ``data_manifest_hash`` and the per-series entries behind it;
* ``metrics.json`` — what the run measured (validation Sharpe, returns, ...);
* ``scalars.csv`` — per-update training scalars (written by :class:`~autoperp.learn.scalar_log.ScalarLog`);
* ``checkpoints/step_<n>.pt`` — ``{"model", "optimizer", "update", "env_steps"}`` during training.

A model id is ``<UTC yyyymmddTHHMMSS>-<preset>-<first 8 hex digits of the config hash>``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

import autoperp
from autoperp._numba_cache import source_fingerprint
from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.core.errors import ConfigError
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import TableSpec
from autoperp.learn.ppo_config import PPOConfig
from autoperp.metrics.ledger import config_hash
from autoperp.metrics.ledger.atomic import write_atomic, write_atomic_text
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket

__all__ = [
    "LoadedModel",
    "code_version",
    "data_manifest",
    "load_model",
    "make_model_id",
    "model_dir",
    "save_checkpoint",
    "save_model",
]

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
SCALARS_FILE = "scalars.csv"
CHECKPOINT_DIR = "checkpoints"


def code_version() -> str:
    """``<package version>+<source fingerprint>`` (the fingerprint keys numba's cache too)."""
    return f"{autoperp.__version__}+{source_fingerprint(Path(autoperp.__file__).resolve().parent)}"


def data_manifest(markets: Sequence[SimMarket]) -> tuple[str, list[dict[str, Any]]]:
    """(sha256 hex, entries): one entry per series with symbol, timeframe, first/last ts (ms UTC), bar
    count and the sha256 of its float64 close prices; the hash covers every entry in order."""
    entries: list[dict[str, Any]] = []
    h = hashlib.sha256()
    for m in markets:
        close = np.ascontiguousarray(m.field(L.M_CLOSE), dtype=np.float64)
        entry = {
            "symbol": m.symbol,
            "timeframe": m.timeframe,
            "first_ts": int(m.ts[0]) if len(m) else None,
            "last_ts": int(m.ts[-1]) if len(m) else None,
            "n_bars": len(m),
            "close_sha256": hashlib.sha256(close.tobytes()).hexdigest(),
        }
        entries.append(entry)
        h.update(json.dumps(entry, sort_keys=True).encode())
    return h.hexdigest(), entries


def make_model_id(preset: str, config: Mapping[str, Any] | BaseModel, now: datetime | None = None) -> str:
    """``<UTC yyyymmddTHHMMSS>-<preset>-<8 hex digits of the config hash>``."""
    t = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{t:%Y%m%dT%H%M%S}-{preset}-{config_hash(config)[:8]}"


def model_dir(user_data: Path | str, model_id: str) -> Path:
    """``<user_data>/models/<model_id>``."""
    if not model_id or "/" in model_id or "\\" in model_id or model_id in (".", ".."):
        raise ConfigError(f"model id {model_id!r} is not a plain directory name")
    return Path(user_data) / "models" / model_id


def _json(obj: BaseModel | Mapping[str, Any]) -> Any:
    return obj.model_dump(mode="json") if isinstance(obj, BaseModel) else dict(obj)


def save_checkpoint(
    directory: Path, update: int, env_steps: int, policy: Policy, optimizer: torch.optim.Optimizer | None
) -> Path:
    """``<directory>/checkpoints/step_<env_steps>.pt`` with the weights, optimizer state and counters."""
    path = directory / CHECKPOINT_DIR / f"step_{env_steps}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": policy.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "update": update,
        "env_steps": env_steps,
    }
    write_atomic(path, lambda p: torch.save(payload, p))
    return path


def save_model(
    user_data: Path | str,
    model_id: str,
    policy: Policy,
    configs: Mapping[str, BaseModel | Mapping[str, Any]],
    manifest: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model.pt``, ``config.json``, ``manifest.json`` and ``metrics.json`` into the model's
    directory (created if needed; the scalars and checkpoints already there are kept). ``configs`` must
    hold ``"policy"``; ``manifest`` gets ``model_id``, ``created_at`` and ``code_version`` added when
    missing. Returns the directory."""
    if "policy" not in configs:
        raise ConfigError("save_model: configs must include 'policy'")
    d = model_dir(user_data, model_id)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
    write_atomic(d / MODEL_FILE, lambda p: torch.save(state, p))
    write_atomic_text(d / CONFIG_FILE, json.dumps({k: _json(v) for k, v in configs.items()}, indent=1))
    full = {
        "model_id": model_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "n_params": sum(p.numel() for p in policy.parameters()),
        **dict(manifest),
    }
    write_atomic_text(d / MANIFEST_FILE, json.dumps(full, indent=1, default=str))
    write_atomic_text(d / METRICS_FILE, json.dumps(dict(metrics or {}), indent=1, default=_finite))
    return d


def _finite(v: object) -> object:
    return float(v) if isinstance(v, np.floating | np.integer) else str(v)


@dataclass
class LoadedModel:
    """A model read back by :func:`load_model`: the rebuilt policy (eval mode) and what was saved with it."""

    model_id: str
    path: Path
    policy: Policy
    policy_config: PolicyConfig
    configs: dict[str, Any]
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def env_config(self) -> EnvConfig:
        """The run's :class:`EnvConfig` (defaults when none was saved)."""
        out: EnvConfig = _typed(self.path / CONFIG_FILE, "env", EnvConfig, self.configs.get("env", {}))
        return out

    def table_spec(self) -> TableSpec:
        """The run's :class:`TableSpec` (defaults when none was saved)."""
        out: TableSpec = _typed(self.path / CONFIG_FILE, "table", TableSpec, self.configs.get("table", {}))
        return out

    def ppo_config(self) -> PPOConfig:
        """The run's :class:`PPOConfig` (defaults when none was saved)."""
        out: PPOConfig = _typed(self.path / CONFIG_FILE, "ppo", PPOConfig, self.configs.get("ppo", {}))
        return out


def _typed(path: Path, key: str, cls: type[Any], raw: Any) -> Any:
    try:
        return cls.model_validate(raw)
    except PydanticValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: '{key}.{loc}': {first['msg']}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing: the model directory is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: corrupt JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def load_model(user_data: Path | str, model_id: str, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild the policy of ``user_data/models/<model_id>`` from its config and weights.

    Raises :class:`ConfigError` naming the file when the directory or a file is missing or corrupt, or
    the weights do not fit the config. A code version other than the running one is only a warning
    (``warnings.warn`` and :attr:`LoadedModel.warnings`): the weights may still be usable.
    """
    d = model_dir(user_data, model_id)
    if not d.is_dir():
        raise ConfigError(f"{d}: no such model directory (model id {model_id!r})")
    configs = _read_json(d / CONFIG_FILE)
    manifest = _read_json(d / MANIFEST_FILE)
    metrics = _read_json(d / METRICS_FILE) if (d / METRICS_FILE).exists() else {}
    if "policy" not in configs:
        raise ConfigError(f"{d / CONFIG_FILE}: no 'policy' section: cannot rebuild the network")
    pcfg = _typed(d / CONFIG_FILE, "policy", PolicyConfig, configs["policy"])
    weights = d / MODEL_FILE
    if not weights.exists():
        raise ConfigError(f"{weights}: missing: the model directory is incomplete")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a truncated or foreign file
        raise ConfigError(f"{weights}: corrupt weights file: {' '.join(str(e).split())[:200]}") from None
    policy = Policy(pcfg)
    try:
        policy.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ConfigError(
            f"{weights}: weights do not fit the saved policy config: {str(e).splitlines()[0]}"
        ) from None
    policy.to(device).eval()
    notes: list[str] = []
    saved = manifest.get("code_version")
    now = code_version()
    if saved != now:
        notes.append(f"{d / MANIFEST_FILE}: model built by code {saved}, running {now}")
        warnings.warn(notes[-1], stacklevel=2)
    return LoadedModel(model_id, d, policy, pcfg, configs, manifest, metrics, notes)
