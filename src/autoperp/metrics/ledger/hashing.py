"""A stable identity for a trial's config: canonical JSON, then sha256.

Two configs that mean the same thing hash the same: key order does not matter, tuples and lists are the
same, sets are sorted, an integral float equals the integer (``1.0`` and ``1``), numpy scalars are their
Python values, enums are their values and paths are POSIX strings. A pydantic model is dumped in JSON
mode first, so a model and the dict of its fields hash the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

import numpy as np
from pydantic import BaseModel

from autoperp.core.errors import ValidationError

#: Hex digits kept of the sha256: 64 bits, far beyond any number of trials one ledger will hold.
HASH_HEX_DIGITS = 16

# Floats beyond 2**53 lose integer precision; keep them as floats so no two distinct values collide.
_MAX_EXACT_INT_FLOAT = 2.0**53


def canonical_config(config: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """``config`` as a plain-JSON dict in canonical form (see the module docstring).

    Raises :class:`ValidationError` naming ``config.<path>`` for a value JSON cannot hold exactly
    (NaN/inf, an arbitrary object, a non-string key).
    """
    if isinstance(config, BaseModel):
        raw: object = config.model_dump(mode="json")
    elif isinstance(config, Mapping):
        raw = config
    else:
        raise ValidationError(
            f"config must be a mapping or a pydantic model, got {type(config).__name__}", field="config"
        )
    out = _canonical(raw, "config")
    assert isinstance(out, dict)
    return out


def config_json(config: Mapping[str, Any] | BaseModel) -> str:
    """The canonical JSON text of ``config``: sorted keys, no whitespace, UTF-8 characters kept."""
    return json.dumps(
        canonical_config(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def config_hash(config: Mapping[str, Any] | BaseModel, digits: int = HASH_HEX_DIGITS) -> str:
    """First ``digits`` hex digits of the sha256 of :func:`config_json`."""
    return hashlib.sha256(config_json(config).encode("utf-8")).hexdigest()[:digits]


def _canonical(v: object, where: str) -> object:
    # bool before int and float: bool is an int subclass, and True must not become 1
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Enum):
        return _canonical(v.value, where)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        if not math.isfinite(f):
            raise ValidationError(f"{f} cannot be hashed: JSON has no NaN or infinity", field=where)
        if f.is_integer() and abs(f) < _MAX_EXACT_INT_FLOAT:
            return int(f)  # also folds -0.0 into 0
        return f
    if isinstance(v, PurePath):
        return v.as_posix()
    if isinstance(v, BaseModel):
        return _canonical(v.model_dump(mode="json"), where)
    if isinstance(v, Mapping):
        out: dict[str, object] = {}
        for k, x in v.items():
            key = k.value if isinstance(k, Enum) else k
            if not isinstance(key, str):
                raise ValidationError(f"key {k!r} is not a string", field=where)
            out[str.__str__(key)] = _canonical(x, f"{where}.{key}")
        return out
    if isinstance(v, np.ndarray):
        return _canonical(v.tolist(), where)
    if isinstance(v, list | tuple):
        return [_canonical(x, f"{where}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, set | frozenset):
        items = [_canonical(x, f"{where}[]") for x in v]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    raise ValidationError(f"a {type(v).__name__} cannot be hashed: use JSON-like values", field=where)
