"""Every reader of eventwriter.tables against TensorBoard's own loading path, on files
written by torch.utils.tensorboard, tensorboardX, TensorBoard's own writer with TF2-style
summaries, and eventwriter: the same runs, tags, steps, wall times and values."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pandas = pytest.importorskip("pandas")
pytest.importorskip("tensorboard")

from tbread import accumulate_tensors, run_dirs  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

import eventwriter  # noqa: E402
from eventwriter import DamagedRecordWarning  # noqa: E402
from eventwriter.reader import iter_records  # noqa: E402


def log_everything(writer_class, log_dir: str, new_style: bool = True) -> None:
    """The same calls through any writer with torch's API (tensorboardX has no new-style scalars)."""
    generator = np.random.default_rng(0)
    writer = writer_class(log_dir)
    for step in range(30):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        if new_style:
            writer.add_scalar("acc/new", step / 30, step, new_style=True)
            writer.add_scalar("acc/double", step / 7, step, new_style=True, double_precision=True)
    writer.add_scalar("odd", math.nan, 30)
    writer.add_scalar("odd", math.inf, 31)
    writer.add_scalar("odd", -math.inf, 32)
    writer.add_scalars("both", {"a": 1.0, "b": 2.0}, 3)
    for step in range(3):
        writer.add_histogram("weights", generator.normal(size=1000), step)
        writer.add_image("picture", generator.integers(0, 255, (3, 8, 6), dtype=np.uint8), step)
        writer.add_text("note", f"step **{step}**", step)
        labels = generator.integers(0, 2, 50)
        writer.add_pr_curve("pr", labels, generator.random(50), step, num_thresholds=11)
    for trial, lr in enumerate((0.1, 0.01)):
        name = {"run_name" if new_style else "name": f"t{trial}"}  # tensorboardX calls it name
        writer.add_hparams({"lr": lr, "optimizer": "adam", "trial": trial}, {"hp/score": lr * 10}, **name)
    writer.close()


def tensorboardx_writer():
    tensorboardx = pytest.importorskip("tensorboardX")
    return tensorboardx.SummaryWriter


