"""eventwriter.visibility and ``validate --tensorboard``, without tensorboard: each rule's
prediction as tensorboard's source gives it (tests/interop/test_visibility_server.py
checks the same predictions against the real server)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import visibility_cases
from hypothesis import given, settings
from hypothesis import strategies as st
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

from eventwriter import SummaryWriter
from eventwriter.cli import main
from eventwriter.png import encode_png
from eventwriter.proto.event_pb2 import Event, SessionLog
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.visibility import BOTH, DEFAULT, PROJECTOR, PYTHON, Effect, check_logdir


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("cases"))
    write_cases(logdir)
    return logdir, check_logdir(logdir)


def findings_of(report, run, subject=None):
    return [f for f in report.findings if f.run == run and (subject is None or f.subject == subject)]


def test_what_each_loader_keeps_of_each_case(cases):
    _, report = cases
    assert {(view.run, view.tag): (view.shown[DEFAULT], view.shown[PYTHON]) for view in report.tags} == EXPECTED
    bounds = {
        (view.run, view.tag): {loader for loader, exact in view.exact.items() if not exact} for view in report.tags
    }
    assert {key: loaders for key, loaders in bounds.items() if loaders} == INEXACT
    assert report.loaders == (DEFAULT, PYTHON) and report.loses_data


def test_the_bulk_path_agrees_on_every_case(cases):
    from eventwriter.visibility import runs

    logdir, report = cases
    runs.BULK = False
    try:
        one_by_one = check_logdir(logdir)
    finally:
        runs.BULK = True
    assert report.tags == one_by_one.tags and report.findings == one_by_one.findings


def test_what_prost_refuses():
    from eventwriter.visibility.wire import prost_decodes

    value = Summary(value=[simple("x", 1.0)]).SerializeToString()
    body = b"\x2a" + bytes([len(value)]) + value
    assert prost_decodes(summary(3, simple("x", 1.0)).SerializeToString())
    assert prost_decodes(b"\x10\x81\x80\x80\x80\x80\x80\x80\x80\x80\x01" + body)  # -1-ish: ten bytes, last 1
    assert not prost_decodes(b"\x10\x81\x80\x80\x80\x80\x80\x80\x80\x80\x7f" + body)  # more than 64 bits
    assert not prost_decodes(b"\x11" + bytes(8) + body)  # step as fixed64
    assert prost_decodes(b"\x98\x06\x01" + body)  # an unknown field (99, varint) is skipped
    assert not prost_decodes(b"\x2a\x05" + value[:5])  # cut short
    import struct

    from eventwriter.proto.tensor_pb2 import TensorProto

    one, two = struct.pack("<f", 1.0), struct.pack("<f", 2.0)
    assert prost_decodes(b"\x08\x01\x2a\x08" + one + two, TensorProto.DESCRIPTOR)  # float_val packed
    assert prost_decodes(b"\x08\x01\x2d" + one + b"\x2d" + two, TensorProto.DESCRIPTOR)  # and not packed
    assert not prost_decodes(b"\x08\x01\x28\x01", TensorProto.DESCRIPTOR)  # float_val as a varint


@pytest.mark.parametrize(
    ("run", "loader", "effect", "count", "words"),
    [
        ("double", DEFAULT, Effect.LOST, 5, "DT_DOUBLE"),
        ("half", DEFAULT, Effect.LOST, 5, "DT_HALF"),
        ("shape1", DEFAULT, Effect.LOST, 5, "shape [1]"),
        ("unknown_plugin", DEFAULT, Effect.LOST, 5, "plugin 'tensor'"),
        ("unknown_plugin", PYTHON, Effect.LOST, 5, "plugin 'tensor'"),
        ("late_metadata", DEFAULT, Effect.LOST, 8, "first value carries no plugin metadata"),
        ("metadata_second", PYTHON, Effect.LOST, 5, "gets no data class"),
        ("nan_wall_time", DEFAULT, Effect.LOST, 4, "wall_time is NaN"),
        ("inf_wall_time", DEFAULT, Effect.LOST, 1, "wall_time is inf"),
        ("many_scalars", DEFAULT, Effect.SAMPLED, 200, "1000 kept per tag"),
        ("many_texts", PYTHON, Effect.SAMPLED, 20, "10 kept per tag"),
        ("one_step", DEFAULT, Effect.REPLACED, 4, "same or an earlier step"),
        ("restart", DEFAULT, Effect.REPLACED, 2, "same or an earlier step"),
        ("session_restart", PYTHON, Effect.REPLACED, 3, "SessionLog.START"),
        ("mixed_kinds", DEFAULT, Effect.LOST, 1, "an image under a tag whose first value made it a scalar tag"),
        ("mixed_kinds", PYTHON, Effect.LOST, 3, "HTTP 500"),
        ("two_numbers", PYTHON, Effect.LOST, 4, "holds 2 numbers"),
        ("bad_data_crc", PYTHON, Effect.LOST, 4, "data CRC does not match"),
        ("profile_empty", PYTHON, Effect.LOST, 3, "skips files named *.profile-empty"),
        ("many_histograms", DEFAULT, Effect.SAMPLED, 50, "100 kept per tag"),
    ],
)
def test_each_finding_says_what_why_and_how_many(cases, run, loader, effect, count, words):
    _, report = cases
    matching = [f for f in findings_of(report, run) if f.loader == loader and f.effect is effect and words in f.reason]
    assert len(matching) == 1, findings_of(report, run)
    (finding,) = matching
    assert finding.count == count
    assert finding.total == sum(view.values for view in report.tags if view.run == run)


def test_fixes_name_the_argument_or_flag(cases):
    _, report = cases
    (double,) = findings_of(report, "double")
    assert double.fix == "log with double_precision=False, or view with --load_fast=false"
    (sampled,) = [f for f in findings_of(report, "many_scalars") if f.loader == DEFAULT]
    assert sampled.fix == "start tensorboard with --samples_per_plugin=scalars=1200 to keep them all"
    (nan,) = findings_of(report, "nan_wall_time")
    assert "walltime=None" in nan.fix


def test_damage_that_ends_a_file(cases):
    _, report = cases
    (length,) = [f for f in findings_of(report, "bad_length_crc") if f.subject.startswith("events.out")]
    assert length.loader == BOTH and length.effect is Effect.LOST and "bad length CRC" in length.reason
    assert not [f for f in findings_of(report, "bad_data_crc") if f.loader == DEFAULT]  # it takes the record


def test_sound_runs_have_no_findings(cases):
    _, report = cases
    assert findings_of(report, "fine") == []
    assert [f.effect for f in findings_of(report, "explicit_class")] == [Effect.NOTE]


def test_a_record_that_is_no_event_stops_the_python_loader(tmp_path):
    write_undecodable(str(tmp_path))
    report = check_logdir(str(tmp_path))
    ((run, tag, default, python),) = [(v.run, v.tag, v.shown[DEFAULT], v.shown[PYTHON]) for v in report.tags]
    assert (run, tag, default, python) == ("undecodable", "x", 1, 1)
    (python,) = [f for f in report.findings if f.subject.startswith("events.out")]
    assert python.loader == PYTHON and python.effect is Effect.LOST
    assert "reload thread dies" in python.reason and "does not start" in python.reason
    after = {f.loader: f for f in report.findings if f.subject == "x"}  # the value after it, lost to both
    assert after[DEFAULT].count == after[PYTHON].count == 1
    assert "at a record that is no Event" in after[DEFAULT].reason
    assert "stopped at a record of" in after[PYTHON].reason


def test_files_written_at_the_same_time(tmp_path):
    """Two processes' files in one run: a note for the Python loader, not a loss."""
    run = str(tmp_path / "run")
    write_file(run, [file_version(), *(summary(s, simple("a", s)) for s in range(3))], name="events.out.tfevents.1.a")
    write_file(
        run,
        [file_version(), *(summary(s, simple("b", s), wall_time=WALL + s + 0.5) for s in range(3))],
        name="events.out.tfevents.1.b",
    )
    report = check_logdir(str(tmp_path))
    (note,) = report.findings
    assert (note.subject, note.loader, note.effect) == ("events.out.tfevents.1.a", PYTHON, Effect.NOTE)
    assert "--reload_multifile=true" in note.fix and not report.loses_data


