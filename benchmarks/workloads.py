"""The workloads of benchmarks/throughput.py: what a training loop logs, and how often.

Each workload makes ``n`` logging calls on a writer (``run(writer, n)``); ``calls`` is the
full-size count. Images come in three kinds, since a PNG's cost depends on what it
shows: uniform noise (where zlib gives up looking for matches early), a photograph that
ships with scikit-learn, and a rendered matplotlib figure.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["IMAGES", "WORKLOADS", "Workload", "figure_pixels", "photo_pixels"]


@dataclass
class Workload:
    """``run(writer, n)`` makes ``n`` logging calls; ``calls`` is the full-size count."""

    name: str
    calls: int
    run: Callable[[object, int], None]


def _scalars_one_tag(writer, n):
    add = writer.add_scalar
    for step in range(n):
        add("loss", step * 0.001, step)


_TAGS = [f"metric/{i:03d}" for i in range(100)]


def _scalars_100_tags(writer, n):
    add = writer.add_scalar
    tags = _TAGS
    for step in range(n):
        add(tags[step % 100], step * 0.001, step // 100)


def _scalars_and_flush_every_step(writer, n):
    """What HF Trainer, accelerate, DeepSpeed and Ray Tune do: log a few values, flush."""
    add, flush = writer.add_scalar, writer.flush
    for step in range(n):
        add("train/loss", step * 0.001, step)
        add("train/learning_rate", 0.1, step)
        flush()


def _add_scalars_4_keys(writer, n):
    for step in range(n):
        value = step * 0.001
        writer.add_scalars("loss", {"train": value, "val": value * 2, "test": value * 3, "aux": value * 4}, step)


def _text(writer, n):
    for step in range(n):
        writer.add_text("notes", f"step {step}: **loss** went down", step)


_EMBEDDING = np.random.default_rng(0).normal(size=(20_000, 64)).astype(np.float32)
_LABELS = [f"point {i} of class {i % 10}" for i in range(20_000)]


def _embedding(writer, n):
    rows = max(10, 20_000 * n // 20_000)
    for step in range(max(1, n // 20_000)):
        writer.add_embedding(_EMBEDDING[:rows], metadata=_LABELS[:rows], global_step=step)


_HISTOGRAM_VALUES = np.random.default_rng(1).normal(size=1_000_000).astype(np.float32)
NOISE = np.random.default_rng(2).random((3, 256, 256)).astype(np.float32)
_BATCH = np.random.default_rng(3).random((64, 1, 28, 28)).astype(np.float32)
_PR_LABELS = np.random.default_rng(4).integers(0, 2, 10_000)
_PR_PREDICTIONS = np.random.default_rng(5).random(10_000)


@functools.lru_cache(maxsize=1)
def photo_pixels() -> np.ndarray:
    """scikit-learn's sample photograph, 427 x 640 x 3 uint8."""
    from sklearn.datasets import load_sample_image

    return load_sample_image("china.jpg")


@functools.lru_cache(maxsize=1)
def figure_pixels() -> np.ndarray:
    """A training-curve figure as matplotlib renders it, 480 x 640 x 3 uint8."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(200)
    figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    axes.plot(steps, np.exp(-steps / 60) + 0.05 * np.random.default_rng(6).random(200), label="train")
    axes.plot(steps, np.exp(-steps / 80) + 0.1, label="validation")
    axes.set(xlabel="step", ylabel="loss", title="LeNet-5 on Fashion-MNIST")
    axes.legend()
    axes.grid(True)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[:, :, :3].copy()
    plt.close(figure)
    return pixels


def _histogram(writer, n):
    for step in range(n):
        writer.add_histogram("values", _HISTOGRAM_VALUES, step)


def _image(writer, n):
    for step in range(n):
        writer.add_image("image", NOISE, step)


def _photo(writer, n):
    pixels = photo_pixels()
    for step in range(n):
        writer.add_image("photo", pixels, step, dataformats="HWC")


def _figure(writer, n):
    pixels = figure_pixels()
    for step in range(n):
        writer.add_image("figure", pixels, step, dataformats="HWC")


def _image_batch(writer, n):
    for step in range(n):
        writer.add_images("batch", _BATCH, step)


def _pr_curve(writer, n):
    for step in range(n):
        writer.add_pr_curve("pr", _PR_LABELS, _PR_PREDICTIONS, step)


def _graph(writer, n):
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    from tutorial import LeNet5

    model, images = LeNet5(), torch.rand(4, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            writer.add_graph(model, images)


WORKLOADS = [
    Workload("add_scalar, 1 tag", 100_000, _scalars_one_tag),
    Workload("add_scalar, 100 tags", 100_000, _scalars_100_tags),
    Workload("2 x add_scalar + flush(), every step", 20_000, _scalars_and_flush_every_step),
    Workload("add_scalars, 4 keys", 10_000, _add_scalars_4_keys),
    Workload("add_text", 10_000, _text),
    Workload("add_embedding 20,000 x 64 + labels, per row", 20_000, _embedding),
    Workload("add_histogram, 1M float32", 20, _histogram),
    Workload("add_image, 3x256x256 float noise", 100, _image),
    Workload("add_image, photo 427x640 uint8", 30, _photo),
    Workload("add_image, figure 480x640 uint8", 50, _figure),
    Workload("add_images, 64 x 1x28x28", 100, _image_batch),
    Workload("add_pr_curve, 10,000 points", 100, _pr_curve),
    Workload("add_graph, LeNet-5", 10, _graph),
]

# image workloads -> the HWC uint8 pixels each call encodes (for the comparison with Pillow)
IMAGES: dict[str, Callable[[], np.ndarray]] = {
    "add_image, 3x256x256 float noise": lambda: (NOISE.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8),
    "add_image, photo 427x640 uint8": photo_pixels,
    "add_image, figure 480x640 uint8": figure_pixels,
}
