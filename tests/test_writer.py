"""SummaryWriter's API, read back with eventwriter's own reader (no torch needed)."""

from __future__ import annotations

import io
import math
import os
import pathlib
import re
import socket
import time

import numpy as np
import pytest
from helpers import assert_refused_and_writer_keeps_working, run_events, scalars, summary_values

from eventwriter import FileWriter, SummaryWriter, summary
from eventwriter.proto import types_pb2
from eventwriter.proto.event_pb2 import SessionLog
from eventwriter.reader import iter_events
from eventwriter.storage import MemoryStorage


def test_default_log_dir_is_torchs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1")
    writer.close()
    pattern = r"runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()) + "_lr0.1"
    assert re.fullmatch(pattern, writer.get_logdir().replace(os.sep, "/"))
    assert os.path.isdir(writer.get_logdir())


def test_pathlib_log_dir_and_context_manager(tmp_path):
    log_dir = tmp_path / "p"
    with SummaryWriter(log_dir) as writer:
        writer.add_scalar("x", 1.0, 0)
        assert writer.get_logdir() == log_dir
        assert isinstance(writer.file_writer, FileWriter)
        assert writer._get_file_writer() is writer.file_writer
        assert list(writer.all_writers) == [str(log_dir)]
    assert writer.all_writers is None and writer.file_writer is None
    assert scalars(str(log_dir), "x") == [(0, 1.0)]


@pytest.mark.parametrize(
    "value",
    [3, 2.5, True, np.float32(2.5), np.float64(-1.25), np.int64(7), np.array(4.0), np.array([5.5]), np.array([[6]])],
)
def test_scalar_value_types(logdir, value):
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("x", value, 1)
    ((step, got),) = scalars(logdir, "x")
    assert step == 1 and got == float(np.asarray(value).reshape(()))


def test_nan_and_infinities_are_kept(logdir):
    with SummaryWriter(logdir) as writer:
        for step, value in enumerate([math.nan, math.inf, -math.inf, 1e300]):
            writer.add_scalar("x", value, step)
    got = [v for _, v in scalars(logdir, "x")]
    assert math.isnan(got[0]) and got[1:] == [math.inf, -math.inf, math.inf]


@pytest.mark.parametrize("step", [None, 0, 5, np.int32(6), 7.0, np.array(8), -3, (1 << 63) - 1])
def test_steps(logdir, step):
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("x", 1.0, step)
    assert scalars(logdir, "x") == [(int(step) if step is not None else 0, 1.0)]


