"""Every storage passes the conformance suite (tests/storage_conformance.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from storage_conformance import StorageConformance

from eventwriter.storage import LocalStorage, MemoryStorage, resolves_inside, storage_for


class TestLocalStorage(StorageConformance):
    @pytest.fixture
    def storage(self):
        return LocalStorage()

    @pytest.fixture
    def root(self, tmp_path):
        return str(tmp_path)

    def test_exclusive_holds_across_processes(self, storage, root):
        path = os.path.join(root, "counter")
        storage.write_bytes(path, b"0")
        script = textwrap.dedent(
            f"""
            from eventwriter.storage import LocalStorage
            storage = LocalStorage()
            for _ in range(50):
                with storage.exclusive({path!r}):
                    value = int(storage.read_bytes({path!r}))
                    storage.write_bytes({path!r}, str(value + 1).encode())
            """
        )
        processes = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
        assert [process.wait(timeout=60) for process in processes] == [0, 0, 0]
        assert storage.read_bytes(path) == b"150"

    def test_a_failed_write_bytes_leaves_no_temporary_file(self, storage, root, monkeypatch):
        def fail(source, target):
            raise OSError("rename failed")

        monkeypatch.setattr(os, "replace", fail)
        with pytest.raises(OSError, match="rename failed"):
            storage.write_bytes(os.path.join(root, "config"), b"data")
        assert os.listdir(root) == []


class TestMemoryStorage(StorageConformance):
    @pytest.fixture
    def storage(self):
        return MemoryStorage()

    @pytest.fixture
    def root(self, storage):
        storage.makedirs("root")
        return "root"

    def test_paths_lists_files_below_a_directory(self, storage, root):
        storage.makedirs("root/a")
        storage.write_bytes("root/a/x", b"1")
        storage.write_bytes("root/y", b"2")
        storage.makedirs("rootless")
        storage.write_bytes("rootless/z", b"3")
        assert storage.paths("root") == ["root/a/x", "root/y"]
        assert storage.paths("root/") == ["root/a/x", "root/y"]
        assert storage.paths() == ["root/a/x", "root/y", "rootless/z"]


def test_local_paths_are_served_by_local_storage():
    assert isinstance(storage_for("runs/x"), LocalStorage)


@pytest.mark.parametrize(
    ("path", "allow_base", "inside"),
    [
        ("logs/run/a", False, True),
        ("logs/run/a/../b", False, True),
        ("logs/run", False, False),
        ("logs/run", True, True),
        ("logs/run/..", True, False),
        ("logs/run/../run2", True, False),
        ("logs/run/a\0b", True, False),
        ("/elsewhere", True, False),
    ],
)
def test_resolves_inside(path, allow_base, inside):
    assert resolves_inside("logs/run", path, allow_base=allow_base) is inside
