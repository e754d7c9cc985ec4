"""Writing an evaluation to disk: ``evaluation-<label>.html`` and ``.json``, each file whole or absent."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from autoperp.backtest.evaluation.html import render_evaluation_html
from autoperp.backtest.evaluation.result import Evaluation
from autoperp.backtest.report.files import report_dir, write_atomic

__all__ = ["evaluation_file_stem", "evaluation_json", "write_evaluation"]


def evaluation_file_stem(ev: Evaluation) -> str:
    """``evaluation-<trial id>-<label>`` (``vault-...`` on the vault), filesystem-safe."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", ev.label).strip("._") or "strategy"
    trial = f"{ev.trial_id}-" if ev.trial_id else ""
    return f"{'vault' if ev.vault else 'evaluation'}-{trial}{label}"


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def evaluation_json(ev: Evaluation) -> str:
    """The evaluation as JSON text (no NaN: undefined figures are null)."""
    return json.dumps(_clean(ev.to_json()), indent=1, allow_nan=False, default=str)


def write_evaluation(ev: Evaluation, out_dir: Path, *, html: bool = True) -> dict[str, Path]:
    """Write the JSON (and HTML) of ``ev`` into ``out_dir`` (created if missing); returns the paths."""
    out = report_dir(out_dir)
    stem = evaluation_file_stem(ev)
    paths = {"json": out / f"{stem}.json"}
    write_atomic(paths["json"], evaluation_json(ev))
    if html:
        paths["html"] = out / f"{stem}.html"
        write_atomic(paths["html"], render_evaluation_html(ev))
    return paths
