"""One pre-training run: dataset → purged split → policy classifier (and ablations) vs logistic vs prior."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from autoperp.brain.policy import PolicyConfig
from autoperp.learn.pretrain.baseline import fit_logistic
from autoperp.learn.pretrain.classifier import fit_classifier
from autoperp.learn.pretrain.config import PretrainConfig
from autoperp.learn.pretrain.dataset import PRICE_FEATURES, build_dataset
from autoperp.learn.pretrain.split import purged_holdout

#: Ablation variants: name → PolicyConfig overrides (same split, same budget).
ABLATIONS: dict[str, dict[str, Any]] = {"no-zira": {"zira_mode": "identity"}, "flat": {"backbone": "flat"}}


@dataclass
class ScoreRow:
    """Out-of-sample scores of one predictor: mean log-loss (nats) and accuracy (fraction)."""

    name: str
    log_loss: float
    accuracy: float
    epochs: int = 0
    seconds: float = 0.0
    n_params: int = 0


@dataclass
class PretrainReport:
    """Scores on the held-out (last) block plus the sample counts and class shares behind them."""

    rows: list[ScoreRow]
    n_fit: int
    n_val: int
    n_test: int
    n_purged: int
    class_share_test: list[float]  # shares of labels −1, 0, +1 in the test block
    modalities: list[str]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scores(name: str, proba: np.ndarray, y: np.ndarray) -> ScoreRow:
    p = np.clip(proba[np.arange(y.shape[0]), y], 1e-12, 1.0)
    return ScoreRow(name, float(-np.mean(np.log(p))), float(np.mean(proba.argmax(1) == y)))


def run_pretrain(
    arrays: Mapping[str, np.ndarray],
    config: PretrainConfig,
    policy_config: PolicyConfig,
    device: torch.device | str = "cpu",
    ablation: bool = False,
) -> PretrainReport:
    """Build samples from 1m candle ``arrays`` (see :func:`build_dataset`), split them purged and
    embargoed, train the classifier on the policy (``policy_config``; its fast window, feature counts and
    modalities are set from the data) and score it, the logistic baseline and the train class prior on
    the test block. ``ablation`` adds the :data:`ABLATIONS` variants."""
    dev = torch.device(device)
    data = build_dataset(arrays, config)
    split = purged_holdout(data.t0, data.t1, config.test_fraction, config.val_fraction, config.embargo)
    modalities = ["fast"] + (["flow"] if data.flow is not None else [])
    overrides: dict[str, Any] = {
        "modalities": tuple(modalities),
        "fast_window": config.fast_window,
        "price_features": PRICE_FEATURES,
        "n_regime": 5,
        "seed": config.seed,
    }
    if data.flow is not None:
        overrides["flow_features"] = data.flow.shape[1]
    base = policy_config.model_copy(update=overrides)
    y_test = data.labels[split.test]
    rows: list[ScoreRow] = []
    variants = [("policy", base)]
    if ablation:
        variants += [(f"policy {k}", base.model_copy(update=v)) for k, v in ABLATIONS.items()]
    for name, pc in variants:
        res = fit_classifier(
            data, split.fit, split.val, split.test, PolicyConfig(**pc.model_dump()), config, dev
        )
        row = _scores(name, res.proba, y_test)
        row.epochs, row.seconds, row.n_params = res.epochs, res.seconds, res.n_params
        rows.append(row)
    logit = fit_logistic(data.flat[split.fit], data.labels[split.fit], data.flat[split.test])
    rows.append(_scores("logistic", logit, y_test))
    prior = np.bincount(data.labels[split.fit], minlength=3).astype(np.float64) + 1.0
    prior /= prior.sum()
    rows.append(_scores("class prior", np.tile(prior, (y_test.shape[0], 1)), y_test))
    share = np.bincount(y_test, minlength=3) / max(1, y_test.shape[0])
    return PretrainReport(
        rows=rows,
        n_fit=int(split.fit.shape[0]),
        n_val=int(split.val.shape[0]),
        n_test=int(split.test.shape[0]),
        n_purged=split.purged,
        class_share_test=[float(s) for s in share],
        modalities=modalities,
        config=config.model_dump(mode="json"),
    )
