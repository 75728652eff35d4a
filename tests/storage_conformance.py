"""What every Storage must do for the writer; each storage's tests mix this class in.

A subclass provides two fixtures: ``storage`` (the Storage under test) and ``root`` (a
directory path in it that exists and is empty). Remote storages add themselves in
tests/test_storage.py with their own fixtures and run the same checks.
"""

from __future__ import annotations

import io
import threading

import pytest

from eventwriter import SummaryWriter
from eventwriter.reader import iter_events
from eventwriter.storage import Storage


class StorageConformance:
    def test_is_a_storage(self, storage):
        assert isinstance(storage, Storage)

    def test_makedirs_makes_parents_and_may_be_repeated(self, storage, root):
        path = storage.join(root, "a", "b", "c")
        storage.makedirs(path)
        storage.makedirs(path)
        storage.write_bytes(storage.join(path, "f"), b"x")
        assert storage.read_bytes(storage.join(path, "f")) == b"x"

    def test_a_sink_appends_in_order_and_readers_see_each_write(self, storage, root):
        path = storage.join(root, "events")
        sink = storage.create(path)
        assert sink.path == path
        written = b""
        for chunk in (b"first", b"", b"second" * 1000, bytes(range(256))):
            sink.write(chunk)
            written += chunk
            assert storage.read_bytes(path) == written
        sink.sync()
        sink.close()
        sink.close()
        assert storage.read_bytes(path) == written

    def test_a_closed_sink_refuses_writes(self, storage, root):
        sink = storage.create(storage.join(root, "events"))
        sink.close()
        with pytest.raises((ValueError, OSError)):
            sink.write(b"late")

    def test_create_never_replaces_a_file(self, storage, root):
        path = storage.join(root, "precious")
        storage.write_bytes(path, b"keep me")
        with pytest.raises(FileExistsError):
            storage.create(path)
        first = storage.create(storage.join(root, "new"))
        with pytest.raises(FileExistsError):
            storage.create(storage.join(root, "new"))
        first.close()
        assert storage.read_bytes(path) == b"keep me"

    def test_create_needs_the_directory(self, storage, root):
        with pytest.raises(FileNotFoundError):
            storage.create(storage.join(root, "missing", "events"))

    def test_remove_deletes_a_file_and_ignores_a_missing_one(self, storage, root):
        path = storage.join(root, "empty")
        storage.create(path).close()
        storage.remove(path)
        storage.remove(path)
        assert storage.read_bytes(path) is None
        storage.create(path).close()  # the name is free again

    def test_read_bytes_of_a_missing_file_is_none(self, storage, root):
        assert storage.read_bytes(storage.join(root, "nothing")) is None

    def test_write_bytes_replaces_the_whole_file(self, storage, root):
        path = storage.join(root, "config")
        storage.write_bytes(path, b"a much longer first version")
        storage.write_bytes(path, b"short")
        assert storage.read_bytes(path) == b"short"

    def test_readers_see_the_old_or_the_new_content_never_a_part(self, storage, root):
        path = storage.join(root, "config")
        versions = [bytes([65 + n]) * 200_000 for n in range(2)]
        storage.write_bytes(path, versions[0])
        seen, stop = set(), threading.Event()

        def read():
            while not stop.is_set():
                seen.add(storage.read_bytes(path))

        reader = threading.Thread(target=read)
        reader.start()
        for number in range(40):
            storage.write_bytes(path, versions[number % 2])
        stop.set()
        reader.join()
        assert seen <= set(versions)

    def test_exclusive_makes_read_modify_write_safe_across_threads(self, storage, root):
        path = storage.join(root, "counter")
        storage.write_bytes(path, b"0")

        def increment():
            for _ in range(50):
                with storage.exclusive(path):
                    value = int(storage.read_bytes(path))
                    storage.write_bytes(path, str(value + 1).encode())

        threads = [threading.Thread(target=increment) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert storage.read_bytes(path) == b"200"

    def test_a_whole_summary_writer_writes_through_it(self, storage, root):
        log_dir = storage.join(root, "run")
        with SummaryWriter(log_dir, storage=storage, clock=lambda: 1700000000.0, hostname="h", pid=1) as writer:
            writer.add_scalar("loss", 0.5, 1)
            writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 1)
            writer.add_text("note", "hi", 1)
            writer.add_embedding([[1.0, 2.0], [3.0, 4.0]], metadata=["p", "q"])
        names = {"run": None, "pair_a": None, "pair_b": None}
        for run in names:
            directory = log_dir if run == "run" else storage.join(log_dir, run)
            name = "events.out.tfevents.1700000000.h.1."
            files = [p for p in _listing(storage, directory) if p.startswith(name)]
            assert len(files) == 1, (run, files)
            data = storage.read_bytes(storage.join(directory, files[0]))
            names[run] = [v.tag for e in iter_events(io.BytesIO(data)) for v in e.summary.value]
        assert names == {"run": ["loss", "note/text_summary"], "pair_a": ["pair"], "pair_b": ["pair"]}
        assert storage.read_bytes(storage.join(log_dir, "00000", "default", "metadata.tsv")) == b"p\nq\n"
        assert b'tensor_name: "default:00000"' in storage.read_bytes(storage.join(log_dir, "projector_config.pbtxt"))


def _listing(storage, directory):
    """File names directly in ``directory`` (through the storage's own listing)."""
    if hasattr(storage, "fs"):  # eventwriter.storage.remote: the fsspec file system's listing
        return [path.rsplit("/", 1)[-1] for path in storage.fs.ls(directory, detail=False)]
    if hasattr(storage, "paths"):
        prefix = directory.rstrip("/") + "/"
        return [p[len(prefix) :] for p in storage.paths(directory) if "/" not in p[len(prefix) :]]
    import os

    return os.listdir(directory)
