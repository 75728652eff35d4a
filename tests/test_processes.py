"""Writers across processes: pickled copies, forked children, ranks, many processes on one log dir."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
from helpers import scalars

from eventwriter import EventFileWriter, FileWriter, SummaryWriter, WriterClosedError
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.ranks import global_rank
from eventwriter.reader import iter_events
from eventwriter.storage import MemoryStorage


def event_files_in(directory) -> list[str]:
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if "tfevents" in n)


def tags_by_file(directory) -> list[list[tuple[str, int, float]]]:
    """(tag, step, value) of every scalar, per event file of ``directory``."""
    return [
        [(v.tag, e.step, v.simple_value) for e in iter_events(path) if e.HasField("summary") for v in e.summary.value]
        for path in event_files_in(directory)
    ]


@pytest.fixture(autouse=True)
def no_rank(monkeypatch):
    for name in ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        monkeypatch.delenv(name, raising=False)


# -- pickling ---------------------------------------------------------------------------


def test_a_pickled_writer_is_a_copy_that_writes_its_own_file(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.add_scalar("a", 1.0, 0)
    copy = pickle.loads(pickle.dumps(writer))
    assert copy is not writer and copy.log_dir == tmp_path  # as given, as the original's
    assert len(event_files_in(tmp_path)) == 1  # the copy opens its file on first use
    copy.add_scalar("b", 2.0, 0)
    copy.add_scalars("m", {"k": 3.0}, 0)
    writer.add_scalar("a", 4.0, 1)  # the original keeps working
    copy.close()
    writer.close()
    assert sorted(tags_by_file(tmp_path)) == [[("a", 0, 1.0), ("a", 1, 4.0)], [("b", 0, 2.0)]]
    assert scalars(str(tmp_path / "m_k"), "m") == [(0, 3.0)]


def test_copies_of_one_writer_in_one_process_are_one_object(tmp_path):
    writer = SummaryWriter(tmp_path)
    data = pickle.dumps(writer)
    first, second = pickle.loads(data), pickle.loads(pickle.dumps(writer))
    assert first is second is not writer
    assert pickle.loads(pickle.dumps(first)) is first  # a copy pickles as its original
    assert pickle.loads(pickle.dumps(SummaryWriter(tmp_path))) is not first
    writer.close()


def test_an_unused_copy_creates_nothing(tmp_path):
    writer = SummaryWriter(tmp_path / "run")
    file_writer = FileWriter(tmp_path / "files")
    for original in (writer, file_writer):
        copy = pickle.loads(pickle.dumps(original))
        copy.flush()
        copy.close()
    writer.close()
    file_writer.close()
    assert len(event_files_in(tmp_path / "run")) == len(event_files_in(tmp_path / "files")) == 1


def test_a_copy_opens_its_files_on_first_use_of_any_kind(tmp_path):
    writer = SummaryWriter(tmp_path)
    uses = [
        lambda w: w.add_text("t", "x", 0),
        lambda w: w.add_histogram("h", np.arange(10.0), 0),
        lambda w: w.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="h"),
        lambda w: w.file_writer.add_summary(Summary(value=[Summary.Value(tag="s", simple_value=1.0)]), 0),
        lambda w: w._get_file_writer().add_event(Event(step=3)),
    ]
    for use in uses:
        original = SummaryWriter(tmp_path)
        copy = pickle.loads(pickle.dumps(original))
        before = len(event_files_in(tmp_path))
        use(copy)
        copy.close()
        assert len(event_files_in(tmp_path)) == before + 1
        original.close()
    writer.close()
    assert len(event_files_in(tmp_path / "h")) == 1


def test_a_pickled_file_writer_is_a_copy(tmp_path):
    writer = FileWriter(tmp_path)
    copy = pickle.loads(pickle.dumps(writer))
    assert copy.get_logdir() == str(tmp_path)
    copy.add_summary(Summary(value=[Summary.Value(tag="x", simple_value=2.0)]), 5)
    copy.close()
    writer.close()
    assert sorted(tags_by_file(tmp_path)) == [[], [("x", 5, 2.0)]]


def test_a_writers_file_writer_pickles_as_a_copy_in_its_run(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.add_scalars("m", {"k": 1.0}, 0)
    for file_writer in (writer.file_writer, writer.all_writers[str(tmp_path / "m_k")]):
        copy = pickle.loads(pickle.dumps(file_writer))
        assert copy.get_logdir() == file_writer.get_logdir()
        copy.add_summary(Summary(value=[Summary.Value(tag="c", simple_value=1.0)]), 0)
        copy.close()
    with pytest.raises(TypeError, match="pickle the SummaryWriter or FileWriter"):
        pickle.dumps(writer.file_writer.event_writer)
    writer.close()
    assert len(event_files_in(tmp_path)) == len(event_files_in(tmp_path / "m_k")) == 2
    with pytest.raises(TypeError, match="pickle the SummaryWriter or FileWriter"):
        pickle.dumps(EventFileWriter(tmp_path))


class NamedWriter(SummaryWriter):
    def log_loss(self, value: float, step: int) -> None:
        self.add_scalar(f"{self.prefix}/loss", value, step)


class NamedFileWriter(FileWriter):
    pass


def test_a_subclass_pickles_as_itself_with_its_attributes(tmp_path):
    writer = NamedWriter(tmp_path)
    writer.prefix = "train"
    copy = pickle.loads(pickle.dumps(writer))
    assert type(copy) is NamedWriter and copy.prefix == "train"
    copy.log_loss(0.5, 1)
    copy.close()
    writer.close()
    assert scalars(str(tmp_path), "train/loss") == [(1, 0.5)]
    file_writer = NamedFileWriter(tmp_path / "files")
    file_writer.note = "kept"
    file_copy = pickle.loads(pickle.dumps(file_writer))
    assert type(file_copy) is NamedFileWriter and file_copy.note == "kept"
    file_writer.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_file_writer_kept_from_before_the_fork_writes_its_own_file_in_the_child(tmp_path):
    writer = SummaryWriter(tmp_path)
    kept = writer.file_writer
    pid = os.fork()
    if pid == 0:
        try:
            kept.add_summary(Summary(value=[Summary.Value(tag="child", simple_value=1.0)]), 0)
            kept.close()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    kept.add_summary(Summary(value=[Summary.Value(tag="parent", simple_value=2.0)]), 0)
    writer.close()
    assert sorted(tags_by_file(tmp_path)) == [[("child", 0, 1.0)], [("parent", 0, 2.0)]]


def test_a_writer_on_memory_storage_pickles_with_a_copy_of_its_files():
    storage = MemoryStorage()
    writer = SummaryWriter("run", storage=storage)
    writer.add_scalar("x", 1.0, 0)
    writer.flush()
    copy = pickle.loads(pickle.dumps(writer))
    copy.add_scalar("y", 2.0, 0)
    copy.close()
    writer.close()
    copied = copy._runs.given.storage
    assert copied is not storage
    assert len([p for p in copied._files if "tfevents" in p]) == 2
    assert len([p for p in storage._files if "tfevents" in p]) == 1


def _log_in_child(writer: SummaryWriter, index: int) -> None:
    for step in range(50):
        writer.add_scalar(f"p{index}", float(step), step)
    # never closed: the process's end writes what is queued


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_processes_given_the_writer_log_through_copies(tmp_path, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    context = multiprocessing.get_context(method)
    writer = SummaryWriter(tmp_path)
    children = [context.Process(target=_log_in_child, args=(writer, index)) for index in range(2)]
    for child in children:
        child.start()
    writer.add_scalar("parent", 1.0, 0)
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    writer.close()
    files = tags_by_file(tmp_path)
    assert len(files) == 3
    assert sorted(len(values) for values in files) == [1, 50, 50]
    for index in range(2):
        assert scalars(str(tmp_path), f"p{index}") == [(step, float(step)) for step in range(50)]


def _log_task(writer: SummaryWriter, index: int) -> int:
    writer.add_scalar("task", float(index), index)
    return os.getpid()


def test_a_pool_worker_writes_one_file_whatever_the_number_of_tasks(tmp_path):
    writer = SummaryWriter(tmp_path)
    pool = multiprocessing.get_context("spawn").Pool(2)
    try:
        workers = set(pool.starmap(_log_task, [(writer, index) for index in range(40)], chunksize=1))
    finally:
        pool.close()  # workers end through multiprocessing's finalizers, which write what is queued
        pool.join()
    writer.close()
    assert len(event_files_in(tmp_path)) == 1 + len(workers)
    assert sorted(scalars(str(tmp_path), "task")) == [(index, float(index)) for index in range(40)]


# -- ranks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranks", "error", "message"),
    [("first", ValueError, "'all', 'zero', 'each'.*'first'"), (0, TypeError, "got int"), (None, TypeError, "None")],
)
def test_ranks_is_checked(tmp_path, ranks, error, message):
    with pytest.raises(error, match=message):
        SummaryWriter(tmp_path, ranks=ranks)
    with pytest.raises(error, match=message):
        FileWriter(tmp_path, ranks=ranks)
    assert not os.listdir(tmp_path)


def test_the_rank_comes_from_rank_then_the_launchers_variables(monkeypatch):
    assert global_rank() == 0
    monkeypatch.setenv("SLURM_PROCID", "5")
    assert global_rank() == 5
    monkeypatch.setenv("RANK", "2")
    assert global_rank() == 2
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match="RANK environment variable must be a whole number, got 'two'"):
        global_rank()
    monkeypatch.setenv("RANK", "-1")
    with pytest.raises(ValueError, match=r"RANK .* at least 0"):
        global_rank()


def every_kind_of_call(writer: SummaryWriter) -> None:
    writer.add_scalar("s", 1.0, 0)
    writer.add_scalars("m", {"a": 1.0, "b": 2.0}, 0)
    writer.add_text("t", "text", 0)
    writer.add_histogram("h", np.arange(100.0), 0)
    writer.add_image("i", np.zeros((3, 4, 4), dtype=np.uint8), 0)
    writer.add_pr_curve("pr", np.array([0, 1, 1]), np.array([0.1, 0.6, 0.9]), 0)
    writer.add_hparams({"lr": 0.1}, {"hp/m": 1.0}, run_name="trial")
    writer.add_embedding(np.eye(3), metadata=["a", "b", "c"], tag="emb")
    writer.add_custom_scalars({"c": {"x": ["Multiline", ["s"]]}})
    writer.flush()


def test_ranks_zero_on_another_rank_checks_every_call_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    log_dir = tmp_path / "run"
    writer = SummaryWriter(log_dir, ranks="zero")
    every_kind_of_call(writer)
    with pytest.raises(TypeError, match=r"'s'.*str"):
        writer.add_scalar("s", "one", 1)
    with pytest.raises(ValueError, match="'h'"):
        writer.add_histogram("h", np.array([np.nan]), 1)
    assert writer.log_dir == log_dir and writer.get_logdir() == log_dir
    writer.close()
    file_writer = FileWriter(log_dir, ranks="zero")
    file_writer.add_summary(Summary(value=[Summary.Value(tag="x", simple_value=1.0)]), 0)
    file_writer.close()
    assert os.listdir(tmp_path) == []


def test_ranks_zero_on_rank_zero_writes_as_usual(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    with SummaryWriter(tmp_path / "zero", ranks="zero") as writer:
        every_kind_of_call(writer)
    with SummaryWriter(tmp_path / "all") as writer:
        every_kind_of_call(writer)

    def layout(directory):
        return sorted(
            (os.path.relpath(root, directory), sorted(n if "tfevents" not in n else "events" for n in names))
            for root, _, names in os.walk(directory)
        )

    assert layout(tmp_path / "zero") == layout(tmp_path / "all")
    assert {"m_a", "m_b", "trial", "projector_config.pbtxt"} <= set(os.listdir(tmp_path / "zero"))
    assert scalars(str(tmp_path / "zero"), "s") == [(0, 1.0)]


def test_ranks_each_writes_under_the_ranks_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    writer = SummaryWriter(tmp_path, ranks="each")
    every_kind_of_call(writer)
    assert writer.log_dir == str(tmp_path / "rank3") == writer.get_logdir()
    writer.close()
    assert os.listdir(tmp_path) == ["rank3"]
    names = sorted(os.listdir(tmp_path / "rank3"))
    assert {"m_a", "m_b", "trial", "projector_config.pbtxt"} <= set(names)
    assert scalars(str(tmp_path / "rank3"), "s") == [(0, 1.0)]
    file_writer = FileWriter(tmp_path, ranks="each")
    assert file_writer.get_logdir() == str(tmp_path / "rank3")
    file_writer.close()


def test_a_copy_reads_its_rank_when_first_used(tmp_path, monkeypatch):
    writer = SummaryWriter(tmp_path, ranks="each")  # rank 0 here
    data = pickle.dumps(writer)
    writer.close()
    monkeypatch.setenv("RANK", "1")  # as after init_process_group in a spawned process
    copy = pickle.loads(data)
    copy.add_scalar("x", 1.0, 0)
    copy.close()
    assert sorted(os.listdir(tmp_path)) == ["rank0", "rank1"]
    assert scalars(str(tmp_path / "rank1"), "x") == [(0, 1.0)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_reads_its_rank_when_it_first_uses_the_writer(tmp_path):
    writer = SummaryWriter(tmp_path, ranks="each")
    pid = os.fork()
    if pid == 0:
        try:
            os.environ["RANK"] = "7"
            writer.add_scalar("x", 7.0, 0)
            writer.close()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    writer.close()
    assert sorted(os.listdir(tmp_path)) == ["rank0", "rank7"]
    assert scalars(str(tmp_path / "rank7"), "x") == [(0, 7.0)]


# -- many processes on one log dir ------------------------------------------------------

CHILD = """
import sys, time
import numpy as np
from eventwriter import SummaryWriter
log_dir, index, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
writer = SummaryWriter(log_dir)
for step in range(100):
    writer.add_scalar(f"p{index}", float(step), step)
