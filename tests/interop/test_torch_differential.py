"""The same calls through torch.utils.tensorboard and eventwriter, compared value by value.

Both log dirs are read with tensorboard's own readers: its event file loader (the path
TensorBoard's plugins see, after data_compat), the legacy EventAccumulator, and the
plugin EventAccumulator the TensorBoard server uses.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from tbread import accumulate, accumulate_tensors, assert_same_loaded_runs, run_dirs
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

from eventwriter import SummaryWriter
from eventwriter.proto import types_pb2

WALL = 1_790_000_000.0


def both(tmp_path, calls, **writer_kwargs):
    """Run ``calls(writer)`` with each writer; return (torch log dir, our log dir)."""
    dirs = []
    for name, cls in [("torch", TorchSummaryWriter), ("ours", SummaryWriter)]:
        logdir = str(tmp_path / name)
        with cls(logdir, **writer_kwargs) as writer:
            calls(writer)
        dirs.append(logdir)
    return dirs[0], dirs[1]


def scalar_calls(writer):
    values = [
        1, 2.5, -0.0, math.nan, math.inf, -math.inf, 1e-30, 3.4e38, np.float32(0.1), np.float64(0.1), np.int64(3),
        np.array(4.5), np.array([5.5]), torch.tensor(6.5), torch.tensor([7.5]), torch.tensor([[8.5]]),
        torch.tensor(0.1, dtype=torch.float64), torch.tensor(1.5, dtype=torch.bfloat16),
        torch.tensor(2.5, dtype=torch.float16), torch.tensor(9, dtype=torch.int32), torch.tensor(True),
    ]  # fmt: skip
    for step, value in enumerate(values):
        writer.add_scalar("scalar/old", value, step, walltime=WALL + step)
        writer.add_scalar("scalar/new", value, step, walltime=WALL + step, new_style=True)
        writer.add_scalar("scalar/double", value, step, walltime=WALL + step, new_style=True, double_precision=True)
    for step in [0, 1, 127, 128, 2**31, 2**40, -5, np.int32(7), torch.tensor(8)]:
        writer.add_scalar("scalar/steps", 1.0, step, walltime=WALL)
    writer.add_scalar("scalar/no_step", 3.0, walltime=WALL)


def test_add_scalar(tmp_path):
    torch_dir, our_dir = both(tmp_path, scalar_calls)
    assert_same_loaded_runs(torch_dir, our_dir)
    theirs, ours = accumulate(torch_dir), accumulate(our_dir)
    assert theirs.Tags()["scalars"] == ours.Tags()["scalars"] == ["scalar/old", "scalar/steps", "scalar/no_step"]
    assert theirs.Tags()["tensors"] == ours.Tags()["tensors"] == ["scalar/new", "scalar/double"]
    for tag in theirs.Tags()["scalars"]:
        their_points = [(s.step, s.wall_time, s.value) for s in theirs.Scalars(tag)]
        our_points = [(s.step, s.wall_time, s.value) for s in ours.Scalars(tag)]
        np.testing.assert_array_equal(np.array(their_points), np.array(our_points))


def test_add_scalar_on_a_cuda_tensor_if_available(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_scalar("x", torch.tensor(1.5, device="cuda"), 0, WALL))
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_scalar_on_the_plugin_data_path(tmp_path):
    torch_dir, our_dir = both(tmp_path, scalar_calls)
    theirs, ours = accumulate_tensors(torch_dir), accumulate_tensors(our_dir)
    assert theirs.Tags()["tensors"] == ours.Tags()["tensors"]
    for tag in theirs.Tags()["tensors"]:
        assert theirs.SummaryMetadata(tag) == ours.SummaryMetadata(tag)
        their_values = [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in theirs.Tensors(tag)]
        our_values = [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in ours.Tensors(tag)]
        assert [s for s, _ in their_values] == [s for s, _ in our_values]
        np.testing.assert_array_equal([v for _, v in their_values], [v for _, v in our_values])


def test_add_scalars(tmp_path):
    def calls(writer):
        for step in range(5):
            writer.add_scalars(
                "Training vs. Validation Loss", {"Training": 1.0 / (step + 1), "Validation": step}, step, WALL
            )
            writer.add_scalars(
                "run_14h/xsinx", {"xsinx": step * np.sin(step / 5), "tanx": torch.tensor(np.tan(step / 5))}, step, WALL
            )

    torch_dir, our_dir = both(tmp_path, calls)
    assert sorted(run_dirs(our_dir)) == [
        ".", "Training vs. Validation Loss_Training", "Training vs. Validation Loss_Validation",
        "run_14h_xsinx_tanx", "run_14h_xsinx_xsinx",
    ]  # fmt: skip
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_text(tmp_path):
    def calls(writer):
        writer.add_text("lstm", "This is an lstm", 0, WALL)
        writer.add_text("rnn", "# Heading\n\n| a | b |\n|---|---|\n| ü | 🙂 |", 10, WALL)
        writer.add_text("rnn", "", 11, WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)
    theirs, ours = accumulate(torch_dir), accumulate(our_dir)
    assert theirs.Tags()["tensors"] == ours.Tags()["tensors"] == ["lstm/text_summary", "rnn/text_summary"]
    assert [e.tensor_proto for e in theirs.Tensors("rnn/text_summary")] == [
        type(e.tensor_proto).FromString(e.tensor_proto.SerializeToString()) for e in ours.Tensors("rnn/text_summary")
    ]


@pytest.mark.parametrize(
    "tensor",
    [
        torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7,
        torch.tensor([[1.5, -2.5]], dtype=torch.float64),
        torch.tensor([1, -2, 3], dtype=torch.int8),
        torch.tensor([1, -2, 3], dtype=torch.int16),
        torch.tensor([1, -2, 3], dtype=torch.int32),
        torch.tensor([1, -2, 2**40], dtype=torch.int64),
        torch.tensor([True, False, True]),
        torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64),
        torch.tensor([1 + 2j], dtype=torch.complex128),
        torch.tensor(5.0),
    ],
    ids=lambda t: str(t.dtype),
)
def test_add_tensor(tmp_path, tensor):
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_tensor("t", tensor, 3, WALL))
    assert_same_loaded_runs(torch_dir, our_dir)
    loaded = accumulate(our_dir).Tensors("t")[0].tensor_proto
    np.testing.assert_array_equal(tensor_util.make_ndarray(loaded), tensor.numpy())


def test_purge_step(tmp_path):
    def calls(writer):
        writer.add_scalar("x", 1.0, 5, WALL)

    torch_dir, our_dir = both(tmp_path, calls, purge_step=5)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_purge_step_hides_the_crashed_steps_in_tensorboard(tmp_path):
    for cls, name in [(TorchSummaryWriter, "torch"), (SummaryWriter, "ours")]:
        logdir = str(tmp_path / name)
        with cls(logdir) as writer:
            for step in range(10):
                writer.add_scalar("x", float(step), step, WALL)
        with cls(logdir, purge_step=6) as writer:
            writer.add_scalar("x", 60.0, 6, WALL + 1)
    theirs = [(s.step, s.value) for s in accumulate(str(tmp_path / "torch")).Scalars("x")]
    ours = [(s.step, s.value) for s in accumulate(str(tmp_path / "ours")).Scalars("x")]
    assert theirs == ours == [(step, float(step)) for step in range(6)] + [(6, 60.0)]


def test_walltime_defaults_to_now(tmp_path):
    before = __import__("time").time()
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalar("x", 1.0, 0)
    (point,) = accumulate(str(tmp_path)).Scalars("x")
    assert before <= point.wall_time <= __import__("time").time()


# -- where eventwriter differs from torch on purpose (README, "Differences from torch") --


@pytest.mark.parametrize(
    "tensor",
    [torch.tensor([1.5, -2.0, 65504.0], dtype=torch.float16), torch.tensor([0, 7, 255], dtype=torch.uint8)],
    ids=["float16", "uint8"],
)
def test_difference_add_tensor_float16_and_uint8_read_back_correctly(tmp_path, tensor):
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_tensor("t", tensor, 0, WALL))
    ours = tensor_util.make_ndarray(accumulate(our_dir).Tensors("t")[0].tensor_proto)
    assert ours.dtype == tensor.numpy().dtype
    np.testing.assert_array_equal(ours, tensor.numpy())
    # torch stores float32 bit patterns in half_val, and uint8 in uint32_val, which the
    # reader ignores for DT_UINT8: its files fail to load.
    theirs = accumulate(torch_dir).Tensors("t")[0].tensor_proto
    with pytest.raises((ValueError, OverflowError)):
        tensor_util.make_ndarray(theirs)


def test_difference_add_tensor_bfloat16_holds_the_16_bits(tmp_path):
    tensor = torch.tensor([1.5, -2.0, 3.0e38], dtype=torch.bfloat16)
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_tensor("t", tensor, 0, WALL))
    expected_bits = tensor.view(torch.int16).numpy().astype(np.uint16)
    ours = accumulate(our_dir).Tensors("t")[0].tensor_proto
    theirs = accumulate(torch_dir).Tensors("t")[0].tensor_proto
    assert ours.dtype == theirs.dtype == types_pb2.DT_BFLOAT16
    np.testing.assert_array_equal(np.array(ours.half_val, dtype=np.uint16), expected_bits)
    assert max(theirs.half_val) > 0xFFFF  # 32-bit patterns, no bfloat16 reader decodes them


def test_difference_add_scalars_key_cannot_escape_the_log_dir(tmp_path):
    key = "../../../escaped"
    torch_log = tmp_path / "torch" / "a" / "run"
    with TorchSummaryWriter(str(torch_log)) as writer:
        writer.add_scalars("m", {key: 1.0}, 0)
    assert (tmp_path / "torch" / "a" / "escaped").is_dir()  # torch wrote outside its log dir
    our_log = tmp_path / "ours" / "a" / "run"
    with SummaryWriter(str(our_log)) as writer:
        with pytest.raises(ValueError, match="outside the log dir"):
            writer.add_scalars("m", {key: 1.0}, 0)
    assert sorted(os.listdir(tmp_path / "ours" / "a")) == ["run"]


def test_difference_non_integer_step_and_string_values_are_refused(tmp_path):
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        writer.add_scalar("x", "2.5", 1.7)  # torch: value 2.5 at step 1, silently
    assert [(s.step, s.value) for s in accumulate(str(tmp_path / "torch")).Scalars("x")] == [(1, 2.5)]
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        with pytest.raises(ValueError, match="global_step must be an integer"):
            writer.add_scalar("x", 2.5, 1.7)
        with pytest.raises(TypeError, match="scalar_value"):
            writer.add_scalar("x", "2.5", 1)


def test_difference_file_writer_reopen_works(tmp_path):
    from torch.utils.tensorboard.writer import FileWriter as TorchFileWriter

    from eventwriter import FileWriter

    theirs = TorchFileWriter(str(tmp_path / "torch"))
    theirs.close()
    with pytest.raises(AttributeError):
        theirs.reopen()
    ours = FileWriter(str(tmp_path / "ours"))
    ours.close()
    ours.reopen()
    ours.close()
    assert len(os.listdir(tmp_path / "ours")) == 2


def test_difference_a_writers_later_files_sort_after_its_earlier_ones(tmp_path, monkeypatch):
    # Both name files "...tfevents.<seconds>.<host>.<pid>.<counter>"; within one second
    # the counter decides, and it sorts as text: ".10" before ".8". TensorBoard reads a
    # run's files in name order, so torch's third file's step comes first.
    import itertools
    import types

    from tensorboard.summary.writer import event_file_writer

    from eventwriter import event_file

    monkeypatch.setattr(event_file_writer, "_global_uid", event_file_writer.AtomicCounter(8))
    monkeypatch.setattr(event_file_writer, "time", types.SimpleNamespace(time=lambda: 1_700_000_000.0))
    monkeypatch.setattr(event_file, "_file_counter", itertools.count(8))

    def three_files(writer):  # a writer used again after close() opens a new file
        for step in range(3):
            writer.add_scalar("x", float(step), step)
            writer.close()

    torch_dir, our_dir = both(tmp_path, three_files)
    assert [e.step for e in accumulate(torch_dir).Scalars("x")] == [2, 0, 1]
    assert [e.step for e in accumulate(our_dir).Scalars("x")] == [0, 1, 2]


def test_difference_first_event_names_the_writer(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    torch_dir, our_dir = both(tmp_path, lambda w: None)
    firsts = []
    for logdir in (torch_dir, our_dir):
        (name,) = os.listdir(logdir)
        firsts.append(next(iter(LegacyEventFileLoader(os.path.join(logdir, name)).Load())))
    assert firsts[0].file_version == firsts[1].file_version == "brain.Event:2"
    assert firsts[0].source_metadata.writer == "tensorboard.summary.writer.event_file_writer"
    assert firsts[1].source_metadata.writer == "eventwriter"


def decoded_images(logdir, tag):
    import io

    from PIL import Image

    return [
        (e.step, e.width, e.height, np.asarray(Image.open(io.BytesIO(e.encoded_image_string))))
        for e in accumulate(logdir).Images(tag)
    ]


IMAGE_CASES = [
    ("add_image", torch.rand(3, 20, 30), "CHW"),
    ("add_image", torch.rand(1, 20, 30), "CHW"),
    ("add_image", (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8), "HWC"),
    ("add_image", np.random.default_rng(1).random((20, 30)) * 1.3 - 0.1, "HW"),
    ("add_image", torch.rand(20, 3, 30), "HCW"),
    ("add_image", np.random.default_rng(2).random((20, 30, 4)), "HWC"),
    ("add_images", torch.rand(10, 1, 28, 28), "NCHW"),
    ("add_images", torch.rand(3, 12, 14, 3), "NHWC"),
]


@pytest.mark.parametrize(
    ("method", "pixels", "dataformats"), IMAGE_CASES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_images_have_torchs_pixels(tmp_path, method, pixels, dataformats):
    torch_dir, our_dir = both(tmp_path, lambda w: getattr(w, method)("img", pixels, 4, WALL, dataformats=dataformats))
    theirs, ours = decoded_images(torch_dir, "img"), decoded_images(our_dir, "img")
    assert [t[:3] for t in theirs] == [o[:3] for o in ours]
    np.testing.assert_array_equal(theirs[0][3], ours[0][3])
    assert_same_loaded_runs(torch_dir, our_dir)


def test_tutorial_image_grid(tmp_path):
    import torchvision

    images = torch.rand(4, 1, 28, 28) * 2 - 1
    grid = torchvision.utils.make_grid(images) / 2 + 0.5
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_image("Four Fashion-MNIST Images", grid, walltime=WALL))
    assert_same_loaded_runs(torch_dir, our_dir)


@pytest.mark.parametrize(
    "call",
    [
        lambda w, meta: w.add_scalar("m", meta, 0),
        lambda w, meta: w.add_scalar("m", 1.0, meta.long()),
        lambda w, meta: w.add_scalars("m", {"a": meta}, 0),
    ],
    ids=["value", "step", "add_scalars"],
)
def test_meta_tensors_are_refused_naming_the_tag(tmp_path, call):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError, match=r"'m.*'meta' device, which holds no data"):
            call(writer, torch.ones((), device="meta"))
        writer.add_scalar("after", 1.0, 0)
    assert [tag for tag in accumulate(str(tmp_path)).Tags()["scalars"]] == ["after"]