def test_eventwriters_own_files_are_sound(tmp_path):
    with SummaryWriter(str(tmp_path / "run")) as writer:
        for step in range(3):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
            writer.add_scalars("pair", {"a": step, "b": -step}, step)
            writer.add_histogram("h", np.arange(10.0) + step, step)
            writer.add_text("note", f"step {step}", step)
            writer.add_scalar("double", step / 3, step, new_style=True, double_precision=True)
    report = check_logdir(str(tmp_path))
    lost = [(f.run, f.subject) for f in report.findings if f.effect is Effect.LOST]
    assert lost == [("run", "double")]  # the one thing TensorBoard's default loader drops, as for torch
    assert {v.tag: v.shown[DEFAULT] for v in report.tags if v.run == "run"} == {
        "loss": 3,
        "h": 3,
        "note/text_summary": 3,
        "double": 0,
    }


def test_a_url_log_dir_is_read_by_the_python_loader_alone():
    fsspec = pytest.importorskip("fsspec")
    storage = fsspec.filesystem("memory")
    storage.pipe("/visibility/run/events.out.tfevents.1.host", open_bytes_of_a_double_run())
    report = check_logdir("memory://visibility")
    assert report.loaders == (PYTHON,)
    assert [(v.tag, v.shown) for v in report.tags] == [("x", {PYTHON: 5, DEFAULT: 0})]
    assert [f.loader for f in report.findings] == [PYTHON]  # the default loader's DT_DOUBLE finding is moot
    assert "Python loader only" in report.findings[0].reason
    storage.rm("/visibility", recursive=True)


