"""``validate --tensorboard``'s predictions against the real TensorBoard server.

For each rule (tests/visibility_cases.py writes one run per rule), the server is started
on 127.0.0.1 under both loaders and its HTTP data API must serve exactly what
``eventwriter.visibility.check_logdir`` predicted: nothing where it says dropped, every
value where it says kept, the sample size where it says sampled. The same for torch's
own writer's files, and for the projector's files.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from tbserver import TensorBoardStartError, skip_unless_tensorboard, tensorboard_server
from visibility_cases import (
    EXPECTED,
    INEXACT,
    WALL,
    file_version,
    simple,
    summary,
    tensor_value,
    write_cases,
    write_file,
    write_undecodable,
)

from eventwriter import RecordWriter, SummaryWriter
from eventwriter.png import encode_png
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.record import footer
from eventwriter.visibility import BOTH, DEFAULT, PROJECTOR, PYTHON, Effect, check_logdir

skip_unless_tensorboard()
pytestmark = [pytest.mark.needs_tensorboard, pytest.mark.slow]

LOADERS = {DEFAULT: True, PYTHON: False}  # loader -> load_fast
ROUTE_LIMITS = {
    "scalars": 1000,
    "text": 100,
    "images": 10,
    "audio": 10,
    "histograms": 501,
}  # what a route returns at most


def status_of(call):
    """(HTTP status, result) of a request."""
    try:
        return 200, call()
    except urllib.error.HTTPError as error:
        return error.code, None


def served(server, run, tag, plugin):
    """How many values the server serves for a tag, and the HTTP status of the data route
    (None when the tag is not listed)."""
    if plugin == "scalars":
        listed = tag in server.get_json("data/plugin/scalars/tags").get(run, {})
        route = lambda: server.get_json("data/plugin/scalars/scalars", run=run, tag=tag)  # noqa: E731
    elif plugin == "text":
        listed = tag in server.get_json("data/plugin/text/tags").get(run, [])
        route = lambda: server.get_json("data/plugin/text/text", run=run, tag=tag)  # noqa: E731
    elif plugin == "histograms":  # the distributions route: it keeps up to 501 of them
        listed = tag in server.get_json("data/plugin/histograms/tags").get(run, {})
        route = lambda: server.get_json("data/plugin/distributions/distributions", run=run, tag=tag)  # noqa: E731
    elif plugin == "audio":
        listed = tag in server.get_json("data/plugin/audio/tags").get(run, {})
        route = lambda: server.get_json("data/plugin/audio/audio", run=run, tag=tag, sample=0)  # noqa: E731
    elif plugin == "images":
        listed = tag in server.get_json("data/plugin/images/tags").get(run, {})
        route = lambda: server.get_json("data/plugin/images/images", run=run, tag=tag, sample=0)  # noqa: E731
    else:
        raise AssertionError(f"no route for plugin {plugin!r}")
    if not listed:
        return 0, None
    status, points = status_of(route)
    return (len(points) if status == 200 else 0), status


def listed_anywhere(server, run, tag):
    """Whether any dashboard's tag list names the tag."""
    for plugin in ("scalars", "histograms", "images", "audio", "distributions"):
        if tag in server.get_json(f"data/plugin/{plugin}/tags").get(run, {}):
            return True
    if tag in server.get_json("data/plugin/text/tags").get(run, []):
        return True
    tags = server.get_json("data/plugin/timeseries/tags")
    return any(tag in info.get("runTagInfo", {}).get(run, []) for info in tags.values() if isinstance(info, dict))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("cases"))
    write_cases(logdir)
    return logdir, check_logdir(logdir)


@pytest.fixture(scope="module", params=list(LOADERS), ids=list(LOADERS))
def loaded(request, cases):
    """(loader, the predictions, {(run, tag): (served, status)}) from one server run."""
    logdir, report = cases
    loader = request.param
    with tensorboard_server(logdir, load_fast=LOADERS[loader]) as server:
        got = {}
        for view in report.tags:
            if view.plugin in ROUTE_LIMITS:
                got[view.run, view.tag] = served(server, view.run, view.tag, view.plugin)
            elif view.plugin == "tensor":  # no data class: nothing may list it
                got[view.run, view.tag] = (int(listed_anywhere(server, view.run, view.tag)), None)
    return loader, report, got


