"""Embeddings: points in TensorBoard's Projector, with a label and a thumbnail each.

    python examples/embeddings.py [LOGDIR]

As in the tutorial: 100 images, flattened into 784-dimensional points, labelled with
their class name and shown as their own thumbnail.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from eventwriter import SummaryWriter


def log_embedding(
    writer: SummaryWriter, images: Any, labels: Sequence[int], classes: Sequence[str], count: int = 100
) -> None:
    """``count`` random images (N x H x W, numpy or torch) projected with names and thumbnails."""
    images = np.asarray(images)
    chosen = np.random.default_rng(0).permutation(len(images))[:count]
    selected = images[chosen]
    features = selected.reshape(len(chosen), -1)
    writer.add_embedding(features, metadata=[classes[int(labels[i])] for i in chosen], label_img=selected[:, None])


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    centres = rng.random((3, 8, 8))
    images = (centres[labels] + rng.normal(scale=0.1, size=(300, 8, 8))).clip(0, 1).astype(np.float32)
    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/embeddings") as writer:
        log_embedding(writer, images, labels, ["circle", "square", "cross"])
        print(f"tensorboard --logdir {writer.get_logdir()}")
