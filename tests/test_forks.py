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
from helpers import run_events

from eventwriter import SummaryWriter
from eventwriter.errors import EventWriterError
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


def test_a_child_using_the_parents_writer_is_refused_and_never_hangs(tmp_path):
    writer = SummaryWriter(str(tmp_path / "parent"))
    writer.add_scalars("m", {"old": 1.0}, 0)
    event_file = writer._runs.main.events
    release, thread = hold(writer._runs._lock, event_file._lock, event_file._queue._close_lock)
    try:

        def child():
            outcomes = []
            for call in (
                lambda: writer.add_scalar("x", 1.0, 0),
                lambda: writer.add_scalars("m", {"new": 1.0}, 0),
                lambda: writer.add_scalars("m", {"new": 1.0, "old": 2.0}, 0),
                lambda: writer.add_hparams({"lr": 0.1}, {"m": 1.0}),
                lambda: writer.add_text("t", "x", 0),
            ):
                try:
                    call()
                    outcomes.append("wrote")
                except EventWriterError as exc:
                    outcomes.append("refused" if "create a new writer in the child" in str(exc) else str(exc))
            writer.close()
            return ",".join(outcomes).encode()

        assert in_child(child) == b"refused,refused,refused,refused,refused"
    finally:
        release.set()
        thread.join()
    writer.add_scalar("x", 2.0, 1)
    writer.close()
    names = os.listdir(tmp_path / "parent")  # the child made no file, no run, no hparams run
    assert sorted(n for n in names if "tfevents" not in n) == ["m_old"]
    assert len([n for n in names if "tfevents" in n]) == 1
    assert [v.tag for e in run_events(str(tmp_path / "parent")) for v in e.summary.value] == ["x"]


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
