"""Precision-recall curves, one per class, from a classifier's probabilities.

python examples/pr_curves.py [LOGDIR]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from eventwriter import SummaryWriter


def log_pr_curves(
    writer: SummaryWriter, labels: Any, probabilities: Any, classes: Sequence[str], step: int = 0
) -> None:
    """For each class: is it the true class, against the predicted probability of it."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities)
    for index, name in enumerate(classes):
        writer.add_pr_curve(name, labels == index, probabilities[:, index], global_step=step)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 500)
    logits = rng.normal(size=(500, 3)) + 2 * np.eye(3)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/pr_curves") as writer:
        log_pr_curves(writer, labels, probabilities, ["red", "green", "blue"])
        print(f"tensorboard --logdir {writer.get_logdir()}")
