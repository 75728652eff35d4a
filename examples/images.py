"""Images: one image, a batch tiled into a grid, and a matplotlib figure.

python examples/images.py [LOGDIR]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from eventwriter import SummaryWriter


def log_batch(writer: SummaryWriter, images: Any, tag: str = "image batch", step: int = 0) -> None:
    """A batch (N, C, H, W) as one image, eight per row."""
    writer.add_images(tag, images, step)


def predictions_figure(images: Any, labels: Sequence[int], probabilities: Any, classes: Sequence[str]) -> Any:
    """The tutorial's figure: each image with its predicted class, the probability and
    the true class, in green when right and red when wrong."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(12, 3))
    for index in range(len(labels)):
        axes = figure.add_subplot(1, len(labels), index + 1, xticks=[], yticks=[])
        axes.imshow(np.asarray(images[index]).squeeze() / 2 + 0.5, cmap="Greys")
        predicted = int(np.argmax(probabilities[index]))
        right = predicted == int(labels[index])
        confidence = float(probabilities[index][predicted]) * 100
        title = f"{classes[predicted]}, {confidence:.1f}%\n(label: {classes[int(labels[index])]})"
        axes.set_title(title, color="green" if right else "red")
    return figure


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    batch = rng.random((16, 3, 32, 32)).astype(np.float32)
    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/images") as writer:
        writer.add_image("one image", batch[0])
        log_batch(writer, batch)
        probabilities = rng.dirichlet(np.ones(3), size=4)
        writer.add_figure(
            "predictions vs. actuals", predictions_figure(batch[:4, 0] * 2 - 1, [0, 1, 2, 0], probabilities, "abc")
        )
        print(f"tensorboard --logdir {writer.get_logdir()}")