def test_predictions_are_what_the_source_says(cases):
    _, report = cases
    predicted = {(view.run, view.tag): (view.shown[DEFAULT], view.shown[PYTHON]) for view in report.tags}
    assert predicted == EXPECTED
    bounds = {
        (view.run, view.tag): {loader for loader, exact in view.exact.items() if not exact} for view in report.tags
    }
    assert {key: loaders for key, loaders in bounds.items() if loaders} == INEXACT


def test_the_server_serves_what_was_predicted(loaded):
    loader, report, got = loaded
    mismatches = {}
    for view in report.tags:
        if (view.run, view.tag) not in got:
            continue  # a plugin no route serves (explicit_class): nothing to ask
        count, _ = got[view.run, view.tag]
        expected = min(view.shown[loader], ROUTE_LIMITS.get(view.plugin, view.shown[loader]))
        if count != expected if view.exact[loader] else not 0 < count <= expected:  # an upper bound, when inexact
            mismatches[view.run, view.tag] = (count, expected)
    assert not mismatches, f"{loader}: (served, predicted): {mismatches}"
    assert len(got) == len(EXPECTED) - 1  # every case but the one without a route was asked


def test_a_tag_predicted_unservable_fails_on_the_python_server(loaded):
    loader, report, got = loaded
    unservable = {
        (finding.run, finding.subject)
        for finding in report.findings
        if finding.loader == PYTHON and "HTTP 500" in finding.reason and "random sample" not in finding.reason
    }
    assert unservable == {
        ("mixed_kinds", "m"),
        ("two_numbers", "x"),
        ("text_then_simple", "t"),
        ("audio_of_no_clip", "a"),
        ("audio_rank1_empty", "a"),
    }
    audio = {("audio_of_no_clip", "a"), ("audio_rank1_empty", "a")}
    for key in unservable - audio:
        assert got[key][1] == (500 if loader == PYTHON else 200), key
    for key in audio:
        assert got[key][1] == 500, key  # under both loaders


