"""The main job: LeNet-5 trained on Fashion-MNIST, logged to TensorBoard with eventwriter.

This is PyTorch's TensorBoard tutorial with one line changed: the SummaryWriter comes
from eventwriter. It logs
  - a grid of four training images and the first batches as an image batch;
  - the training and validation loss on one chart (``add_scalars``, every 100 batches);
  - the model's weights and gradients as histograms, once per epoch;
  - a figure of predictions against the true classes (matplotlib), once per epoch;
  - a precision-recall curve per class on the validation set;
  - 100 training images in the Projector, labelled with their class and shown as
    thumbnails (``add_embedding``);
  - the graph of LeNet-5, and of the tutorial's SimpleModel in a child run (``add_graph``);
  - the run's hyperparameters with the final accuracy and loss (HParams tab);
  - a text summary of the run;
  - the tutorial's small examples: grouped scalars (Group1/data1, ...), x·sin x, x·cos x
    and tan x on one chart, and the "distribution centers" histograms;
then it checks every event file it wrote, and what TensorBoard will show of them
(eventwriter.visibility), and prints the command that opens them.
Each section's code is in a short script of its own in examples/.

    python examples/tutorial.py [--data-dir data] [--logdir runs/lenet5] [--epochs N]

Data: real Fashion-MNIST when it is in ``--data-dir`` or can be downloaded; otherwise
scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, resized to
28x28), which ship with the scikit-learn package and need no network. The output says
which one was used.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from eventwriter import SummaryWriter  # was: from torch.utils.tensorboard import SummaryWriter
from eventwriter.reader import find_event_files, scan_file
from eventwriter.visibility import check_logdir

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the section scripts next to this one
from embeddings import log_embedding
from graphs import log_graphs
from histograms import log_distribution_centers, log_weights
from images import log_batch, predictions_figure
from pr_curves import log_pr_curves
from scalars import log_grouped_scalars, log_trigonometry

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Shirt",
    "Sandal",
    "Sneaker",
    "Bag",
    "Ankle Boot",
)
DIGIT_CLASSES = tuple(str(digit) for digit in range(10))


class LeNet5(nn.Module):
    """The tutorial's LeNet-5 for 1x28x28 images."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


@dataclass
class Data:
    name: str
    classes: tuple[str, ...]
    train: torch.utils.data.Dataset
    validation: torch.utils.data.Dataset
    default_epochs: int
    default_validation_batches: int


def fashion_mnist(data_dir: str) -> Data:
    transform = torchvision.transforms.Compose(
        [torchvision.transforms.ToTensor(), torchvision.transforms.Normalize((0.5,), (0.5,))]
    )
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        train = torchvision.datasets.FashionMNIST(data_dir, train=True, transform=transform, download=True)
        validation = torchvision.datasets.FashionMNIST(data_dir, train=False, transform=transform, download=True)
    finally:
        socket.setdefaulttimeout(previous_timeout)
    # 15,000 batches per epoch; validation on the first 1,000 test images keeps it to minutes.
    return Data("Fashion-MNIST", FASHION_CLASSES, train, validation, 1, 250)


def bundled_digits() -> Data:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    resized = np.stack(
        [
            np.asarray(Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((28, 28), Image.BILINEAR))
            for image in digits.images
        ]
    )
    images = torch.from_numpy(resized).float().div(255).sub(0.5).div(0.5).unsqueeze(1)  # Normalize((0.5,), (0.5,))
    labels = torch.from_numpy(digits.target).long()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    train, validation = order[:1437], order[1437:]
    return Data(
        "digits (scikit-learn)",
        DIGIT_CLASSES,
        TensorDataset(images[train], labels[train]),
        TensorDataset(images[validation], labels[validation]),
        5,
        90,
    )


def load_data(data_dir: str, dataset: str) -> Data:
    if dataset in ("auto", "fashion-mnist"):
        try:
            return fashion_mnist(data_dir)
        except Exception as exc:
            if dataset == "fashion-mnist":
                raise
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            print(f"Fashion-MNIST is not in {data_dir!r} and could not be downloaded ({reason}).")
            print("Using the data that ships with scikit-learn instead: 1,797 handwritten digits, resized to 28x28.")
    return bundled_digits()


def validation_loss(model: nn.Module, loader: DataLoader, criterion: nn.Module, batches: int) -> tuple[float, float]:
    loss, accuracy, _, _ = evaluate(model, loader, criterion, batches)
    return loss, accuracy


