"""Histograms: the "distribution centers" example and a model's weights per epoch.

    python examples/histograms.py [LOGDIR]

The Histograms tab draws each tag's distribution over steps; the Distributions tab
shows the same data as percentile bands.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from eventwriter import SummaryWriter


def log_distribution_centers(writer: SummaryWriter, steps: int = 10) -> None:
    rng = np.random.default_rng(0)
    for step in range(steps):
        writer.add_histogram("distribution centers", rng.random(1000) + step, step)


def log_weights(writer: SummaryWriter, model: Any, epoch: int) -> None:
    """One histogram per parameter of a torch model (and of its gradient, if any)."""
    for name, parameter in model.named_parameters():
        writer.add_histogram(f"weights/{name}", parameter, epoch)
        if parameter.grad is not None:
            writer.add_histogram(f"gradients/{name}", parameter.grad, epoch)


if __name__ == "__main__":
    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/histograms") as writer:
        log_distribution_centers(writer)
        print(f"tensorboard --logdir {writer.get_logdir()}")
