"""The eventwriter command: inspect, validate and export, through a real subprocess."""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from eventwriter import SummaryWriter
from eventwriter.cli import main
from eventwriter.reader import find_event_files, iter_records


@pytest.fixture
def run_dir(logdir):
    with SummaryWriter(logdir) as writer:
        for step in range(10):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_scalar("loss", math.nan, 10)
        writer.add_scalars("grouped", {"train": 1.0, "val": 2.0}, 3)
        writer.add_text("notes", "hello", 7)
    return logdir


def flip_bit(path, offset, mask=0x01):
    """Flip bits of the byte at ``offset`` (always a change, whatever the byte was)."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ mask]))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "eventwriter", *args], capture_output=True, text=True, timeout=60)


def test_inspect(run_dir):
    result = run_cli("inspect", run_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "run '.': 1 file(s), 13 event(s)"
    assert lines[1].split() == ["loss", "scalars", "11", "steps", "0..10"]
    assert lines[2].split() == ["notes/text_summary", "text", "1", "steps", "7"]
    assert "run 'grouped_train': 1 file(s), 2 event(s)" in lines
    assert "run 'grouped_val': 1 file(s), 2 event(s)" in lines


def test_inspect_lists_the_projectors_embeddings(tmp_path):
    import numpy as np

    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalar("x", 1.0, 0)
        labels = [[str(i), "even" if i % 2 == 0 else "odd"] for i in range(10)]
        thumbnails = np.zeros((10, 3, 8, 6))
        writer.add_embedding(np.ones((10, 4)), labels, thumbnails, 3, "points", metadata_header=["id", "parity"])
        writer.add_embedding(np.ones((5, 2)), list("abcde"))
    result = run_cli("inspect", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2:] == [
        "  projector: 2 embedding(s)",
        "    'points' step 3: 10 x 4, metadata 2 columns (id, parity), sprite 00003/points/sprite.png (6x8 thumbnails)",
        "    'default' step 0: 5 x 2, metadata 1 column",
    ]
    (tmp_path / "projector_config.pbtxt").write_text("embeddings { not a field }")
    broken = run_cli("inspect", str(tmp_path))
    assert broken.returncode == 1 and "projector_config.pbtxt cannot be read" in broken.stdout


def test_validate_clean_truncated_and_flipped(run_dir):
    clean = run_cli("validate", run_dir)
    assert clean.returncode == 0 and "3 file(s) checked, 0 corrupt" in clean.stdout

    path = find_event_files(run_dir)["."][0]
    offsets = [r.offset for r in iter_records(path)]
    with open(path, "r+b") as handle:
        handle.truncate(offsets[-1] + 9)
    truncated = run_cli("validate", run_dir)
    assert truncated.returncode == 0
    assert f"truncated tail at byte {offsets[-1]}" in truncated.stdout and "not corruption" in truncated.stdout

    flip_bit(path, offsets[4] + 20, mask=0x80)
    flipped = run_cli("validate", run_dir)
    assert flipped.returncode == 1
    assert f"CORRUPT: {path}" in flipped.stdout
    assert f"corrupt record at byte {offsets[4]}: data CRC mismatch" in flipped.stdout


def test_export_csv_to_stdout(run_dir):
    result = run_cli("export", run_dir, "--format", "csv", "-o", "-")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    loss = [(int(r["step"]), float(r["value"])) for r in rows if r["run"] == "." and r["tag"] == "loss"]
    assert loss[:3] == [(0, 1.0), (1, 0.5), (2, float.fromhex("0x1.555556p-2"))]
    assert math.isnan(loss[10][1])
    assert {(r["run"], r["tag"], r["value"]) for r in rows if r["run"] != "."} == {
        ("grouped_train", "grouped", "1.0"),
        ("grouped_val", "grouped", "2.0"),
    }


def test_export_jsonl_to_file(run_dir, tmp_path):
    out = tmp_path / "scalars.jsonl"
    assert main(["export", run_dir, "--format", "jsonl", "-o", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0] == {"run": ".", "tag": "loss", "step": 0, "wall_time": records[0]["wall_time"], "value": 1.0}
    assert records[10]["value"] == "NaN"
    assert len(records) == 13


def test_missing_log_dir_is_a_usage_error(tmp_path):
    for command in ["inspect", "validate", "export"]:
        result = run_cli(command, str(tmp_path / "nope"))
        assert result.returncode == 2
        assert "no such log dir" in result.stderr


def test_console_script_is_installed():
    executable = shutil.which("eventwriter", path=os.path.dirname(sys.executable))
    assert executable, f"no eventwriter console script next to {sys.executable}"
    result = subprocess.run([executable, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "validate" in result.stdout


def test_export_skips_only_the_damaged_file(tmp_path):
    for run in ("a_run", "b_run"):
        with SummaryWriter(str(tmp_path / run)) as writer:
            for step in range(5):
                writer.add_scalar("x", float(step), step)
    damaged = find_event_files(str(tmp_path / "a_run"))["."][0]
    offsets = [r.offset for r in iter_records(damaged)]
    flip_bit(damaged, offsets[3] + 14)
    result = run_cli("export", str(tmp_path))
    assert result.returncode == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["run"], r["step"]) for r in rows] == [("a_run", str(s)) for s in (0, 1, 3, 4)] + [
        ("b_run", str(s)) for s in range(5)
    ]
    assert f"byte offset {offsets[3]}: data CRC mismatch; record left out" in result.stderr


def test_output_errors_are_reported_without_a_traceback(run_dir, tmp_path):
    result = run_cli("export", run_dir, "-o", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "Is a directory" in result.stderr
    piped = subprocess.run(
        f"{sys.executable} -m eventwriter export {run_dir} | head -1", shell=True, capture_output=True, text=True
    )
    assert piped.stdout == "run,tag,step,wall_time,value\n" and "Traceback" not in piped.stderr


# Special entries next to a good run: every command finishes, reports the entry with its
# reason on stderr, and still handles the good run.


def good_run(tmp_path):
    """A log dir with one good run ("good", five scalars); returns (logdir, its event file)."""
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir / "good")) as writer:
        for step in range(5):
            writer.add_scalar("x", float(step), step)
    (path,) = find_event_files(str(logdir))["good"]
    return str(logdir), path


def make_fifo(path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)


def make_dangling_symlink(path):
    os.symlink(os.path.join(os.path.dirname(path), "no-such-target"), path)


def make_symlink_loop(path):
    os.symlink(os.path.basename(path), path)  # points at itself


# name of the bad entry's maker -> (maker, reason reported, exit status of every command)
SPECIAL_ENTRIES = {
    "fifo": (make_fifo, "expected a regular file, got a FIFO (named pipe)", 1),
    "dangling_symlink": (make_dangling_symlink, "expected a regular file, got a dangling symlink", 1),
    "symlink_loop": (make_symlink_loop, "expected a regular file, got a symlink loop", 1),
    "directory": (os.mkdir, "expected a regular file, got a directory", 0),  # searched, so only noted
}


def check_good_run_handled(command, result, logdir, good):
    if command == "inspect":
        assert "run 'good': 1 file(s), 6 event(s)" in result.stdout
        assert result.stdout.splitlines()[-1].split() == ["x", "scalars", "5", "steps", "0..4"]
    elif command == "validate":
        assert f"ok: {good} (6 records" in result.stdout
        assert "1 file(s) checked, 0 corrupt" in result.stdout
    else:
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [(r["run"], r["tag"], r["step"], r["value"]) for r in rows] == [
            ("good", "x", str(step), str(float(step))) for step in range(5)
        ]


@pytest.mark.parametrize("command", ["inspect", "validate", "export"])
@pytest.mark.parametrize("entry", list(SPECIAL_ENTRIES))
def test_special_entry_is_reported_and_the_good_run_still_handled(tmp_path, command, entry):
    make, reason, status = SPECIAL_ENTRIES[entry]
    logdir, good = good_run(tmp_path)
    bad = os.path.join(logdir, "good", "events.out.tfevents.0.bad")  # sorts before the good file
    make(bad)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "eventwriter", command, logdir], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"eventwriter {command} hung on {entry} {bad}")
    assert result.returncode == status, result.stderr
    assert f"{bad}: {reason}" in result.stderr and "Traceback" not in result.stderr
    check_good_run_handled(command, result, logdir, good)
    if command == "validate":
        assert ("1 could not be checked" in result.stdout) == bool(status)


def vanishing_listing(monkeypatch, logdir):
    """Make every listing of ``logdir`` name an event file that is gone by the time it is opened."""
    from eventwriter import cli, reader
    from eventwriter import validate as validating

    real = reader.find_event_files
    gone = os.path.join(logdir, "good", "events.out.tfevents.0.gone")

    def listing(path, **kwargs):
        runs = real(path, **kwargs)
        runs["good"] = sorted([*runs["good"], gone])
        return runs

    monkeypatch.setattr(cli, "find_event_files", listing)
    monkeypatch.setattr(validating, "find_event_files", listing)
    monkeypatch.setattr(reader, "find_event_files", listing)
    return gone


def run_main(capsys, *args):
    status = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


@pytest.mark.parametrize("command", ["inspect", "validate", "export"])
def test_file_deleted_between_listing_and_opening(tmp_path, monkeypatch, capsys, command):
    logdir, good = good_run(tmp_path)
    gone = vanishing_listing(monkeypatch, logdir)
    result = run_main(capsys, command, logdir)
    assert result.returncode == 1
    assert f"eventwriter {command}: skipped {gone}: No such file or directory" in result.stderr
    if command == "inspect":
        assert "run 'good': 2 file(s), 6 event(s)" in result.stdout
    else:
        check_good_run_handled(command, result, logdir, good)
    if command == "validate":
        assert "1 file(s) checked, 0 corrupt, 1 could not be checked" in result.stdout


@pytest.mark.parametrize("command", ["inspect", "validate", "export"])
def test_read_error_in_one_file_is_reported_and_the_others_read(tmp_path, monkeypatch, capsys, command):
    from eventwriter import cli, reader, tables
    from eventwriter import validate as validating

    logdir, good = good_run(tmp_path)
    with SummaryWriter(os.path.join(logdir, "bad")) as writer:
        writer.add_scalar("y", 1.0, 0)
    (bad,) = find_event_files(os.path.join(logdir, "bad"))["."]

    def failing(read):
        def call(path, *args, **kwargs):
            if os.fspath(path) == bad:
                raise OSError(errno.EIO, "Input/output error", bad)
            return read(path, *args, **kwargs)

        return call

    monkeypatch.setattr(validating, "scan_file", failing(reader.scan_file))
    monkeypatch.setattr(cli, "iter_events", failing(reader.iter_events))
    monkeypatch.setattr(reader, "iter_events", failing(reader.iter_events))
    monkeypatch.setattr(reader, "open_regular", failing(reader.open_regular))  # iter_scalars opens files itself
    monkeypatch.setattr(tables, "open_regular", failing(tables.open_regular))  # and so does export
    result = run_main(capsys, command, logdir)
    assert result.returncode == 1
    assert f"eventwriter {command}: skipped {bad}: Input/output error" in result.stderr
    check_good_run_handled(command, result, logdir, good)


def test_export_leaves_out_tensors_that_hold_no_single_value_of_their_dtype(tmp_path, capsys):
    """CRCs fine, but a float16 'scalar' with bits beyond 16 and a float32 one with 3
    content bytes: not scalars, and no traceback."""
    from eventwriter import FileWriter
    from eventwriter.proto.event_pb2 import Event
    from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
    from eventwriter.proto.tensor_pb2 import TensorProto
    from eventwriter.proto.types_pb2 import DT_FLOAT, DT_HALF

    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    tensors = {
        "half": TensorProto(dtype=DT_HALF, half_val=[70000]),
        "short": TensorProto(dtype=DT_FLOAT, tensor_content=b"abc"),
        "good": TensorProto(dtype=DT_FLOAT, float_val=[2.5]),
    }
    writer = FileWriter(str(tmp_path))
    for tag, tensor in tensors.items():
        value = Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
        writer.add_event(Event(step=1, wall_time=1.0, summary=Summary(value=[value])))
    writer.close()
    assert main(["export", str(tmp_path), "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["tag"], line["value"]) for line in lines] == [("good", 2.5)]


def test_the_cli_module_runs_with_python_dash_m(tmp_path):
    SummaryWriter(str(tmp_path)).close()
    result = subprocess.run(
        [sys.executable, "-m", "eventwriter.cli", "validate", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "1 file" in result.stdout, result
