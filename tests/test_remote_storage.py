"""Log dirs at fsspec URLs (eventwriter.storage.remote): memory:// and file:// through the
storage conformance suite, byte-identical runs against local files, object stores as
series of objects (each byte uploaded once), a failing store retried, clear errors."""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import sys
import time
import uuid

import pytest
from storage_conformance import StorageConformance

fsspec = pytest.importorskip("fsspec")

from eventwriter import SummaryWriter  # noqa: E402
from eventwriter.errors import EventWriterError  # noqa: E402
from eventwriter.reader import iter_events  # noqa: E402
from eventwriter.storage import storage_for  # noqa: E402
from eventwriter.storage.remote import RemoteStorage  # noqa: E402

IDENTITY = {"hostname": "host", "pid": 7}


def _clock():
    times = iter(1_700_000_000.0 + n / 8 for n in range(10**6))
    return lambda: next(times)


@pytest.fixture
def memory_root():
    root = f"memory://eventwriter-{uuid.uuid4().hex}"
    yield root
    with contextlib.suppress(FileNotFoundError):
        fsspec.filesystem("memory").rm(root.removeprefix("memory://"), recursive=True)


class TestMemoryUrlStorage(StorageConformance):
    @pytest.fixture
    def storage(self, memory_root):
        return storage_for(memory_root)

    @pytest.fixture
    def root(self, storage, memory_root):
        path = f"{memory_root}/root"
        storage.makedirs(path)
        return path


class TestFileUrlStorage(StorageConformance):
    @pytest.fixture
    def storage(self, tmp_path):
        return storage_for(f"file://{tmp_path}")

    @pytest.fixture
    def root(self, tmp_path):
        return f"file://{tmp_path}"


def _log_everything_cheap(writer):
    for step in range(30):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_scalars("pair", {"train": 0.5, "valid": 0.25}, 3)
    writer.add_text("notes", "**hello**", 1)
    writer.add_histogram("weights", [0.1, 0.2, 0.3, 5.0], 2)
    writer.add_hparams({"lr": 0.1}, {"hparam/acc": 0.9})
    writer.add_embedding([[1.0, 2.0], [3.0, 4.0]], metadata=["a", "b"], global_step=0)


def _local_files(root):
    files = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root)] = handle.read()
    return files


def _remote_files(fs, root):
    base = fs._strip_protocol(root)
    return {posixpath.relpath(path, base): fs.cat_file(path) for path in fs.find(base)}


def test_a_run_at_a_memory_url_has_the_files_and_bytes_of_a_local_run(tmp_path, memory_root):
    # hparams child runs and the projector are named from the clock: the same clock for both
    with SummaryWriter(str(tmp_path / "run"), clock=_clock(), **IDENTITY) as writer:
        _log_everything_cheap(writer)
    with SummaryWriter(f"{memory_root}/run", clock=_clock(), **IDENTITY) as writer:
        _log_everything_cheap(writer)
    local = {name: data for name, data in _local_files(str(tmp_path / "run")).items() if not name.endswith(".lock")}
    remote = _remote_files(fsspec.filesystem("memory"), f"{memory_root}/run")

    def numbered(files):  # the counter in event file names is process-wide
        return {re.sub(r"(\.host\.7\.)\d+$", r"\1N", name): data for name, data in files.items()}

    assert len([name for name in local if "tfevents" in name]) == 4  # the run, 2 sub-runs, the hparams child run
    assert numbered(remote) == numbered(local)


def test_a_file_url_writes_where_the_path_says(tmp_path):
    with SummaryWriter(f"file://{tmp_path}/run") as writer:
        writer.add_scalar("x", 1.5, 1)
        assert writer.get_logdir() == f"file://{tmp_path}/run"
    (name,) = os.listdir(tmp_path / "run")
    values = [v.simple_value for e in iter_events(str(tmp_path / "run" / name)) for v in e.summary.value]
    assert values == [1.5]


class CountingMemoryFileSystem:
    """A memory file system (one per test) that counts uploads and can fail them."""

    def __init__(self):
        from fsspec.implementations.memory import MemoryFileSystem

        self.fs = MemoryFileSystem(skip_instance_cache=True)
        self.fs.store, self.fs.pseudo_dirs = {}, [""]  # its own, not the process-wide one
        self.uploaded_bytes = 0
        self.uploads = 0
        self.failures_left = 0
        original = self.fs.pipe_file

        def pipe_file(path, value, **kwargs):
            if self.failures_left:
                self.failures_left -= 1
                raise ConnectionError("connection refused (test)")
            self.uploads += 1
            self.uploaded_bytes += len(value)
            return original(path, value, **kwargs)

        self.fs.pipe_file = pipe_file

    def objects(self, under):
        return sorted(self.fs.find(under))