def test_walltime_new_style_and_double_precision(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("old", 0.1, 1, walltime=1500.25)
        writer.add_scalar("new", 0.1, 1, new_style=True)
        writer.add_scalar("double", 0.1, 1, new_style=True, double_precision=True)
    values = {tag: (event_value, step) for step, tag, event_value in summary_values(logdir)}
    assert values["old"][0].simple_value == pytest.approx(0.1, rel=1e-7)
    assert values["new"][0].tensor.dtype == types_pb2.DT_FLOAT
    assert values["new"][0].metadata.plugin_data.plugin_name == "scalars"
    assert values["double"][0].tensor.double_val[0] == 0.1
    walls = [e.wall_time for e in run_events(logdir) if e.WhichOneof("what") == "summary"]
    assert walls[0] == 1500.25


def test_add_scalars_writes_torchs_sub_runs(logdir):
    with SummaryWriter(logdir) as writer:
        for step in range(3):
            writer.add_scalars("Loss/both", {"train": step, "val": 2 * step}, step)
        keys = sorted(writer.all_writers)
    assert keys == sorted([logdir, logdir + "/Loss_both_train", logdir + "/Loss_both_val"])
    assert scalars(os.path.join(logdir, "Loss_both_train"), "Loss/both") == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert scalars(os.path.join(logdir, "Loss_both_val"), "Loss/both") == [(0, 0.0), (1, 2.0), (2, 4.0)]
    assert summary_values(logdir) == []


def test_add_scalars_keys_with_slashes_or_dots_that_stay_inside_work_as_in_torch(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_scalars("m", {"a/b": 1.0, "../../inside": 2.0, "..": 3.0}, 0)
    assert scalars(os.path.join(logdir, "m_a", "b"), "m") == [(0, 1.0)]
    assert scalars(os.path.join(logdir, "inside"), "m") == [(0, 2.0)]  # m_.. / .. / inside
    assert scalars(os.path.join(logdir, "m_.."), "m") == [(0, 3.0)]


@pytest.mark.parametrize("key", ["../../../escaped", "/../../../escaped", "x/../../../escaped", "/..", "/../.."])
def test_add_scalars_key_can_never_leave_the_log_dir(tmp_path, key):
    logdir = str(tmp_path / "inner" / "run")
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("before", 1.0, 0)
        with pytest.raises(ValueError, match="outside the log dir"):
            writer.add_scalars("m", {"ok": 1.0, key: 2.0}, 1)
        writer.add_scalar("after", 2.0, 1)
    assert sorted(os.listdir(tmp_path)) == ["inner"]
    assert sorted(os.listdir(tmp_path / "inner")) == ["run"]
    assert not os.path.exists(os.path.join(logdir, "m_ok"))  # nothing written for the call
    assert scalars(logdir, "before") == [(0, 1.0)] and scalars(logdir, "after") == [(1, 2.0)]


def test_a_symlink_in_the_log_dir_does_not_let_a_key_or_run_name_climb_out(tmp_path):
    """``loss_train`` links elsewhere: ``loss_train/..`` is that elsewhere's parent, not the log dir."""
    logdir, elsewhere = tmp_path / "logs", tmp_path / "elsewhere" / "target"
    elsewhere.mkdir(parents=True)
    logdir.mkdir()
    (logdir / "loss_train").symlink_to(elsewhere, target_is_directory=True)
    with SummaryWriter(str(logdir)) as writer:
        with pytest.raises(ValueError, match="outside the log dir"):
            writer.add_scalars("loss", {"train/../escaped": 1.0}, 0)
        with pytest.raises(ValueError, match="outside the log dir"):
            writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="loss_train/../hp_escaped")
        writer.add_scalars("loss", {"train/inside": 2.0}, 0)  # through the link, as the user made it
    assert sorted(os.listdir(tmp_path / "elsewhere")) == ["target"]
    assert os.listdir(elsewhere) == ["inside"]


@pytest.mark.parametrize(
    "call",
    [
        lambda writer: writer.add_scalars("m", {"k" * 300: 1.0}, 0),
        lambda writer: writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="r" * 256),
        lambda writer: writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="ok/" + "é" * 128),
    ],
    ids=["add_scalars key", "run_name", "run_name in UTF-8 bytes"],
)
def test_names_longer_than_file_systems_take_are_refused_up_front(logdir, call):
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError, match=r"directory name of (302|256) bytes; file systems allow 255"):
            call(writer)
        writer.add_scalar("after", 1.0, 0)
    assert scalars(logdir, "after") == [(0, 1.0)]
    assert all("tfevents" in name for name in os.listdir(logdir))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda writer: writer.add_scalars("m", {"a\0b": 1.0}, 0), "'m': add_scalars key 'a\\x00b' cannot name a "),
        (
            lambda writer: writer.add_scalars("m", {"a\udc80": 1.0}, 0),
            "key 'a\\udc80' cannot name a directory: it holds a lone",
        ),
        (lambda writer: writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="r\udc80"), "run_name 'r\\udc80' cannot"),
    ],
    ids=["NUL in a key", "surrogate in a key", "surrogate in run_name"],
)
def test_names_no_file_system_takes_are_refused_saying_why(logdir, call, message):
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError, match=re.escape(message)):
            call(writer)
        writer.add_scalar("after", 1.0, 0)
    assert scalars(logdir, "after") == [(0, 1.0)]
    assert all("tfevents" in name for name in os.listdir(logdir))


