"""A forked child never waits on a lock a parent thread held at the fork (eventwriter.forks).

Each test holds locks in a parent thread, forks, and gives the child a few seconds to do
what it should; a child that hangs is killed and the test fails.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from eventwriter import SummaryWriter
from eventwriter.reader import iter_events
from eventwriter.storage import MemoryStorage, local

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def hold(*locks):
    """Hold ``locks`` in a thread until the returned event is set."""
    holding, release = threading.Event(), threading.Event()

    def run():
        for lock in locks:
            lock.acquire()
        holding.set()
        release.wait()
        for lock in reversed(locks):
            lock.release()

    thread = threading.Thread(target=run)
    thread.start()
    holding.wait()
    return release, thread


def in_child(action, timeout=20.0) -> bytes:
    """Run ``action()`` in a forked child; return what it wrote to the pipe (b"hung" if it
    did not finish in time)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, action())
        except BaseException as exc:
            os.write(write, f"{type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return os.read(read, 4096)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return b"hung"


def test_a_child_using_the_parents_writer_writes_its_own_file_and_never_hangs(tmp_path):
    writer = SummaryWriter(str(tmp_path / "parent"))
    writer.add_scalars("m", {"old": 1.0}, 0)
    writer.add_scalar("pending", 1.0, 0)  # in the parent's queue at the fork: the parent's to write
    event_file = writer._runs.main.events
    release, thread = hold(writer._runs._lock, event_file._lock, event_file._queue._close_lock)
    try:

        def child():
            writer.add_scalar("x", 1.0, 0)
            writer.add_scalars("m", {"new": 1.0, "old": 2.0}, 0)
            writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="h")
            writer.add_text("t", "x", 0)
            writer.close()
            return b"done"

        assert in_child(child) == b"done"
    finally:
        release.set()
        thread.join()
    writer.add_scalar("x", 2.0, 1)
    writer.close()
    parent = tmp_path / "parent"
    names = os.listdir(parent)
    assert sorted(n for n in names if "tfevents" not in n) == ["h", "m_new", "m_old"]
    files = sorted(str(parent / n) for n in names if "tfevents" in n)
    assert len(files) == 2  # the parent's and the child's
    values = {}
    for path in files:
        for event in iter_events(path):
            for value in event.summary.value:
                values.setdefault(path, []).append((value.tag, event.step))
    assert sorted(values.values()) == [
        [("pending", 0), ("x", 1)],  # the parent's file: nothing of the child's
        [("x", 0), ("t/text_summary", 0)],  # the child's: nothing of the parent's
    ]
    assert len(os.listdir(parent / "m_old")) == 2  # one file each
    assert len(os.listdir(parent / "m_new")) == 1


def test_a_child_making_its_own_writer_is_not_blocked_by_the_parents_locks(tmp_path):
    storage = MemoryStorage()
    parent = SummaryWriter("parent", storage=storage)
    release, thread = hold(local._THREAD_LOCK, storage._lock, parent._runs._lock)
    try:

        def child():
            with SummaryWriter(str(tmp_path / "child")) as own:
                own.add_embedding(np.eye(3), metadata=["a", "b", "c"])
                own.add_scalars("m", {"k": 1.0}, 0)
            memory = SummaryWriter("child", storage=storage)
            memory.add_scalar("x", 1.0, 0)
            memory.close()
            return b"done"

        assert in_child(child) == b"done"
    finally:
        release.set()
        thread.join()
    parent.close()
    assert (tmp_path / "child" / "projector_config.pbtxt").exists()
    assert (tmp_path / "child" / "m_k").is_dir()