writer.add_scalars("m", {"k": float(index)}, index)
writer.add_hparams({"index": index}, {"hp/m": float(index)}, run_name="h")
writer.add_embedding(np.full((2, 2), float(index)), tag=f"e{index}", global_step=index)
writer.close()
"""


def test_sixteen_processes_starting_together_on_one_log_dir_lose_nothing(tmp_path):
    log_dir = tmp_path / "deep" / "run"  # not there yet: every process makes it at once
    start = time.time() + 3.0  # past every interpreter's start-up
    processes = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(log_dir), str(index), str(start)]) for index in range(16)
    ]
    assert [process.wait(120) for process in processes] == [0] * 16
    assert len(event_files_in(log_dir)) == 16
    for index in range(16):
        assert scalars(str(log_dir), f"p{index}") == [(step, float(step)) for step in range(100)]
    assert sorted(scalars(str(log_dir / "m_k"), "m")) == [(index, float(index)) for index in range(16)]
    assert len(event_files_in(log_dir / "h")) == 16
    config = (log_dir / "projector_config.pbtxt").read_text()
    assert sorted(int(line.split('"e')[1].split(":")[0]) for line in config.splitlines() if "tensor_name" in line) == (
        list(range(16))
    )


def test_reading_the_rank_never_imports_torch(tmp_path):
    script = (
        "import sys, os; os.environ['RANK'] = '1'\n"
        "from eventwriter import SummaryWriter\n"
        f"w = SummaryWriter({str(tmp_path / 'run')!r}, ranks='zero'); w.add_scalar('x', 1.0, 0); w.close()\n"
        f"w = SummaryWriter(ranks='each', comment='_c'); w.add_scalar('x', 1.0, 0); w.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorboard')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert os.listdir(tmp_path) == ["runs"]
    (name,) = os.listdir(tmp_path / "runs")
    assert name.endswith("_c") and os.listdir(tmp_path / "runs" / name) == ["rank1"]


class FakeStore:
    """torch.distributed's Store.compare_set, over a dict."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    def compare_set(self, key: str, expected: str, desired: str) -> bytes:
        current = self.values.get(key)
        if (current is None and expected == "") or current == expected.encode():
            self.values[key] = desired.encode()
        return self.values[key]


