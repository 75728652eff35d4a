"""The cases of test_goldens.py: one kind of event each, logged through the public API.

Every case gets a fresh ``SummaryWriter`` on a MemoryStorage with a fixed clock, host
name and pid (``new_writer``), logs fixed, small inputs and returns; the test closes the
writer and reads back every file the case wrote. Inputs are chosen to be exact in binary
(quarters, halves, small integers) so that no sum or product depends on the order in
which numpy adds them up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eventwriter import SummaryWriter
from eventwriter.plugins.graphs import graph_def, node_def, run_metadata
from eventwriter.proto.event_pb2 import Event, LogMessage
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.storage import MemoryStorage

CLOCK = 1700000000.25  # a fraction exact in binary: wall times print and parse back exactly
HOSTNAME = "golden"
PID = 1
LOG_DIR = "run"


def new_writer(storage: MemoryStorage, **kwargs: Any) -> SummaryWriter:
    """The writer of one case: every byte it writes depends on the case's calls alone."""
    return SummaryWriter(LOG_DIR, storage=storage, clock=lambda: CLOCK, hostname=HOSTNAME, pid=PID, **kwargs)


@dataclass(frozen=True)
class Case:
    name: str
    log: Callable[[SummaryWriter], None]
    writer_kwargs: dict[str, Any] = field(default_factory=dict)
    needs_pillow: bool = False
    draws_labels: bool = False  # in Pillow's default font


def _scalars_old_style(w: SummaryWriter) -> None:
    w.add_scalar("loss", 0.25, 1)
    w.add_scalar("loss", 1 / 3, 2)  # rounded to float32
    w.add_scalar("loss", 7, 3, walltime=1700000100.5)  # an int value, an explicit wall time
    w.add_scalar("loss", np.float32(1.5), np.int64(4))


def _scalars_new_style(w: SummaryWriter) -> None:
    w.add_scalar("acc", 0.5, 1, new_style=True)  # metadata with the first value only
    w.add_scalar("acc", 0.75, 2, new_style=True)


def _scalars_double(w: SummaryWriter) -> None:
    w.add_scalar("lr", 1 / 3, 1, new_style=True, double_precision=True)
    w.add_scalar("lr", 1e-300, 2, new_style=True, double_precision=True)


def _scalars_step_zero_and_none(w: SummaryWriter) -> None:
    w.add_scalar("x", 1.0, 0)
    w.add_scalar("x", 2.0, None)
    w.add_scalar("x", 3.0)


def _scalars_large_step(w: SummaryWriter) -> None:
    w.add_scalar("x", 1.0, 2**21)  # just past the writer's small-step fast path
    w.add_scalar("x", 2.0, 2**53 + 1)  # not a float
    w.add_scalar("x", 3.0, 2**63 - 1)
    w.add_scalar("x", 4.0, -1)


def _scalars_nan_inf(w: SummaryWriter) -> None:
    for step, value in enumerate([float("nan"), float("inf"), float("-inf")]):
        w.add_scalar("old", value, step)
        w.add_scalar("new", value, step, new_style=True)
        w.add_scalar("double", value, step, new_style=True, double_precision=True)


def _scalars_sub_runs(w: SummaryWriter) -> None:
    w.add_scalars("loss/all", {"train": 0.5, "val": 0.75}, 1)
    w.add_scalars("loss/all", {"train": 0.25, "val": 0.5}, 2)


def _text(w: SummaryWriter) -> None:
    w.add_text("notes", "**bold** and ünïcode\n\n| a | b |\n|---|---|\n| 1 | 2 |", 0)
    w.add_text("notes", "second", 1)


def _tensors(w: SummaryWriter) -> None:
    w.add_tensor("float32", np.array([[0.5, -1.25], [3.0, 1e-3]], dtype=np.float32), 0)
    w.add_tensor("float64", np.array([1 / 3, -0.0]), 0)
    w.add_tensor("float16", np.array([0.5, -2.0, 65504.0, 1e-4], dtype=np.float16), 0)
    w.add_tensor("int64", np.array([[-(2**40), 0, 7]], dtype=np.int64), 0)
    w.add_tensor("uint8", np.array([0, 128, 255], dtype=np.uint8), 0)
    w.add_tensor("bool", np.array([True, False, True]), 0)
    w.add_tensor("string", np.array(["ab", "ünï", ""]), 0)
    w.add_tensor("scalar", np.float32(2.5), 1)


_HISTOGRAM_VALUES = np.array([-1.5, -0.25, 0.0, 0.0, 0.5, 0.75, 1.0, 2.0, 2.0, 3.5, 10.0])


def _histogram_tensorflow_bins(w: SummaryWriter) -> None:
    # TensorFlow's edges grow by 1.1 from 1e-12: values around 0 would fill hundreds of buckets.
    w.add_histogram("weights", np.array([0.5, 0.75, 1.0, 2.0, 2.0, 3.5]), 0)
    w.add_histogram("negative", np.array([-2.0, -1.5, -1.25, -1.25]), 0)
    w.add_histogram("weights", np.array([[1, 2], [2, 3]], dtype=np.int32), 1)