def test_add_text(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_text("notes", "**bold** ünï", 3)
        writer.add_text("notes", "second", 4)
    values = summary_values(logdir)
    assert [(step, tag) for step, tag, _ in values] == [(3, "notes/text_summary"), (4, "notes/text_summary")]
    first = values[0][2]
    assert first.metadata.plugin_data.plugin_name == "text"
    assert first.tensor.dtype == types_pb2.DT_STRING
    assert [d.size for d in first.tensor.tensor_shape.dim] == [1]
    assert first.tensor.string_val == ["**bold** ünï".encode()]
    assert not values[1][2].HasField("metadata")  # TensorBoard reads the first only


@pytest.mark.parametrize(
    ("array", "dtype", "field", "expected"),
    [
        (np.array([1.5, 2.5], np.float32), types_pb2.DT_FLOAT, "float_val", [1.5, 2.5]),
        (np.array([[1, 2], [3, 4]], np.int64), types_pb2.DT_INT64, "int64_val", [1, 2, 3, 4]),
        (np.array([1, 255], np.uint8), types_pb2.DT_UINT8, "int_val", [1, 255]),
        (np.array([True, False]), types_pb2.DT_BOOL, "bool_val", [True, False]),
        (np.array([1.0], np.float16), types_pb2.DT_HALF, "half_val", [0x3C00]),
        (np.array([1 + 2j], np.complex64), types_pb2.DT_COMPLEX64, "scomplex_val", [1.0, 2.0]),
        ([0.25, 0.5], types_pb2.DT_DOUBLE, "double_val", [0.25, 0.5]),
    ],
)
def test_add_tensor(logdir, array, dtype, field, expected):
    with SummaryWriter(logdir) as writer:
        writer.add_tensor("t", array, 2)
    ((step, tag, value),) = summary_values(logdir)
    assert (step, tag, value.metadata.plugin_data.plugin_name) == (2, "t", "tensor")
    assert value.tensor.dtype == dtype
    assert [d.size for d in value.tensor.tensor_shape.dim] == list(np.shape(array))
    assert list(getattr(value.tensor, field)) == expected


def test_purge_step_writes_torchs_events(logdir):
    with SummaryWriter(logdir, purge_step=10) as writer:
        writer.add_scalar("x", 1.0, 10)
    events = run_events(logdir)
    assert events[0].file_version == "brain.Event:2"
    assert (events[1].step, events[1].file_version) == (10, "brain.Event:2")
    assert (events[2].step, events[2].session_log.status) == (10, SessionLog.START)
    assert events[3].summary.value[0].tag == "x"


def test_add_after_close_opens_a_new_file(logdir):
    writer = SummaryWriter(logdir)
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    writer.close()
    writer.flush()  # a closed SummaryWriter flushes nothing, as in torch
    writer.add_scalar("x", 2.0, 1)
    writer.add_scalars("m", {"a": 1.0}, 1)
    writer.close()
    assert len([n for n in os.listdir(logdir) if "tfevents" in n]) == 2
    assert scalars(logdir, "x") == [(0, 1.0), (1, 2.0)]


def test_flush_makes_everything_visible(logdir):
    writer = SummaryWriter(logdir, flush_secs=3600)
    for step in range(100):
        writer.add_scalar("x", float(step), step)
    writer.add_scalars("m", {"a": 1.0}, 0)
    writer.flush()
    assert len(scalars(logdir, "x")) == 100
    assert scalars(os.path.join(logdir, "m_a"), "m") == [(0, 1.0)]
    writer.close()


BAD_CALLS = [
    (lambda w: w.add_scalar(5, 1.0), TypeError, r"tag must be a non-empty str, got int 5"),
    (lambda w: w.add_scalar("", 1.0), ValueError, r"tag must be a non-empty str"),
    (lambda w: w.add_scalar(["x"], 1.0), TypeError, r"tag must be a non-empty str, got list"),
    (lambda w: w.add_scalar("bad", "1.0"), TypeError, r"'bad'.*scalar_value.*got str"),
    (lambda w: w.add_scalar("bad", None), TypeError, r"'bad'.*scalar_value.*got NoneType"),
    (lambda w: w.add_scalar("bad", 1 + 2j), TypeError, r"'bad'.*scalar_value.*complex"),
    (lambda w: w.add_scalar("bad", np.ones(3)), ValueError, r"'bad'.*exactly one element.*\(3,\)"),
    (lambda w: w.add_scalar("bad", [1.0]), TypeError, r"'bad'.*scalar_value"),
    (lambda w: w.add_scalar("bad", 1.0, 1.5), ValueError, r"'bad'.*global_step must be an integer, got float 1.5"),
    (lambda w: w.add_scalar("bad", 1.0, "3"), TypeError, r"'bad'.*global_step must be an integer, got str"),
    (lambda w: w.add_scalar("bad", 1.0, 1 << 64), ValueError, r"'bad'.*int64"),
    (lambda w: w.add_scalar("bad", 1.0, 1, walltime="now"), TypeError, r"'bad'.*walltime"),
    (lambda w: w.add_scalars("m", [1.0, 2.0]), TypeError, r"'m'.*tag_scalar_dict must be a dict.*got list"),
    (lambda w: w.add_scalars("m", {"a": "x"}), TypeError, r"'m/a'.*scalar_value"),
    (lambda w: w.add_scalars("m", {3: 1.0}), TypeError, r"'m'.*keys must be str, got int"),
    (lambda w: w.add_scalars("", {"a": 1.0}), ValueError, r"main_tag must be a non-empty str"),
    (lambda w: w.add_text("t", 5), TypeError, r"'t'.*text_string must be a str, got int"),
    (lambda w: w.add_text(None, "x"), TypeError, r"tag must be a non-empty str, got NoneType"),
    (lambda w: w.add_tensor("t", "abc"), TypeError, r"'t'.*tensor must be numeric"),
    (lambda w: w.add_tensor("t", np.array([object()])), TypeError, r"'t'.*expected a numeric.*got dtype object"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_CALLS)
def test_bad_input_is_refused_clearly_and_the_writer_keeps_working(logdir, call, error, message):
    assert_refused_and_writer_keeps_working(logdir, call, error, message)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"log_dir": 5}, TypeError, "log_dir must be a str or path-like, got int 5"),
        ({"comment": 1}, TypeError, "comment must be a str, got int 1"),
        ({"purge_step": "x"}, TypeError, "'purge_step': global_step must be an integer, got str"),
        ({"max_queue": 1.5}, TypeError, "max_queue must be an int, got float 1.5"),
        ({"clock": "now"}, TypeError, "clock must be a function returning seconds since the epoch, got str"),
        ({"clock": lambda: None}, TypeError, "clock must return seconds since the epoch as a number, got NoneType"),
        ({"hostname": "../x"}, ValueError, "hostname goes into file names: it cannot hold '/'"),
        ({"pid": 1.0}, TypeError, "pid must be an int or None, got float 1.0"),
        ({"log_dir": None, "clock": lambda: float("nan")}, ValueError, "clock must return a finite, non-negative"),
    ],
)
def test_bad_constructor_arguments_create_nothing(tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.chdir(tmp_path)  # where the default log dir would go
    with pytest.raises(error, match=re.escape(message)):
        SummaryWriter(**{"log_dir": str(tmp_path / "x"), **kwargs})
    assert os.listdir(tmp_path) == []


def test_storage_clock_and_identity_reach_every_file_of_the_writer():
    storage = MemoryStorage()
    with SummaryWriter(storage=storage, clock=lambda: 1700000000.0, hostname="node7", pid=42) as writer:
        writer.add_scalar("x", 1.0, 0)
        writer.add_scalars("pair", {"a": 1.0}, 0)
        writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="trial")
        writer.add_embedding([[1.0]], tag="e")
    run = writer.get_logdir()
    assert run == "runs/" + time.strftime("%b%d_%H-%M-%S", time.localtime(1700000000.0)) + "_node7"
    name = "events.out.tfevents.1700000000.node7.42."
    files = storage.paths()
    assert {path.rsplit(".", 1)[0] for path in files if "tfevents" in path} == {
        f"{run}/{name[:-1]}",
        f"{run}/pair_a/{name[:-1]}",
        f"{run}/trial/{name[:-1]}",
    }
    assert f"{run}/projector_config.pbtxt" in files and f"{run}/00000/e/tensors.tsv" in files
    events = [e for path in files if "tfevents" in path for e in iter_events(io.BytesIO(storage.read_bytes(path)))]
    assert {e.wall_time for e in events} == {1700000000.0}


def test_file_writer_reopen_works(logdir):
    writer = FileWriter(logdir)
    writer.close()
    writer.reopen()  # torch's FileWriter.reopen raises AttributeError
    writer.add_summary(summary.scalar("r", 1.0), 4)
    writer.close()
    assert scalars(logdir, "r") == [(4, 1.0)]


def test_path_objects_in_add_scalars_keys(tmp_path):
    with SummaryWriter(pathlib.Path(tmp_path)) as writer:
        writer.add_scalars("m", {"k": 1.0}, 0)
    assert os.path.isdir(tmp_path / "m_k")


def test_more_bad_scalars_and_tags(logdir):
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError, match=r"'big'.*must fit in a float, got int 1000"):
            writer.add_scalar("big", 10**400)
        with pytest.raises(ValueError, match="lone surrogate"):
            writer.add_scalar("bad\udc80", 1.0)
        with pytest.raises(ValueError, match="lone surrogate"):
            writer.add_text("bad\udc80", "x")
        writer.add_scalar("ok", 1.0, 0)
    assert scalars(logdir, "ok") == [(0, 1.0)]