def fake_torch_distributed(monkeypatch, rank: int, store: FakeStore) -> None:
    """A stand-in for an imported, initialized torch.distributed."""
    c10d = types.SimpleNamespace(_get_default_store=lambda: store)
    dist = types.SimpleNamespace(
        is_available=lambda: True, is_initialized=lambda: True, get_rank=lambda: rank, distributed_c10d=c10d
    )
    monkeypatch.setitem(sys.modules, "torch.distributed", dist)


def test_ranks_agree_on_the_default_log_dir_through_the_jobs_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", "9")  # an initialized process group's rank comes first
    store = FakeStore()
    store.values["eventwriter/default_log_dir/0/0"] = b"runs/chosen_by_rank0"  # proposed by another rank
    fake_torch_distributed(monkeypatch, 1, store)
    import eventwriter.ranks as ranks

    monkeypatch.setattr(ranks, "_default_names", itertools.count())
    with SummaryWriter(ranks="each") as writer:
        writer.add_scalar("x", 1.0, 0)
    assert writer.log_dir == os.path.join("runs", "chosen_by_rank0", "rank1")
    second = SummaryWriter(comment="_second")  # the next writer: a name of its own, proposed by this rank
    assert second.log_dir.endswith("_second")
    assert store.values["eventwriter/default_log_dir/0/1"] == second.log_dir.encode()
    second.close()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")  # torchrun restarted the job: a new name
    monkeypatch.setattr(ranks, "_default_names", itertools.count())
    third = SummaryWriter(comment="_third")
    assert third.log_dir.endswith("_third")
    assert store.values["eventwriter/default_log_dir/1/0"] == third.log_dir.encode()
    third.close()