def _histogram_edges(w: SummaryWriter) -> None:
    w.add_histogram("edges", _HISTOGRAM_VALUES, 0, bins=[-2.0, 0.0, 1.0, 4.0, 16.0])
    w.add_histogram("count", _HISTOGRAM_VALUES, 0, bins=4)
    w.add_histogram("merged", _HISTOGRAM_VALUES, 0, bins=8, max_bins=3)


def _histogram_numpy_rule(w: SummaryWriter) -> None:
    w.add_histogram("auto", _HISTOGRAM_VALUES, 0, bins="auto")
    w.add_histogram("sturges", _HISTOGRAM_VALUES, 0, bins="sturges")


def _histogram_raw(w: SummaryWriter) -> None:
    w.add_histogram_raw("raw", -1.0, 3.0, 6, 4.5, 13.25, [0.0, 1.0, 2.0, 3.0], [1, 2, 2, 1], 5)


def _image_float_chw(w: SummaryWriter) -> None:
    pixels = np.linspace(0.0, 1.0, 3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    pixels[0, 0, 0] = 2.0  # clipped to 255
    w.add_image("float_chw", pixels, 0)


def _image_uint8_hwc(w: SummaryWriter) -> None:
    pixels = (np.arange(3 * 4 * 3) * 7 % 256).astype(np.uint8).reshape(3, 4, 3)
    w.add_image("uint8_hwc", pixels, 0, dataformats="HWC")
    rgba = np.full((2, 2, 4), 200, dtype=np.uint8)
    rgba[..., 3] = [[0, 64], [128, 255]]
    w.add_image("uint8_hwc", rgba, 1, dataformats="HWC")


def _image_grey_hw(w: SummaryWriter) -> None:
    w.add_image("grey", np.array([[0.0, 0.25], [0.5, 1.0], [0.75, 0.125]]), 0, dataformats="HW")


def _images_nchw(w: SummaryWriter) -> None:
    batch = np.stack([np.full((3, 2, 3), level, dtype=np.float32) for level in (0.0, 0.5, 1.0)])
    batch[1, 0] = 1.0  # the second image reddish
    w.add_images("batch", batch, 0)


def _boxes_image() -> np.ndarray:
    pixels = np.zeros((3, 24, 32), dtype=np.float32)
    pixels[1] = 0.5
    return pixels


_BOXES = np.array([[2, 2, 12, 10], [14, 6, 30, 22]])


def _image_with_boxes(w: SummaryWriter) -> None:
    w.add_image_with_boxes("boxes", _boxes_image(), _BOXES, 0)


def _image_with_boxes_and_labels(w: SummaryWriter) -> None:
    w.add_image_with_boxes("labelled", _boxes_image(), _BOXES, 0, labels=["a", "bc"])


def _video(w: SummaryWriter) -> None:
    frames = np.zeros((1, 3, 3, 4, 6), dtype=np.uint8)  # N, T, C, H, W: three different frames
    for time in range(3):
        frames[0, time, time % 3] = 255
        frames[0, time, :, time, :] = 100
    w.add_video("clip", frames, 0, fps=5)


def _audio_mono(w: SummaryWriter) -> None:
    w.add_audio("mono", np.array([0.0, 0.5, -0.5, 1.0, -1.0, 0.25]), 0, sample_rate=8000)


def _audio_stereo(w: SummaryWriter) -> None:
    w.add_audio("stereo", np.array([[0.0, 0.5, 1.0], [-0.25, -0.5, -1.0]], dtype=np.float32), 0, sample_rate=22050)


def _pr_curve(w: SummaryWriter) -> None:
    labels = np.array([0, 1, 1, 0, 1, 1, 0, 0])
    predictions = np.array([0.125, 0.875, 0.625, 0.5, 0.25, 1.0, 0.0, 0.375])
    w.add_pr_curve("pr", labels, predictions, 0, num_thresholds=5)
    w.add_pr_curve("pr", labels, predictions, 1, num_thresholds=5, weights=np.full(8, 0.5))


def _pr_curve_raw(w: SummaryWriter) -> None:
    w.add_pr_curve_raw(
        "pr_raw", [4, 3, 2, 1], [4, 2, 1, 0], [0, 2, 3, 4], [0, 1, 2, 3],
        [0.5, 0.6, 0.75, 1.0], [1.0, 0.75, 0.5, 0.25], 3, num_thresholds=4,
    )  # fmt: skip


def _mesh(w: SummaryWriter) -> None:
    vertices = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]], dtype=np.uint8)
    faces = np.array([[[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]])
    config = {"camera": {"cls": "PerspectiveCamera", "fov": 75}, "lights": [{"cls": "AmbientLight"}]}
    w.add_mesh("tetrahedron", vertices, colors, faces, config, 0)
    w.add_mesh("points", vertices, global_step=1)


_HPARAMS = {"lr": 0.125, "optimizer": "adam", "layers": 3, "dropout": True, "unused": None}
_DOMAINS = {"optimizer": ["adam", "sgd"], "dropout": [True, False]}


def _hparams_child_run(w: SummaryWriter) -> None:
    w.add_hparams(_HPARAMS, {"hparam/accuracy": 0.75, "hparam/loss": 0.5}, _DOMAINS, run_name="trial")
    w.add_hparams({"lr": 0.5}, {"hparam/accuracy": 0.25})  # run name from the clock


def _hparams_same_run(w: SummaryWriter) -> None:
    w.add_hparams(_HPARAMS, {"hparam/accuracy": 0.75}, _DOMAINS, global_step=2, same_run=True)


def _custom_scalars(w: SummaryWriter) -> None:
    w.add_custom_scalars(
        {
            "Training": {"loss": ["Multiline", ["loss/train", "loss/val"]]},
            "Bounds": {"band": ["Margin", ["value", "lower", "upper"]]},
        }
    )


def _purge_step(w: SummaryWriter) -> None:
    w.add_scalar("x", 1.0, 5)


def _reopen_after_close(w: SummaryWriter) -> None:
    w.add_scalar("x", 1.0, 1, new_style=True)
    w.close()
    w.add_scalar("x", 2.0, 2, new_style=True)  # a new file, with the metadata again


def _graph(w: SummaryWriter) -> None:
    nodes = [
        node_def("input/x", "IO Node", output_shape=[1, 3], attributes=None),
        node_def("Net/Linear[fc]/weight", "prim::GetAttr", ["input/x"], attributes="{ name : weight }"),
        node_def("Net/Linear[fc]/out", "aten::linear", ["input/x", "Net/Linear[fc]/weight"], [1, 2]),
        node_def("output/output.1", "IO Node", ["Net/Linear[fc]/out"], [1, 2]),
    ]
    w.file_writer.add_graph((graph_def(nodes), run_metadata()))


def _embedding(w: SummaryWriter) -> None:
    mat = np.array([[0.5, -1.0, 1 / 3], [2.0, 0.0, -1e-5], [1e10, 3.0, -0.25]])
    thumbnails = np.zeros((3, 1, 2, 2), dtype=np.float32)
    thumbnails[:, 0, 0, 0] = [0.0, 0.5, 1.0]
    w.add_embedding(mat, ["a", "b\tc", "ü"], thumbnails, global_step=3, tag="words/v1")
    rows = [["a", 1], ["b", 2], ["c", 3]]
    w.add_embedding(mat[:, :2], rows, metadata_header=["name", "id"], tag="binary", binary=True)


def _add_summary_and_event(w: SummaryWriter) -> None:
    writer = w.file_writer
    built = Summary(value=[Summary.Value(tag="own", simple_value=0.5)])
    writer.add_summary(built, 7, walltime=1700000200.0)
    writer.add_event(Event(log_message=LogMessage(level=LogMessage.WARN, message="careful")), step=8)


CASES = [
    Case("scalar_old_style", _scalars_old_style),
    Case("scalar_new_style", _scalars_new_style),
    Case("scalar_new_style_double", _scalars_double),
    Case("scalar_step_zero_and_none", _scalars_step_zero_and_none),
    Case("scalar_large_step", _scalars_large_step),
    Case("scalar_nan_inf", _scalars_nan_inf),
    Case("scalars_sub_runs", _scalars_sub_runs),
    Case("text", _text),
    Case("tensor_dtypes", _tensors),
    Case("histogram_tensorflow_bins", _histogram_tensorflow_bins),
    Case("histogram_edges_and_counts", _histogram_edges),
    Case("histogram_numpy_rules", _histogram_numpy_rule),
    Case("histogram_raw", _histogram_raw),
    Case("image_float_chw", _image_float_chw),
    Case("image_uint8_hwc", _image_uint8_hwc),
    Case("image_grey_hw", _image_grey_hw),
    Case("images_nchw", _images_nchw),
    Case("image_with_boxes", _image_with_boxes, needs_pillow=True),
    Case("image_with_boxes_and_labels", _image_with_boxes_and_labels, needs_pillow=True, draws_labels=True),
    Case("video", _video, needs_pillow=True),
    Case("audio_mono", _audio_mono),
    Case("audio_stereo", _audio_stereo),
    Case("pr_curve", _pr_curve),
    Case("pr_curve_raw", _pr_curve_raw),
    Case("mesh", _mesh),
    Case("hparams_child_run", _hparams_child_run),
    Case("hparams_same_run", _hparams_same_run),
    Case("custom_scalars", _custom_scalars),
    Case("purge_step", _purge_step, writer_kwargs={"purge_step": 5}),
    Case("reopen_after_close", _reopen_after_close),
    Case("graph", _graph),
    Case("embedding", _embedding),
    Case("add_summary_and_event", _add_summary_and_event),
]
