"""Multinomial logistic regression (L2, full-batch L-BFGS in torch) on the flat feature vector at t."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_logistic(
    x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, l2: float = 1e-3, n_classes: int = 3
) -> np.ndarray:
    """Test-set class probabilities (N_test, n_classes). Features are standardised on the fit rows;
    ``l2`` is the penalty on the weights per fit row (the bias is not penalised)."""
    mean = x_fit.mean(0)
    std = np.maximum(x_fit.std(0), 1e-8)
    xf = torch.from_numpy(((x_fit - mean) / std).astype(np.float64))
    xt = torch.from_numpy(((x_test - mean) / std).astype(np.float64))
    y = torch.from_numpy(np.asarray(y_fit, dtype=np.int64))
    w = torch.zeros(xf.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xf @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return F.softmax(xt @ w + b, dim=-1).numpy()