def test_an_object_store_run_is_a_series_of_objects_each_uploaded_once(tmp_path):
    store = CountingMemoryFileSystem()
    storage = RemoteStorage(store.fs, appends=False)
    with SummaryWriter("memory://bucket/run", storage=storage, clock=_clock(), **IDENTITY) as writer:
        for flush in range(40):
            for n in range(100):
                writer.add_scalar("x", float(n), flush * 100 + n)
            writer.flush()
    objects = store.objects("/bucket/run")
    assert len(objects) == 41  # the first event's object, then one per flush
    assert objects[1:] == [f"{objects[0]}.{n:08d}" for n in range(1, 41)]
    total = sum(len(store.fs.cat_file(path)) for path in objects)
    assert store.uploaded_bytes == total  # every byte once: linear, not quadratic
    # the objects in name order are the events a local writer writes, each a whole file
    with SummaryWriter(str(tmp_path), clock=_clock(), **IDENTITY) as writer:
        for flush in range(40):
            for n in range(100):
                writer.add_scalar("x", float(n), flush * 100 + n)
            writer.flush()
    (local,) = os.listdir(tmp_path)
    remote_events = [e for path in objects for e in iter_events(io.BytesIO(store.fs.cat_file(path)))]
    assert remote_events == list(iter_events(str(tmp_path / local)))


def test_without_flush_an_object_store_gets_one_object_per_batch_window():
    store = CountingMemoryFileSystem()
    storage = RemoteStorage(store.fs, appends=False)
    assert storage.batch_window == 5.0
    with SummaryWriter("memory://bucket/run", storage=storage, max_queue=10) as writer:
        for step in range(1000):  # max_queue does not start an upload per 10 events
            writer.add_scalar("x", 1.0, step)
    assert store.uploads == 2  # the first event; everything else at close


def test_a_store_that_fails_for_a_while_loses_nothing():
    store = CountingMemoryFileSystem()
    storage = RemoteStorage(store.fs, appends=False, retry_for=30)
    with SummaryWriter("memory://bucket/run", storage=storage) as writer:
        writer.add_scalar("x", 1.0, 1)
        store.failures_left = 3
        writer.add_scalar("x", 2.0, 2)
        writer.flush()
        writer.add_scalar("x", 3.0, 3)
    events = [e for path in store.objects("/bucket/run") for e in iter_events(io.BytesIO(store.fs.cat_file(path)))]
    assert [e.step for e in events if e.HasField("summary")] == [1, 2, 3]


def test_a_store_that_never_comes_back_fails_flush_and_close_saying_so():
    store = CountingMemoryFileSystem()
    storage = RemoteStorage(store.fs, appends=False, retry_for=0.5)
    writer = SummaryWriter("memory://bucket/run", storage=storage)
    writer.add_scalar("x", 1.0, 1)
    store.failures_left = 10**6
    with pytest.raises(EventWriterError, match=r"not written.*connection refused"):
        writer.flush()
    writer.close()  # already reported: closes quietly
    # and a writer that is only closed raises there
    store.failures_left = 0
    writer = SummaryWriter("memory://bucket/run2", storage=storage)
    writer.add_scalar("x", 1.0, 1)
    store.failures_left = 10**6
    with pytest.raises(EventWriterError, match=r"not written.*connection refused"):
        writer.close()


def test_a_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(ImportError, match=r"s3fs.*pip install 'eventwriter\[s3\]'"):
        SummaryWriter("s3://bucket/run")
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match=r"fsspec.*pip install 'eventwriter\[remote\]'"):
        SummaryWriter("memory://bucket/run")


def test_urls_are_served_by_remote_storage_and_paths_by_local_storage(tmp_path):
    from eventwriter.storage import LocalStorage

    assert isinstance(storage_for("memory://bucket/run"), RemoteStorage)
    assert isinstance(storage_for(f"file://{tmp_path}"), RemoteStorage)
    assert isinstance(storage_for(str(tmp_path)), LocalStorage)
    assert isinstance(storage_for("runs/a:b"), LocalStorage)  # a colon is no URL