def open_bytes_of_a_double_run():
    import io

    from eventwriter import RecordWriter
    from eventwriter.proto.types_pb2 import DT_DOUBLE

    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    for event in [file_version(), *(summary(s, tensor_value("x", [s / 3], dtype=DT_DOUBLE)) for s in range(5))]:
        writer.write(event.SerializeToString())
    return buffer.getvalue()


# -- the command line ------------------------------------------------------------------------


def run_cli(capsys, *args):
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_validate_tensorboard_exit_status_and_report(tmp_path, capsys):
    write_file(str(tmp_path / "fine"), [file_version(), *(summary(s, simple("loss", s)) for s in range(3))])
    status, out, _ = run_cli(capsys, "validate", "--tensorboard", str(tmp_path))
    assert status == 0, out
    assert "nothing will be lost" in out
    status, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert status == 0 and "TensorBoard" not in out
    from eventwriter.proto.types_pb2 import DT_DOUBLE

    write_file(
        str(tmp_path / "double"),
        [file_version(), *(summary(s, tensor_value("x", [s / 3], dtype=DT_DOUBLE)) for s in range(4))],
    )
    status, out, _ = run_cli(capsys, "validate", "--tensorboard", str(tmp_path))
    assert status == 3, out
    assert "1 file(s) checked" not in out and "2 file(s) checked, 0 corrupt" in out
    assert "'x' (scalars): 4 value(s); shown: default loader 0, --load_fast=false 4" in out
    assert "LOST (default loader): 4 of 4 value(s) from step 0: a scalar written as DT_DOUBLE" in out
    assert "fix: log with double_precision=False, or view with --load_fast=false" in out
    assert run_cli(capsys, "validate", str(tmp_path))[0] == 0  # the files themselves are sound


