"""Scalars: tags grouped by their prefix, and several curves on one chart.

    python examples/scalars.py [LOGDIR]

``Group1/data1`` and ``Group1/data2`` land in one section of the Scalars tab;
``add_scalars`` draws x·sin x, x·cos x and tan x on one chart, one sub-run per curve.
"""

from __future__ import annotations

import sys

import numpy as np

from eventwriter import SummaryWriter


def log_grouped_scalars(writer: SummaryWriter, steps: int = 100) -> None:
    rng = np.random.default_rng(0)
    for step in range(steps):
        writer.add_scalar("Group1/data1", rng.random(), step)
        writer.add_scalar("Group1/data2", rng.random(), step)
        writer.add_scalar("Group2/data1", rng.random(), step)


def log_trigonometry(writer: SummaryWriter, steps: int = 100) -> None:
    for step in range(steps):
        x = step / 5
        writer.add_scalars("run_14h", {"xsinx": step * np.sin(x), "xcosx": step * np.cos(x), "tanx": np.tan(x)}, step)


if __name__ == "__main__":
    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/scalars") as writer:
        log_grouped_scalars(writer)
        log_trigonometry(writer)
        print(f"tensorboard --logdir {writer.get_logdir()}")