def test_unknown_protocols_and_misplaced_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="nosuchfs"):
        SummaryWriter("nosuchfs://bucket/run")
    with pytest.raises(ValueError, match="storage_options apply to URL log dirs"):
        SummaryWriter(str(tmp_path), storage_options={"anon": True})
    with pytest.raises(ValueError, match="not both"):
        SummaryWriter("memory://x/run", storage=RemoteStorage(fsspec.filesystem("memory")), storage_options={})


def test_the_reader_and_the_cli_take_urls(memory_root, tmp_path, capsys):
    from eventwriter import cli
    from eventwriter.reader import iter_scalars

    objects = RemoteStorage(fsspec.filesystem("memory"), appends=False)  # a store of objects
    with SummaryWriter(f"{memory_root}/objects", storage=objects) as writer:
        for step in range(3):
            writer.add_scalar("x", float(step), step)
            writer.flush()  # one object each
    with SummaryWriter(f"{memory_root}/appended") as writer:
        writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 5)
    points = [(p.run, p.tag, p.step, p.value) for p in iter_scalars(memory_root)]
    assert points == [
        ("appended/pair_a", "pair", 5, 1.0),
        ("appended/pair_b", "pair", 5, 2.0),
        ("objects", "x", 0, 0.0),
        ("objects", "x", 1, 1.0),
        ("objects", "x", 2, 2.0),
    ]
    assert cli.main(["validate", memory_root]) == 0
    assert cli.main(["inspect", f"{memory_root}/objects"]) == 0
    assert "x" in capsys.readouterr().out
    assert cli.main(["export", "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"), memory_root]) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 5
    with pytest.raises(FileNotFoundError):
        list(iter_scalars(f"{memory_root}/nothing"))


def test_an_event_file_url_stands_for_its_whole_series_of_objects(memory_root, capsys):
    from eventwriter import cli
    from eventwriter.logdir import find_event_files
    from eventwriter.reader import iter_scalars

    objects = RemoteStorage(fsspec.filesystem("memory"), appends=False)
    with SummaryWriter(f"{memory_root}/run", storage=objects) as writer:
        for step in range(4):
            writer.add_scalar("x", float(step), step)
            writer.flush()
    (first, *later) = find_event_files(f"{memory_root}/run")["."]
    assert later == [f"{first}.{n:08d}" for n in range(1, 5)]
    assert find_event_files(first) == {".": [first, *later]}
    assert [p.step for p in iter_scalars(first)] == [0, 1, 2, 3]
    # validate: later objects have no first event of their own, and that is no fault...
    assert cli.main(["validate", first]) == 0
    assert "file_version" not in capsys.readouterr().out
    # ...but an object cut short with more of its series after it lost records
    memory = fsspec.filesystem("memory")
    middle = memory._strip_protocol(later[1])
    memory.pipe_file(middle, memory.cat_file(middle)[:-3])
    assert cli.main(["validate", first]) == 1
    assert "later objects of this event file follow: the records cut off are lost" in capsys.readouterr().out


def test_a_run_at_the_root_of_a_url_is_written_and_found(memory_root):
    from eventwriter.logdir import find_event_files
    from eventwriter.reader import iter_scalars

    name = memory_root.removeprefix("memory://")
    with SummaryWriter(f"memory:///{name}") as writer:
        writer.add_scalar("x", 1.0, 1)
    (path,) = find_event_files("memory://")[name]  # run names relative to the root
    assert path.startswith(f"memory://{name}/events.out.tfevents.")
    assert [(p.run, p.value) for p in iter_scalars(path)] == [(".", 1.0)]


def test_errors_that_will_not_pass_are_not_retried_and_retry_for_is_read_when_used(monkeypatch):
    from eventwriter.storage import remote

    store = CountingMemoryFileSystem()
    storage = RemoteStorage(store.fs, appends=False)
    calls = []

    def invalid():
        calls.append(1)
        raise ValueError("Parameter validation failed")

    with pytest.raises(ValueError, match="validation"):
        storage.retrying("upload", invalid)
    assert calls == [1]
    monkeypatch.setattr(remote, "RETRY_FOR", 0.3)
    started = time.monotonic()
    with pytest.raises(OSError, match=r"failed for 0\.3 s"):
        storage.retrying("upload", lambda: (_ for _ in ()).throw(ConnectionError("refused")))
    assert time.monotonic() - started < 3
