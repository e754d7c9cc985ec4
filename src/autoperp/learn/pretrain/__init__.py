"""Supervised pre-training of the policy's encoders on triple-barrier labels (issue 5, item 6)."""

from autoperp.learn.pretrain.config import PretrainConfig
from autoperp.learn.pretrain.dataset import PretrainDataset, build_dataset
from autoperp.learn.pretrain.run import PretrainReport, ScoreRow, run_pretrain
from autoperp.learn.pretrain.split import PurgedSplit, purged_holdout

__all__ = [
    "PretrainConfig",
    "PretrainDataset",
    "PretrainReport",
    "PurgedSplit",
    "ScoreRow",
    "build_dataset",
    "purged_holdout",
    "run_pretrain",
]