def test_validate_json(tmp_path, capsys):
    write_cases(str(tmp_path))
    status, out, _ = run_cli(capsys, "validate", "--tensorboard", "--json", str(tmp_path))
    document = json.loads(out)
    assert status == 1 == document["exit_status"] and document["status"] == "corrupt"  # two damaged files
    assert {entry["path"].split(os.sep)[-2] for entry in document["files"] if not entry["sound"]} == {
        "bad_data_crc",
        "bad_length_crc",
    }
    views = {(tag["run"], tag["tag"]): tag for tag in document["tensorboard"]["tags"]}
    assert {key: (view["shown"][DEFAULT], view["shown"][PYTHON]) for key, view in views.items()} == EXPECTED
    finding = next(f for f in document["tensorboard"]["findings"] if f["run"] == "double")
    assert finding["effect"] == "lost" and finding["loader"] == DEFAULT and finding["count"] == 5
    status, out, _ = run_cli(capsys, "validate", "--json", str(tmp_path / "fine"))
    assert status == 0 and "tensorboard" not in json.loads(out)


def test_validate_json_of_a_sound_log_dir_that_loses_data(tmp_path, capsys):
    shutil.rmtree(tmp_path)
    write_file(str(tmp_path / "one_step"), [file_version(), *(summary(0, simple("x", v)) for v in range(3))])
    write_file(
        str(tmp_path / "plugin"),
        [file_version(), summary(0, tensor_value("t", [1.0, 2.0], shape=(2,), plugin="tensor"))],
    )
    status, out, _ = run_cli(capsys, "validate", "--tensorboard", "--json", str(tmp_path))
    document = json.loads(out)
    assert status == 3 == document["exit_status"] and document["status"] == "loses data"
    effects = {(f["run"], f["loader"], f["effect"]) for f in document["tensorboard"]["findings"]}
    assert effects == {("one_step", DEFAULT, "replaced"), ("plugin", DEFAULT, "lost"), ("plugin", PYTHON, "lost")}


# -- the projector ---------------------------------------------------------------------------


def embedding_run(logdir, run="run", **kwargs):
    with SummaryWriter(os.path.join(logdir, run)) as writer:
        writer.add_embedding(np.arange(12.0).reshape(4, 3), metadata=list("abcd"), tag="emb", **kwargs)
    return os.path.join(logdir, run, "00000", "emb")


def projector_findings(logdir):
    return [(f.run, f.subject, f.reason) for f in check_logdir(logdir).findings if f.loader == PROJECTOR]


def test_a_sound_embedding_has_no_findings(tmp_path):
    embedding_run(str(tmp_path), label_img=np.zeros((4, 3, 5, 5)))
    assert projector_findings(str(tmp_path)) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: os.remove(os.path.join(d, "tensors.tsv")), "no such file (the projector fails for every run"),
        (lambda d: os.remove(os.path.join(d, "metadata.tsv")), "metadata_path '00000/emb/metadata.tsv': no such file"),
        (lambda d: append(d, "metadata.tsv", "e\n"), "metadata has 5 rows for 4 points"),
        (lambda d: append(d, "tensors.tsv", "1\t2\n"), "rows have 2 to 3 columns"),
        (lambda d: append(d, "tensors.tsv", "a\tb\tc\n"), "no list of numbers"),
        (lambda d: write(d, "tensors.tsv", b"\xff\xfe\x00\x01"), "binary tensor file needs a 2-D tensor_shape"),
    ],
)
def test_what_the_projector_refuses(tmp_path, change, words):
    change(embedding_run(str(tmp_path)))
    ((run, subject, reason),) = projector_findings(str(tmp_path))
    assert (run, subject) == ("run", "embedding 'emb:00000'")
    assert words in reason


def append(directory, name, text):
    with open(os.path.join(directory, name), "a") as handle:
        handle.write(text)


def write(directory, name, data):
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(data)


