"""Model graphs: LeNet-5 and a small MLP in TensorBoard's Graphs tab.

    python examples/graphs.py [LOGDIR]

``add_graph`` traces the model with ``torch.jit.trace`` (as torch.utils.tensorboard
does); ``graph_from="export"`` takes the graph with ``torch.export`` instead.
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn

from eventwriter import SummaryWriter


class SimpleModel(nn.Module):
    """A two-layer perceptron."""

    def __init__(self, inputs: int = 8, hidden: int = 16, outputs: int = 4) -> None:
        super().__init__()
        self.hidden = nn.Linear(inputs, hidden)
        self.activation = nn.ReLU()
        self.output = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.activation(self.hidden(x)))


def log_graphs(writer: SummaryWriter, lenet: nn.Module, images: torch.Tensor) -> None:
    """The LeNet-5 graph in the writer's run and the SimpleModel graph in a child run."""
    writer.add_graph(lenet, images)
    with SummaryWriter(f"{writer.get_logdir()}/simple_model") as child:
        child.add_graph(SimpleModel(), torch.rand(2, 8))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from tutorial import LeNet5

    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/graphs") as writer:
        log_graphs(writer, LeNet5(), torch.rand(4, 1, 28, 28))
        print(f"tensorboard --logdir {writer.get_logdir()}")
