"""``eventwriter.summary`` builds the same Summary protos as ``torch.utils.tensorboard.summary``.

Our protos are parsed into tensorboard's classes and compared message by message.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.compat.proto.summary_pb2 import Summary as TensorBoardSummary
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from torch.utils.tensorboard import summary as torch_summary

from eventwriter import summary

rng = np.random.default_rng(0)
IMAGE = rng.random((3, 10, 12)).astype(np.float32)
LABELS, PREDICTIONS = rng.integers(0, 2, 50), rng.random(50)
VERTICES = torch.rand(1, 5, 3)
COLORS = torch.randint(0, 255, (1, 5, 3))
FACES = torch.tensor([[[0, 1, 2], [2, 3, 4]]])

CASES = {
    "scalar": lambda m: m.scalar("loss", 0.25),
    "scalar_new_style": lambda m: m.scalar("loss", torch.tensor(0.25), new_style=True),
    "text": lambda m: m.text("note", "**hi**"),
    "tensor_proto": lambda m: m.tensor_proto("t", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
    "histogram": lambda m: m.histogram("h", np.linspace(0, 1, 100), bins="auto"),
    "histogram_raw": lambda m: m.histogram_raw("h", 0, 1, 3, 1.5, 1.25, [0.5, 1.0], [1, 2]),
    "image": lambda m: m.image("img", IMAGE, dataformats="CHW"),
    "image_batch_of_one": lambda m: m.image("img", IMAGE[None], rescale=1),
    "image_boxes": lambda m: m.image_boxes("b", IMAGE, np.array([[1, 1, 8, 6]]), labels=["x"]),
    "audio": lambda m: m.audio("a", torch.linspace(-0.5, 0.5, 100), sample_rate=8000),
    "pr_curve": lambda m: m.pr_curve("pr", LABELS, PREDICTIONS, num_thresholds=20),
    "pr_curve_raw": lambda m: m.pr_curve_raw(
        "pr", [3, 1], [2, 0], [0, 2], [0, 2], [0.6, 1.0], [1.0, 0.3], num_thresholds=2
    ),
    "mesh": lambda m: m.mesh("mesh", VERTICES, COLORS, FACES, {"camera": {"fov": 75}}),
    "custom_scalars": lambda m: m.custom_scalars(
        {"c": {"t": ["Multiline", ["a", "b"]], "m": ["Margin", ["v", "l", "u"]]}}
    ),
}


def decoded(message):
    """The summary with each PNG replaced by its pixels (our PNG bytes differ from Pillow's)."""
    message = TensorBoardSummary.FromString(message.SerializeToString())
    for value in message.value:
        if value.HasField("image"):
            pixels = np.asarray(Image.open(io.BytesIO(value.image.encoded_image_string)))
            value.image.encoded_image_string = pixels.tobytes() + str(pixels.shape).encode()
    return message


@pytest.mark.parametrize("case", list(CASES))
def test_builder_matches_torch(case):
    theirs = CASES[case](torch_summary)
    ours = TensorBoardSummary.FromString(CASES[case](summary).SerializeToString())
    assert decoded(ours) == decoded(theirs)


def test_hparams_builder_matches_torch():
    hparams = {"lr": 0.1, "layers": 3, "optimizer": "adam", "skip": None}
    theirs = torch_summary.hparams(hparams, {"accuracy": 1.0}, {"optimizer": ["adam", "sgd"]})
    ours = summary.hparams(hparams, {"accuracy": 1.0}, {"optimizer": ["adam", "sgd"]})

    def parts(summaries):  # the content compared decoded: ours has the hparams map in key order
        values = [TensorBoardSummary.FromString(s.SerializeToString()).value[0] for s in summaries]
        plugins = [v.metadata.plugin_data for v in values]
        return [(v.tag, p.plugin_name, HParamsPluginData.FromString(p.content)) for v, p in zip(values, plugins)]

    assert parts(ours) == parts(theirs)


def test_make_histogram_and_compute_curve_match_torch():
    values = rng.normal(size=1000)
    assert summary.make_histogram(values, "fd", max_bins=10).SerializeToString() == (
        torch_summary.make_histogram(values, "fd", max_bins=10).SerializeToString()
    )
    np.testing.assert_array_equal(
        summary.compute_curve(LABELS, PREDICTIONS, 30), torch_summary.compute_curve(LABELS, PREDICTIONS, 30)
    )