def evaluate(
    model: nn.Module, loader: DataLoader, criterion: nn.Module, batches: int
) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """Mean loss, accuracy, class probabilities and labels over the first ``batches`` batches."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    probabilities, all_labels = [], []
    with torch.no_grad():
        for index, (inputs, labels) in enumerate(loader):
            if index >= batches:
                break
            outputs = model(inputs)
            total += criterion(outputs, labels).item()
            correct += (outputs.argmax(1) == labels).sum().item()
            count += len(labels)
            probabilities.append(F.softmax(outputs, dim=1))
            all_labels.append(labels)
    model.train()
    mean_loss = total / max(1, min(batches, len(loader)))
    return mean_loss, correct / max(1, count), torch.cat(probabilities), torch.cat(all_labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="where Fashion-MNIST is or is downloaded to")
    parser.add_argument("--dataset", choices=["auto", "fashion-mnist", "digits"], default="auto")
    parser.add_argument("--logdir", default="runs/lenet5_tutorial")
    parser.add_argument("--epochs", type=int, help="default: 1 for Fashion-MNIST, 5 for the digits")
    parser.add_argument("--max-batches", type=int, help="stop each epoch after this many batches")
    parser.add_argument("--validation-batches", type=int, help="batches of 4 per validation pass")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    data = load_data(args.data_dir, args.dataset)
    epochs = args.epochs or data.default_epochs
    validation_batches = args.validation_batches or data.default_validation_batches
    training_loader = DataLoader(data.train, batch_size=4, shuffle=True, num_workers=0)
    validation_loader = DataLoader(data.validation, batch_size=4, shuffle=False, num_workers=0)
    print(f"Data: {data.name}, {len(data.train)} training and {len(data.validation)} validation images.")

    writer = SummaryWriter(args.logdir)
    model = LeNet5()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    images, _ = next(iter(training_loader))
    img_grid = torchvision.utils.make_grid(images) / 2 + 0.5  # unnormalize
    writer.add_image(f"Four {data.name.split()[0]} Images", img_grid)
    log_graphs(writer, model, images)
    first_batches = torch.cat([data.train[i][0].unsqueeze(0) for i in range(32)]) / 2 + 0.5
    log_batch(writer, first_batches, tag="first 32 training images")
    log_grouped_scalars(writer)
    log_trigonometry(writer)
    log_distribution_centers(writer)
    sample_images, sample_labels = next(iter(validation_loader))
    writer.add_text(
        "run",
        f"LeNet-5 on **{data.name}** ({len(data.train)} training images), batch size 4, "
        f"SGD lr 0.001 momentum 0.9, {epochs} epoch(s); validation loss every 100 batches "
        f"on {validation_batches * 4} images.",
    )

    start = time.time()
    batches_per_epoch = min(len(training_loader), args.max_batches or len(training_loader))
    step = 0
    for epoch in range(epochs):
        running_loss = 0.0
        for index, (inputs, labels) in enumerate(training_loader):
            if index >= batches_per_epoch:
                break
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            step = epoch * batches_per_epoch + index
            if index % 100 == 99:
                average = running_loss / 100
                vloss, accuracy = validation_loss(model, validation_loader, criterion, validation_batches)
                writer.add_scalars("Training vs. Validation Loss", {"Training": average, "Validation": vloss}, step)
                print(f"epoch {epoch + 1} batch {index + 1}: training loss {average:.3f}, validation loss {vloss:.3f}")
                running_loss = 0.0
        log_weights(writer, model, epoch)
        with torch.no_grad():
            model.eval()
            sample_probabilities = F.softmax(model(sample_images), dim=1)
            model.train()
        figure = predictions_figure(sample_images, sample_labels, sample_probabilities, data.classes)
        writer.add_figure("predictions vs. actuals", figure, global_step=step)

    vloss, accuracy, probabilities, labels = evaluate(model, validation_loader, criterion, len(validation_loader))
    log_pr_curves(writer, labels, probabilities, data.classes, step=step)
    train_images = torch.cat([data.train[i][0] for i in range(min(len(data.train), 1000))]) / 2 + 0.5
    train_labels = [int(data.train[i][1]) for i in range(len(train_images))]
    log_embedding(writer, train_images.numpy(), train_labels, data.classes)
    writer.add_hparams(
        {"lr": 0.001, "momentum": 0.9, "batch_size": 4, "epochs": epochs, "dataset": data.name},
        {"hparam/accuracy": accuracy, "hparam/loss": vloss},
        run_name="hparams",
    )
    writer.add_text(
        "run",
        f"Finished after {step + 1} batches in {time.time() - start:.0f} s: validation loss {vloss:.3f}, "
        f"accuracy {accuracy:.1%} on {len(data.validation)} images.",
        step + 1,
    )
    writer.close()
    print(f"Final validation loss {vloss:.3f}, accuracy {accuracy:.1%}.")

    files = [path for paths in find_event_files(args.logdir).values() for path in paths]
    reports = [scan_file(path) for path in files]
    damaged = [report for report in reports if not report.sound or report.truncated]
    for report in damaged:
        print(f"event file {report.path} is damaged: {report.problems or report.truncated}")
    if damaged:
        return 1
    print(f"Checked {len(files)} event files ({sum(r.records for r in reports)} records): all sound.")
    visibility = check_logdir(args.logdir)  # what TensorBoard's loaders and projector will show of them
    for finding in visibility.findings:
        print(f"TensorBoard: {finding.run} {finding.subject}: {finding.effect.value}: {finding.reason}")
    if visibility.loses_data:
        return 1
    print(f"TensorBoard will show all of it ({len(visibility.tags)} tags).")
    # The tensorboard next to this Python (the venv's), if the tutorial extra installed it.
    beside = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    tensorboard = "tensorboard"
    if os.path.exists(beside):
        relative = os.path.relpath(beside)
        tensorboard = beside if relative.startswith("..") else relative
    print(f"View them with:  {tensorboard} --logdir {args.logdir}   (then open http://localhost:6006)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