def test_paths_outside_the_run_and_configs_nobody_reads(tmp_path):
    logdir = str(tmp_path)
    embedding_run(logdir)
    config = os.path.join(logdir, "run", "projector_config.pbtxt")
    with open(config) as handle:
        text = handle.read()
    with open(config, "w") as handle:
        handle.write(text.replace('metadata_path: "', 'metadata_path: "../'))
    shutil.copytree(
        os.path.join(logdir, "run"), os.path.join(logdir, "elsewhere"), ignore=shutil.ignore_patterns("events.out.*")
    )
    found = projector_findings(logdir)
    assert [(run, subject) for run, subject, _ in found] == [
        ("elsewhere", "projector_config.pbtxt"),
        ("run", "embedding 'emb:00000'"),
    ]
    assert "holds no event file" in found[0][2] and "resolves outside the config's directory" in found[1][2]


def test_sprites(tmp_path):
    directory = embedding_run(str(tmp_path), label_img=np.zeros((4, 3, 5, 5)))
    write(directory, "sprite.png", encode_png(np.zeros((4, 9000, 3), dtype=np.uint8)))
    ((_, _, reason),) = projector_findings(str(tmp_path))
    assert "9000x4 pixels" in reason and "8192" in reason
    write(directory, "sprite.png", encode_png(np.zeros((5, 5, 3), dtype=np.uint8)))
    ((_, _, reason),) = projector_findings(str(tmp_path))
    assert "cannot hold 4 thumbnails of 5x5 in 2 columns" in reason


def test_an_unreadable_config(tmp_path):
    embedding_run(str(tmp_path))
    write(os.path.join(str(tmp_path), "run"), "projector_config.pbtxt", b"embeddings { nonsense")
    ((_, subject, reason),) = projector_findings(str(tmp_path))
    assert subject == "projector_config.pbtxt" and "fails for every run" in reason


# -- the bulk path ---------------------------------------------------------------------------

_TAGS = st.sampled_from(["a", "b", "c/d"])
_STEPS = st.integers(-3, 12)
_WALLS = st.one_of(st.floats(1e9, 1e9 + 100), st.sampled_from([float("nan"), float("inf")]))


@st.composite
def _values(draw):
    tag = draw(_TAGS)
    kind = draw(st.sampled_from(["simple", "simple+metadata", "float", "double", "bare", "text", "image", "two"]))
    if kind == "simple":
        return simple(tag, draw(st.floats(-1, 1)))
    if kind == "simple+metadata":
        value = simple(tag, 0.5)
        value.metadata.plugin_data.plugin_name = "scalars"
        return value
    if kind == "image":
        return visibility_cases.image(tag)
    from eventwriter.proto.types_pb2 import DT_DOUBLE, DT_STRING

    return {
        "float": lambda: tensor_value(tag, [0.5]),
        "double": lambda: tensor_value(tag, [0.5], dtype=DT_DOUBLE),
        "bare": lambda: tensor_value(tag, [0.5], metadata=False),
        "text": lambda: tensor_value(tag, ["x"], dtype=DT_STRING, shape=(1,), plugin="text"),
        "two": lambda: tensor_value(tag, [0.5, 1.0], shape=(2,)),
    }[kind]()


@st.composite
def _events(draw):
    what = draw(st.sampled_from(["plain"] * 6 + ["values"] * 2 + ["start", "version"]))
    step, wall = draw(_STEPS), draw(_WALLS)
    if what == "plain":
        return summary(step, simple(draw(_TAGS), 0.25), wall_time=draw(st.floats(1e9, 1e9 + 100)))
    if what == "values":
        return summary(step, *draw(st.lists(_values(), min_size=1, max_size=3)), wall_time=wall)
    if what == "start":
        return Event(wall_time=WALL, step=step, session_log=SessionLog(status=SessionLog.START))
    return file_version(draw(st.sampled_from(["brain.Event:1", "brain.Event:2"])))