def test_torch_writers_files(tmp_path):
    """torch's writer: a double-precision scalar, add_tensor, text and a step-less scalar."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    logdir = str(tmp_path)
    with TorchWriter(os.path.join(logdir, "torch")) as writer:
        for step in range(5):
            writer.add_scalar("double", step / 3, step, new_style=True, double_precision=True)
            writer.add_scalar("single", step / 3, step, new_style=True)
            writer.add_scalar("no_step", step)
        writer.add_tensor("tensor", torch.ones(3), 0)
        for step in range(12):
            writer.add_text("notes", f"note {step}", step)
    report = check_logdir(logdir)
    views = {view.tag: view for view in report.tags}
    assert {tag: (view.shown[DEFAULT], view.shown[PYTHON]) for tag, view in views.items()} == {
        "double": (0, 5),
        "single": (5, 5),
        "no_step": (1, 5),
        "tensor": (0, 0),
        "notes/text_summary": (12, 10),
    }
    (double,) = [f for f in report.findings if f.subject == "double"]
    assert "DT_DOUBLE" in double.reason and "double_precision=False" in double.fix and double.loader == DEFAULT
    for loader, load_fast in LOADERS.items():
        with tensorboard_server(logdir, load_fast=load_fast) as server:
            for tag, view in views.items():
                if view.plugin == "tensor":
                    assert not listed_anywhere(server, "torch", tag)
                else:
                    assert served(server, "torch", tag, view.plugin)[0] == view.shown[loader], (loader, tag)


def test_files_of_every_writer(tmp_path):
    """torch's writer, tensorboardX, TensorFlow 2's summaries through TensorBoard's own
    writer, and eventwriter, the same calls: every tag a route serves, as predicted."""
    pytest.importorskip("torch")
    pytest.importorskip("pandas")
    from test_tables_tensorboard import log_everything, tf2_style
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    logdir = str(tmp_path)
    log_everything(TorchWriter, os.path.join(logdir, "torch"))
    log_everything(SummaryWriter, os.path.join(logdir, "eventwriter"))
    tensorboardx = pytest.importorskip("tensorboardX")
    log_everything(tensorboardx.SummaryWriter, os.path.join(logdir, "tensorboardx"), new_style=False)
    tf2_style(os.path.join(logdir, "tf2"))
    report = check_logdir(logdir)
    lost = {(f.run, f.subject, f.loader) for f in report.findings if f.effect is Effect.LOST}
    assert lost == {("torch", "acc/double", DEFAULT), ("eventwriter", "acc/double", DEFAULT)}
    asked = 0
    for loader, load_fast in LOADERS.items():
        with tensorboard_server(logdir, load_fast=load_fast) as server:
            for view in report.tags:
                if view.plugin in ROUTE_LIMITS:
                    count, _ = served(server, view.run, view.tag, view.plugin)
                    assert count == min(view.shown[loader], ROUTE_LIMITS[view.plugin]), (loader, view)
                    asked += 1
                elif view.plugin == "pr_curves":
                    curves = server.get_json("data/plugin/pr_curves/pr_curves", run=view.run, tag=view.tag)
                    assert len(curves[view.run]) == view.shown[loader] == 3, (loader, view)
                    asked += 1
    assert asked >= 2 * 4 * 5  # four runs of scalars, histograms, images, text and PR curves, twice


def append(path, *events):
    with open(path, "ab") as handle:
        writer = RecordWriter(handle)
        for event in events:
            writer.write(event.SerializeToString())


def points(server, run, tag):
    status, got = status_of(lambda: server.get_json("data/plugin/scalars/scalars", run=run, tag=tag))
    return [step for _, step, _ in got] if status == 200 else []


def wait_for(condition, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout:.0f} s: {what}")
        time.sleep(0.2)


@pytest.mark.parametrize("loader", list(LOADERS))
def test_files_written_at_once_while_tensorboard_runs(tmp_path, loader):
    """Two processes' files in one run, both growing while TensorBoard reloads every
    second: the default loader reads the earlier-named file's new values; the Python
    loader, past it in name order, never does (validate's note says so)."""
    run = str(tmp_path / "run")
    first = write_file(
        run, [file_version(), summary(0, simple("a", 0.0)), summary(1, simple("a", 1.0))], "events.out.tfevents.1.a"
    )
    second = write_file(
        run, [file_version(), summary(0, simple("b", 0.0), wall_time=WALL + 0.5)], "events.out.tfevents.1.b"
    )
    with tensorboard_server(str(tmp_path), load_fast=LOADERS[loader], reload_interval=1) as server:
        wait_for(lambda: points(server, "run", "a") == [0, 1] and points(server, "run", "b") == [0], "the first load")
        append(first, summary(2, simple("a", 2.0)))
        append(second, summary(1, simple("b", 1.0)))
        wait_for(lambda: points(server, "run", "b") == [0, 1], "a reload after both files grew")
        if loader == DEFAULT:
            wait_for(lambda: points(server, "run", "a") == [0, 1, 2], "the earlier file's new value")
        else:
            time.sleep(2.5)  # two more reloads: the earlier file is still not read again
            assert points(server, "run", "a") == [0, 1]
    (note,) = check_logdir(str(tmp_path)).findings
    assert (note.subject, note.loader, note.effect) == ("events.out.tfevents.1.a", PYTHON, Effect.NOTE)


def test_a_record_that_is_no_event(tmp_path):
    """Sound CRCs, no Event: the default loader reads the run up to it; the Python loader
    dies there, and with --reload_task blocking TensorBoard does not start at all."""
    logdir = str(tmp_path)
    write_undecodable(logdir)
    report = check_logdir(logdir)
    (view,) = report.tags
    assert view.shown[DEFAULT] == 1
    (python,) = [f for f in report.findings if f.loader == PYTHON and f.subject.startswith("events.out")]
    assert python.effect is Effect.LOST and "does not start" in python.reason
    with tensorboard_server(logdir, load_fast=True) as server:
        assert served(server, "undecodable", "x", "scalars")[0] == 1
    with pytest.raises(TensorBoardStartError, match=r"DecodeError|Error parsing message"):
        with tensorboard_server(logdir, load_fast=False):
            pass


# -- the projector -----------------------------------------------------------------------


def write_projector_cases(logdir):
    """One run per rule of the projector: a sound embedding, one whose tensor path leads
    out of its run, one without its metadata file, one with a metadata row too many, one
    with a sprite too wide, and a config in a directory without event files."""
    points = np.arange(12, dtype=np.float32).reshape(4, 3)
    thumbnails = np.zeros((4, 3, 4, 4), dtype=np.uint8)
    for run in ("ok", "outside", "metadata_missing", "mismatch", "big_sprite"):
        with SummaryWriter(os.path.join(logdir, run)) as writer:
            writer.add_embedding(points, metadata=list("abcd"), label_img=thumbnails, tag="emb")
    embedding = os.path.join("00000", "emb")
    edit_config(os.path.join(logdir, "outside"), lambda text: text.replace('tensor_path: "', 'tensor_path: "../ok/'))
    os.remove(os.path.join(logdir, "metadata_missing", embedding, "metadata.tsv"))
    with open(os.path.join(logdir, "mismatch", embedding, "metadata.tsv"), "a") as handle:
        handle.write("e\n")
    with open(os.path.join(logdir, "big_sprite", embedding, "sprite.png"), "wb") as handle:
        handle.write(encode_png(np.zeros((4, 9000, 3), dtype=np.uint8)))
    shutil.copytree(
        os.path.join(logdir, "ok"), os.path.join(logdir, "no_events"), ignore=shutil.ignore_patterns("events.out.*")
    )


def edit_config(run_dir, change):
    path = os.path.join(run_dir, "projector_config.pbtxt")
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(change(text))


def png_width(data):
    return int.from_bytes(data[16:20], "big")


def test_projector_predictions_against_the_server(tmp_path):
    logdir = str(tmp_path)
    write_projector_cases(logdir)
    report = check_logdir(logdir)
    lost = {(f.run, f.subject) for f in report.findings if f.loader == PROJECTOR and f.effect is Effect.LOST}
    name = "emb:00000"
    subject = f"embedding {name!r}"
    assert lost == {
        ("outside", subject),
        ("metadata_missing", subject),
        ("mismatch", subject),
        ("big_sprite", subject),
        ("no_events", "projector_config.pbtxt"),
    }
    with tensorboard_server(logdir, load_fast=True) as server:

        def get(run, route):
            return status_of(lambda: server.get_bytes(f"data/plugin/projector/{route}", run=run, name=name))

        assert sorted(server.get_json("data/plugin/projector/runs")) == sorted(
            ["ok", "outside", "metadata_missing", "mismatch", "big_sprite"]
        )
        for route in ("tensor", "metadata", "sprite_image"):
            assert get("ok", route)[0] == 200, route
        tensor = np.frombuffer(get("ok", "tensor")[1], dtype="<f4")
        assert tensor.tolist() == list(range(12))
        assert get("outside", "tensor")[0] == 400
        assert get("metadata_missing", "metadata")[0] == 400
        # the page compares the rows it gets: 4 points, 5 labels
        assert len(get("mismatch", "tensor")[1]) == 4 * 3 * 4
        assert len(get("mismatch", "metadata")[1].decode().split()) == 5
        # the page refuses a sprite wider than 8192 pixels; the server hands it over
        status, sprite = get("big_sprite", "sprite_image")
        assert status == 200 and png_width(sprite) == 9000 > 8192
        assert get("no_events", "tensor")[0] == 400  # Unknown run


def test_a_missing_tensor_file_breaks_the_projector_for_every_run(tmp_path):
    logdir = str(tmp_path)
    for run in ("a", "b"):
        with SummaryWriter(os.path.join(logdir, run)) as writer:
            writer.add_embedding(np.eye(3), tag="emb")
    os.remove(os.path.join(logdir, "b", "00000", "emb", "tensors.tsv"))
    report = check_logdir(logdir)
    (finding,) = [f for f in report.findings if f.loader == PROJECTOR]
    assert finding.run == "b" and "fails for every run" in finding.reason
    with tensorboard_server(logdir, load_fast=True) as server:
        status, _ = status_of(lambda: server.get_json("data/plugin/projector/runs"))
        assert status == 500


# -- what stops a loader altogether --------------------------------------------------------


def test_a_value_with_an_empty_tag_and_a_node_name(tmp_path):
    """The Python loader files such a value's data under its node name and its metadata
    under the empty tag: the scalars tag list then fails for every run."""
    logdir = str(tmp_path)
    write_file(os.path.join(logdir, "fine"), [file_version(), summary(0, simple("loss", 1.0))])
    value = tensor_value("", [1.0])
    value.node_name = "node"
    write_file(os.path.join(logdir, "node"), [file_version(), summary(0, value)])
    report = check_logdir(logdir)
    (finding,) = [f for f in report.findings if f.run == "node" and f.loader == PYTHON]
    assert finding.effect is Effect.LOST and "for every run" in finding.reason
    for loader, load_fast in LOADERS.items():
        with tensorboard_server(logdir, load_fast=load_fast) as server:
            status, _ = status_of(lambda: server.get_json("data/plugin/scalars/tags"))
            assert status == (500 if loader == PYTHON else 200), loader


def test_a_length_field_no_event_can_have(tmp_path):
    """A record header whose length CRC holds but whose length is 2**40: both loaders try
    to take that much, and TensorBoard does not come up."""
    logdir = str(tmp_path)
    path = write_file(os.path.join(logdir, "run"), [file_version(), summary(0, simple("x", 0.0))])
    length = struct.pack("<Q", 1 << 40)
    with open(path, "ab") as handle:
        handle.write(length + footer(length) + bytes(64))
    report = check_logdir(logdir)
    (finding,) = [f for f in report.findings if f.subject.startswith("events.out")]
    assert finding.loader == BOTH and finding.effect is Effect.LOST and str(1 << 40) in finding.reason
    for load_fast in LOADERS.values():
        with pytest.raises(TensorBoardStartError):
            with tensorboard_server(logdir, load_fast=load_fast, timeout=30):
                pass


def test_a_fifo_named_like_an_event_file(tmp_path):
    """The default loader leaves it alone; the Python loader waits on it forever."""
    logdir = str(tmp_path)
    write_file(os.path.join(logdir, "run"), [file_version(), summary(0, simple("x", 0.0))])
    os.mkfifo(os.path.join(logdir, "run", "events.out.tfevents.fifo"))
    report = check_logdir(logdir)
    (finding,) = [f for f in report.findings if f.subject == "events.out.tfevents.fifo"]
    assert finding.loader == PYTHON and finding.effect is Effect.LOST and "forever" in finding.reason
    with tensorboard_server(logdir, load_fast=True) as server:
        assert served(server, "run", "x", "scalars")[0] == 1
    with pytest.raises(TensorBoardStartError, match="not ready after"):
        with tensorboard_server(logdir, load_fast=False, timeout=10):
            pass


def test_an_event_file_as_the_log_dir(tmp_path):
    path = write_file(str(tmp_path), [file_version(), summary(0, simple("x", 0.0))])
    report = check_logdir(path)
    (finding,) = report.findings
    assert finding.loader == BOTH and finding.effect is Effect.LOST and str(tmp_path) in finding.fix
    with tensorboard_server(path, load_fast=True) as server:
        assert server.get_json("data/runs") == []
    with pytest.raises(TensorBoardStartError, match="not a directory"):
        with tensorboard_server(path, load_fast=False):
            pass


def test_a_run_the_default_loader_does_not_list_hides_its_embeddings(tmp_path):
    """A run whose only event file is empty: the Python loader lists it, the default
    loader does not, and so its projector shows nothing there."""
    logdir = str(tmp_path)
    for run in ("listed", "empty"):
        with SummaryWriter(os.path.join(logdir, run)) as writer:
            writer.add_embedding(np.eye(3), tag="emb")
    (events,) = [name for name in os.listdir(os.path.join(logdir, "empty")) if "tfevents" in name]
    open(os.path.join(logdir, "empty", events), "wb").close()
    report = check_logdir(logdir)
    (finding,) = [f for f in report.findings if f.run == "empty"]
    assert finding.loader == DEFAULT and finding.effect is Effect.LOST and "does not list this run" in finding.reason
    for loader, load_fast in LOADERS.items():
        with tensorboard_server(logdir, load_fast=load_fast) as server:
            runs = server.get_json("data/plugin/projector/runs")
            assert sorted(runs) == (["listed"] if loader == DEFAULT else ["empty", "listed"]), loader


def test_hyperparameters_written_twice_in_one_run(tmp_path):
    """As PyTorch Lightning does when log_hyperparams is called again with more: the
    hparams dashboard reads only the tag's first metadata."""
    pytest.importorskip("torch")
    from torch.utils.tensorboard.summary import hparams

    logdir = str(tmp_path)
    summaries = [*hparams({"lr": 0.1, "bs": 4}, {}), *hparams({"lr": 0.1, "bs": 4, "max_epochs": 3}, {})]
    write_file(
        os.path.join(logdir, "run"),
        [
            file_version(),
            *(Event(wall_time=WALL, step=0, summary=Summary.FromString(s.SerializeToString())) for s in summaries),
        ],
    )
    report = check_logdir(logdir)
    lost = {f.subject for f in report.findings if f.effect is Effect.LOST and f.loader == BOTH}
    assert "_hparams_/experiment" in lost
    for load_fast in LOADERS.values():
        with tensorboard_server(logdir, load_fast=load_fast) as server:
            request = urllib.request.Request(
                server.url + "data/plugin/hparams/experiment",
                data=json.dumps({"experimentName": ""}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                experiment = json.loads(response.read())
            assert sorted(info["name"] for info in experiment["hparamInfos"]) == ["bs", "lr"]