def tf2_style(log_dir: str) -> None:
    """Summaries as TensorFlow 2's tf.summary writes them (tensor scalars in
    tensor_content, [k, 3] histograms, text tensors), through TensorBoard's writer."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.histogram import summary_v2 as histogram
    from tensorboard.plugins.scalar import summary_v2 as scalar
    from tensorboard.plugins.text import summary_v2 as text
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(log_dir)
    generator = np.random.default_rng(1)
    for step in range(20):
        summary = scalar.scalar_pb("loss", np.float32(1.0 / (step + 1)))
        writer.add_event(Event(wall_time=1000.0 + step, step=step, summary=summary))
    writer.add_event(Event(wall_time=2000.0, step=0, summary=histogram.histogram_pb("h", generator.normal(size=100))))
    writer.add_event(Event(wall_time=2001.0, step=0, summary=text.text_pb("t", "hello")))
    writer.close()


@pytest.fixture(scope="module")
def logdirs(tmp_path_factory):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    root = tmp_path_factory.mktemp("tables")
    made = {}
    for name, writer_class in (("torch", TorchWriter), ("eventwriter", eventwriter.SummaryWriter)):
        log_everything(writer_class, str(root / name))
        made[name] = str(root / name)
    try:
        log_everything(tensorboardx_writer(), str(root / "tensorboardx"), new_style=False)
        made["tensorboardx"] = str(root / "tensorboardx")
    except pytest.skip.Exception:
        pass
    tf2_style(str(root / "tf2"))
    made["tf2"] = str(root / "tf2")
    return made


def tensorboard_view(logdir: str) -> dict[tuple[str, str], tuple[str, list]]:
    """(run, tag) -> (plugin, [(step, wall_time, ndarray)]) as TensorBoard's loading path
    (data_compat, as the server uses) makes them."""
    view = {}
    for run, directory in run_dirs(logdir).items():
        accumulator = accumulate_tensors(directory)
        for tag in accumulator.Tags()["tensors"]:
            plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
            points = [(e.step, e.wall_time, tensor_util.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)]
            view[run, tag] = (plugin, points)
    return view


def by_run_and_tag(frame) -> dict[tuple[str, str], list]:
    grouped: dict[tuple[str, str], list] = {}
    for row in frame.itertuples(index=False):
        grouped.setdefault((str(row.run), str(row.tag)), []).append(row)
    return grouped


WRITERS = ["torch", "eventwriter", "tensorboardx", "tf2"]


@pytest.mark.parametrize("writer", WRITERS)
def test_scalars_are_tensorboards(logdirs, writer):
    if writer not in logdirs:
        pytest.skip("tensorboardX is not installed")
    frame = eventwriter.read_scalars(logdirs[writer])
    assert list(frame.columns) == ["run", "tag", "step", "wall_time", "value"]
    ours = by_run_and_tag(frame)
    theirs = {key: points for key, (plugin, points) in tensorboard_view(logdirs[writer]).items() if plugin == "scalars"}
    assert sorted(ours) == sorted(theirs)
    for key, points in theirs.items():
        rows = ours[key]
        assert [(r.step, r.wall_time) for r in rows] == [(p[0], p[1]) for p in points], key
        np.testing.assert_array_equal([r.value for r in rows], [float(p[2]) for p in points], err_msg=str(key))
    if writer != "tf2":
        odd = [r.value for r in ours[".", "odd"]]
        assert math.isnan(odd[0]) and odd[1:] == [math.inf, -math.inf]
        sub_runs = {"both_a", "both_b"} if writer != "tensorboardx" else {"both/a", "both/b"}
        assert {key[0] for key in ours} >= {".", "t0", "t1", *sub_runs}


@pytest.mark.parametrize("writer", WRITERS)
def test_histograms_images_text_and_pr_curves_are_tensorboards(logdirs, writer):
    if writer not in logdirs:
        pytest.skip("tensorboardX is not installed")
    view = tensorboard_view(logdirs[writer])
    histograms = by_run_and_tag(eventwriter.read_histograms(logdirs[writer]))
    images = by_run_and_tag(eventwriter.read_images(logdirs[writer], decode=True))
    texts = by_run_and_tag(eventwriter.read_text(logdirs[writer]))
    curves = by_run_and_tag(eventwriter.read_pr_curves(logdirs[writer]))
    seen = set()
    for key, (plugin, points) in view.items():
        table = {"histograms": histograms, "images": images, "text": texts, "pr_curves": curves}.get(plugin)
        if table is None:
            continue
        seen.add(plugin)
        rows = table[key]
        assert [(r.step, r.wall_time) for r in rows] == [(p[0], p[1]) for p in points], key
        for row, (_, _, array) in zip(rows, points):
            if plugin == "histograms":
                buckets = np.stack([row.edges[:-1], row.edges[1:], row.counts], axis=1)
                np.testing.assert_array_equal(buckets.astype(array.dtype), array)  # TensorBoard's are float32
            elif plugin == "images":
                assert [str(row.width).encode(), str(row.height).encode(), row.image] == list(array)
                assert row.pixels.shape[:2] == (row.height, row.width)
            elif plugin == "text":
                assert row.text == array.item().decode()
            else:
                np.testing.assert_array_equal(
                    np.stack([getattr(row, name) for name in eventwriter.tables._PR_ROWS]), array
                )
                assert len(row.thresholds) == array.shape[1]
        assert len(rows) == len(points)
    expected = {"histograms", "text"} if writer == "tf2" else {"histograms", "images", "text", "pr_curves"}
    assert seen == expected


@pytest.mark.parametrize("writer", ["torch", "eventwriter", "tensorboardx"])
def test_tensors_are_make_ndarrays(logdirs, writer):
    if writer not in logdirs:
        pytest.skip("tensorboardX is not installed")
    frame = eventwriter.read_tensors(logdirs[writer])
    view = tensorboard_view(logdirs[writer])
    assert len(frame)
    for row in frame.itertuples(index=False):
        points = view[str(row.run), str(row.tag)][1]
        matches = [p for p in points if p[0] == row.step and p[1] == row.wall_time]
        assert matches, (row.run, row.tag)
        assert row.tensor.dtype == matches[0][2].dtype
        np.testing.assert_array_equal(row.tensor, matches[0][2])


@pytest.mark.parametrize("writer", ["torch", "eventwriter", "tensorboardx"])
def test_hparams_one_row_per_session(logdirs, writer):
    if writer not in logdirs:
        pytest.skip("tensorboardX is not installed")
    frame = eventwriter.read_hparams(logdirs[writer])
    assert list(frame.columns) == ["run", "lr", "optimizer", "trial", "hp/score"]
    rows = sorted(frame.itertuples(index=False))
    assert [(r.run, r.lr, r.optimizer, r.trial) for r in rows] == [("t0", 0.1, "adam", 0.0), ("t1", 0.01, "adam", 1.0)]
    np.testing.assert_allclose([r[4] for r in rows], [1.0, 0.1], rtol=1e-6)


def test_filters_and_one_file(logdirs):
    logdir = logdirs["torch"]
    frame = eventwriter.read_scalars(logdir, runs=["."], tags={"loss"})
    assert set(frame["run"]) == {"."} and set(frame["tag"]) == {"loss"} and len(frame) == 30
    (path,) = [os.path.join(logdir, n) for n in os.listdir(logdir) if "tfevents" in n]
    single = eventwriter.read_scalars(path)
    assert set(single["run"]) == {"."}
    assert len(single) == len(eventwriter.read_scalars(logdir, runs=["."]))


def test_damaged_files_warn_and_keep_the_rest(tmp_path):
    with eventwriter.SummaryWriter(tmp_path) as writer:
        for step in range(100):
            writer.add_scalar("x", float(step), step)
    (path,) = [os.path.join(tmp_path, n) for n in os.listdir(tmp_path)]
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    record = list(iter_records(path))[51]
    data[record.offset + 12 + 5] ^= 0xFF  # inside a record's data: that record is left out
    last = list(iter_records(path))[-1].offset
    with open(path, "wb") as handle:
        handle.write(bytes(data) + data[last : last + 20])  # and a record cut short: a writer still writing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = eventwriter.read_scalars(tmp_path)
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        f"byte offset {record.offset}: data CRC mismatch; record left out"
    ]
    assert all(w.category is DamagedRecordWarning for w in caught)
    assert len(frame) == 99 and frame["step"].tolist() == [step for step in range(100) if step != 50]


def write(directory, summaries) -> None:
    """Summaries into a new event file by TensorBoard's own writer, one step each."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    os.makedirs(directory, exist_ok=True)
    writer = EventFileWriter(str(directory))
    for step, summary in enumerate(summaries):
        writer.add_event(Event(wall_time=10.0 + step, step=step, summary=summary))
    writer.close()