@given(
    files=st.lists(
        st.tuples(st.sampled_from(["", "brain.Event:1", "brain.Event:2"]), st.lists(_events(), max_size=25)),
        min_size=1,
        max_size=3,
    ),
    damage=st.lists(st.integers(0, 10_000), max_size=2),
)
@settings(max_examples=400, deadline=None)
def test_the_bulk_path_and_protobuf_agree(tmp_path_factory, files, damage):
    """Plain scalar events taken in bulk give what taking every record through protobuf
    gives: the same tags, counts and findings, on any mix of events and damage."""
    from eventwriter.visibility import runs

    run = str(tmp_path_factory.mktemp("bulk") / "run")
    for number, (version, events) in enumerate(files):
        events = [file_version(version), *events] if version else events
        path = write_file(run, events, name=f"events.out.tfevents.{number}.host")
        size = os.path.getsize(path)
        for offset in damage:
            if size:
                visibility_cases.flip(path, offset % size)
    bulk = check_logdir(os.path.dirname(run))
    runs.BULK = False
    try:
        one_by_one = check_logdir(os.path.dirname(run))
    finally:
        runs.BULK = True
    assert bulk.tags == one_by_one.tags
    assert bulk.findings == one_by_one.findings


def test_what_stops_a_loader_altogether(tmp_path):
    """A FIFO named like an event file, a length field no Event can have, a value with an
    empty tag and a node name, and an event file given as the log dir."""
    import struct

    from eventwriter.record import footer

    logdir = str(tmp_path / "logs")
    os.makedirs(os.path.join(logdir, "fifo"))
    os.mkfifo(os.path.join(logdir, "fifo", "events.out.tfevents.pipe"))
    path = write_file(os.path.join(logdir, "huge"), [file_version(), summary(0, simple("x", 0.0))])
    with open(path, "ab") as handle:
        length = struct.pack("<Q", 1 << 40)
        handle.write(length + footer(length))
    value = tensor_value("", [1.0])
    value.node_name = "node"
    write_file(os.path.join(logdir, "node"), [file_version(), summary(0, value)])
    found = {(f.run, f.loader): f.reason for f in check_logdir(logdir).findings}
    assert "waits for a writer forever" in found["fifo", PYTHON]
    assert f"claims {1 << 40} bytes" in found["huge", BOTH]
    assert "node_name 'node'" in found["node", PYTHON]
    path = write_file(str(tmp_path / "single"), [file_version(), summary(0, simple("x", 0.0))])
    ((subject, loader, reason),) = [(f.subject, f.loader, f.reason) for f in check_logdir(path).findings]
    assert (subject, loader) == (os.path.basename(path), BOTH) and "TensorBoard takes a directory" in reason


def test_projector_limits_of_the_page(tmp_path):
    logdir = str(tmp_path)
    directory = embedding_run(logdir, label_img=np.zeros((4, 3, 5, 5)))
    write(directory, "sprite.png", b"not an image")
    config = os.path.join(logdir, "run", "projector_config.pbtxt")
    with open(config) as handle:
        text = handle.read()
    with open(config, "w") as handle:
        handle.write(text.replace('tensor_path: "', 'tensor_shape: 4\ntensor_shape: 2\ntensor_path: "'))
    reasons = [reason for _, _, reason in projector_findings(logdir)]
    assert any("no image the page can show" in reason for reason in reasons)  # Pillow tells (a test dependency)
    assert any("tensor_shape [4, 2] differs from the tensor file's 4 rows of 3" in reason for reason in reasons)
    big = os.path.join(str(tmp_path), "big")
    with SummaryWriter(big) as writer:
        writer.add_embedding(np.zeros((100_001, 1)), tag="many")
    (reason,) = [reason for run, _, reason in projector_findings(logdir) if run == "big"]
    assert "100001 points: the page reads only the first 100,000" in reason