class LockHoldingWriter(SummaryWriter):
    """Drops its lock when pickled, as Python's documentation shows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock, self.count = threading.Lock(), 0

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.Lock()


class SlottedWriter(SummaryWriter):
    __slots__ = ("slot",)


def test_a_subclass_pickles_through_its_getstate_and_keeps_its_slots(tmp_path):
    writer = LockHoldingWriter(tmp_path / "a")
    writer.count = 3
    copy = pickle.loads(pickle.dumps(writer))
    assert type(copy) is LockHoldingWriter and copy.count == 3 and copy.lock is not writer.lock
    copy.add_scalar("x", 1.0, 0)
    copy.close()
    slotted = SlottedWriter(tmp_path / "b")
    slotted.slot = 42
    assert pickle.loads(pickle.dumps(slotted)).slot == 42
    writer.close()
    slotted.close()
    assert len(event_files_in(tmp_path / "a")) == 2


@pytest.mark.parametrize(("ranks", "runs"), [("zero", []), ("each", ["rank0", "rank1"])])
def test_a_kept_file_writer_copy_goes_where_its_writers_ranks_say(tmp_path, monkeypatch, ranks, runs):
    writer = SummaryWriter(tmp_path / "run", ranks=ranks)  # rank 0 here
    writer.add_scalars("m", {"k": 1.0}, 0)
    kept = pickle.dumps([writer.file_writer, writer.all_writers[os.path.join(writer.log_dir, "m_k")]])
    writer.close()
    monkeypatch.setenv("RANK", "1")  # the process that unpickles them
    for file_writer in pickle.loads(kept):
        file_writer.add_summary(Summary(value=[Summary.Value(tag="c", simple_value=1.0)]), 0)
        file_writer.close()
    if ranks == "zero":
        assert len(event_files_in(tmp_path / "run")) == len(event_files_in(tmp_path / "run" / "m_k")) == 1
    else:
        assert sorted(os.listdir(tmp_path / "run")) == runs
        assert len(event_files_in(tmp_path / "run" / "rank1")) == len(
            event_files_in(tmp_path / "run" / "rank1" / "m_k")
        )
        assert len(event_files_in(tmp_path / "run" / "rank1")) == 1


def test_an_unused_copy_says_where_it_will_write_and_a_closed_one_stays_closed(tmp_path, monkeypatch):
    writer = SummaryWriter(tmp_path, ranks="each")
    file_writer = FileWriter(tmp_path / "files")
    data = pickle.dumps((writer, file_writer))
    writer.close()
    file_writer.close()
    copy, file_copy = pickle.loads(data)
    monkeypatch.setenv("RANK", "2")  # known only after unpickling (init_process_group, say)
    assert copy.log_dir == copy.get_logdir() == str(tmp_path / "rank2")
    file_copy.close()
    with pytest.raises(WriterClosedError):
        file_copy.add_summary(Summary(), 0)
    file_copy.reopen()
    file_copy.add_summary(Summary(), 0)
    file_copy.close()
    assert len(event_files_in(tmp_path / "files")) == 2