def test_hparams_metrics_are_inferred_as_tensorboard_does_without_an_experiment(tmp_path):
    """TensorFlow 2 without hp.hparams_config: sessions but no experiment; TensorBoard takes
    every scalar tag at or below a session's run as a metric (group: the subdirectory)."""
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.plugins.scalar import summary_v2 as scalar

    for trial in range(2):
        write(tmp_path / f"s{trial}", [hp.hparams_pb({"lr": 0.1 * (trial + 1)}, trial_id=f"t{trial}")])
        write(tmp_path / f"s{trial}" / "more", [scalar.scalar_pb("acc", 0.5 + trial), scalar.scalar_pb("acc", 0.9)])
        write(tmp_path / f"s{trial}" / "eval", [scalar.scalar_pb("loss", 1.0 + trial)])
    frame = eventwriter.read_hparams(str(tmp_path)).set_index("run").sort_index()
    assert sorted(frame.columns) == ["eval/loss", "lr", "more/acc"]
    assert frame.index.tolist() == ["s0", "s1"]
    np.testing.assert_allclose(frame["lr"], [0.1, 0.2])
    np.testing.assert_allclose(frame["eval/loss"], [1.0, 2.0])
    np.testing.assert_allclose(frame["more/acc"], [0.9, 0.9], rtol=1e-6)  # the last value


def test_the_log_dirs_own_session_has_no_groups_as_in_tensorboard(tmp_path):
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.plugins.scalar import summary_v2 as scalar

    write(tmp_path, [hp.hparams_pb({"lr": 0.1}, trial_id="root"), scalar.scalar_pb("acc", 0.5)])
    write(tmp_path / "eval", [scalar.scalar_pb("loss", 2.0)])  # TensorBoard gives "." no groups
    write(tmp_path / "s1", [hp.hparams_pb({"lr": 0.2}, trial_id="s1"), scalar.scalar_pb("acc", 0.6)])
    frame = eventwriter.read_hparams(str(tmp_path)).set_index("run").sort_index()
    assert sorted(frame.columns) == ["acc", "lr"]
    np.testing.assert_allclose(frame["acc"], [0.5, 0.6], rtol=1e-6)