def test_a_run_the_default_loader_does_not_list(tmp_path):
    logdir = str(tmp_path)
    embedding_run(logdir, run="empty")
    (events,) = [name for name in os.listdir(os.path.join(logdir, "empty")) if "tfevents" in name]
    open(os.path.join(logdir, "empty", events), "wb").close()
    (finding,) = check_logdir(logdir).findings
    assert (finding.run, finding.loader, finding.effect) == ("empty", DEFAULT, Effect.LOST)


def test_a_symlink_loop_and_hyperparameters_written_twice(tmp_path):
    logdir = str(tmp_path)
    run = os.path.join(logdir, "a", "sub")
    write_file(run, [file_version(), summary(0, simple("x", 0.0))])
    os.symlink("..", os.path.join(run, "up"))

    def hparams(content):
        value = tensor_value("_hparams_/experiment", [], dtype=0, plugin="hparams")
        value.ClearField("tensor")
        value.metadata.plugin_data.content = content
        return value

    write_file(run, [summary(0, hparams(b"first")), summary(0, hparams(b"second"))], name="events.out.tfevents.2.hp")
    report = check_logdir(logdir)
    found = {(f.subject, f.loader, f.effect) for f in report.findings}
    assert ("up", PYTHON, Effect.NOTE) in found
    assert ("_hparams_/experiment", BOTH, Effect.LOST) in found
    assert [view.run for view in report.tags] == ["a/sub", "a/sub"]  # the loop read once


def test_a_ten_byte_length_over_64_bits_is_no_plain_scalar(tmp_path):
    """A summary length written in ten bytes whose last is above 1: the data server stops
    there (and the Python loader too, where its protobuf refuses it), bulk path or not."""
    import struct

    from eventwriter.visibility import runs

    value = Summary(value=[simple("x", 1.0)]).SerializeToString()
    long_length = bytes([len(value) | 0x80]) + b"\x80" * 8 + b"\x02"
    record = b"\x09" + struct.pack("<d", WALL) + b"\x10\x01\x2a" + long_length + value
    good = [summary(s, simple("x", s)).SerializeToString() for s in (0, 2)]
    write_file(str(tmp_path / "run"), [file_version(), good[0], record, good[1]])
    bulk = check_logdir(str(tmp_path))
    runs.BULK = False
    try:
        one_by_one = check_logdir(str(tmp_path))
    finally:
        runs.BULK = True
    assert bulk.tags == one_by_one.tags and bulk.findings == one_by_one.findings
    try:  # upb refuses the record (as TensorBoard's loader, on it, then does); protobuf 3.20's pure Python takes it
        Event.FromString(record)
        python_takes_it = True
    except Exception:
        python_takes_it = False
    ((default, python),) = [(view.shown[DEFAULT], view.shown[PYTHON]) for view in bulk.tags]
    assert (default, python) == (1, 3 if python_takes_it else 1) and bulk.loses_data


def test_the_same_hyperparameters_twice_in_another_order_lose_nothing(tmp_path):
    from eventwriter.proto.hparams_pb2 import HParamInfo, HParamsPluginData

    def experiment(*names):
        data = HParamsPluginData(version=0)
        data.experiment.hparam_infos.extend(HParamInfo(name=name) for name in names)
        value = Summary.Value(tag="_hparams_/experiment")
        value.metadata.plugin_data.plugin_name = "hparams"
        value.metadata.plugin_data.content = data.SerializeToString()
        return value

    run = str(tmp_path / "run")
    write_file(run, [file_version(), summary(0, experiment("lr", "bs")), summary(0, experiment("bs", "lr"))])
    assert check_logdir(str(tmp_path)).findings == []  # not lost, and no "replaced" for hparams either
    write_file(run, [summary(0, experiment("lr", "bs", "epochs"))], name="events.out.tfevents.9.more")
    (finding,) = check_logdir(str(tmp_path)).findings
    assert (finding.loader, finding.effect, finding.count) == (BOTH, Effect.LOST, 1)
