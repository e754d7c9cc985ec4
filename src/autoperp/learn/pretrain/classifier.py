"""A 3-class head on the policy's fused readout, and its training loop (AdamW, early stopping)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autoperp.brain.observation import Observation
from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.learn.pretrain.config import PretrainConfig
from autoperp.learn.pretrain.dataset import PretrainDataset


class BarrierClassifier(nn.Module):
    """Policy encoders + backbone, read out at the decision token, then a linear head (logits for
    labels −1, 0, +1). The actor and critic heads of the policy are unused here."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.policy = Policy(config)
        self.head = nn.Linear(config.d_model, 3)

    def readout(self, obs: Observation) -> torch.Tensor:
        """(B, d_model) normalised readout at the decision token (one decision, fresh carry)."""
        p = self.policy
        x = p.tokens(obs)
        if p.hrm is not None:
            carry = p.initial_carry(obs.batch, x.device)
            assert carry is not None
            out: torch.Tensor = p.hrm(carry, x).readout
        else:
            assert p.flat is not None
            out = p.flat(x)
        normed: torch.Tensor = p.norm(out)
        return normed

    def forward(self, obs: Observation) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.readout(obs))
        return logits


@dataclass
class FitResult:
    """Test-set probabilities (N_test, 3) and how training went."""

    proba: np.ndarray
    epochs: int
    best_val_loss: float
    seconds: float
    n_params: int


def _predict(
    model: BarrierClassifier,
    data: PretrainDataset,
    idx: np.ndarray,
    stats: tuple[np.ndarray, np.ndarray],
    device: torch.device,
    batch: int,
) -> np.ndarray:
    model.eval()
    parts = []
    with torch.no_grad():
        for a in range(0, idx.shape[0], batch):
            obs = data.observation(idx[a : a + batch], *stats).to(device)
            parts.append(F.softmax(model(obs), dim=-1).cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, 3))


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(y.shape[0]), y], 1e-12, 1.0))))


def fit_classifier(
    data: PretrainDataset,
    fit: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    policy_config: PolicyConfig,
    config: PretrainConfig,
    device: torch.device,
) -> FitResult:
    """Train on ``fit`` with cross-entropy, keep the weights of the best validation loss, stop after
    ``patience`` epochs without improvement or when ``budget_s`` seconds are spent."""
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    model = BarrierClassifier(policy_config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    stats = data.side_stats(fit)
    y = torch.from_numpy(data.labels)
    rng = np.random.default_rng(config.seed)
    best, best_state, stale, epochs = float("inf"), copy.deepcopy(model.state_dict()), 0, 0
    for _ in range(config.epochs):
        model.train()
        order = rng.permutation(fit)
        for a in range(0, order.shape[0], config.batch_size):
            rows = order[a : a + config.batch_size]
            logits = model(data.observation(rows, *stats).to(device))
            loss = F.cross_entropy(logits, y[rows].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if time.perf_counter() - start > config.budget_s:
                break
        epochs += 1
        val_loss = _log_loss(_predict(model, data, val, stats, device, 1024), data.labels[val])
        if val_loss < best:
            best, best_state, stale = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        if stale >= config.patience or time.perf_counter() - start > config.budget_s:
            break
    model.load_state_dict(best_state)
    proba = _predict(model, data, test, stats, device, 1024)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return FitResult(proba, epochs, best, time.perf_counter() - start, int(n_params))
