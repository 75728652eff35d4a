"""One SummaryWriter shared by many threads: every value there once, one file per run,
nothing left open after close()."""

from __future__ import annotations

import os
import threading
import time

import pytest
from helpers import scalars

from eventwriter import SummaryWriter


def event_files(directory: str) -> list[str]:
    return sorted(name for name in os.listdir(directory) if "tfevents" in name)


def writer_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("eventwriter:")]


def open_fds() -> int | None:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def run_together(count: int, target) -> None:
    """``target(n)`` in ``count`` threads started at once; their first error is raised."""
    start, errors = threading.Barrier(count), []

    def body(n: int) -> None:
        start.wait()
        try:
            target(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_flush_while_another_thread_adds_new_scalars_keys(logdir):
    writer = SummaryWriter(logdir)
    done = threading.Event()

    def add_keys() -> None:
        for key in range(300):
            writer.add_scalars("pair", {f"k{key}": float(key)}, key)
        done.set()

    adder = threading.Thread(target=add_keys)
    adder.start()
    try:
        while not done.is_set():
            writer.flush()  # "dictionary changed size during iteration" before
    finally:
        adder.join()
    writer.close()
    assert all(scalars(os.path.join(logdir, f"pair_k{key}"), "pair") == [(key, float(key))] for key in range(300))


def test_threads_adding_the_same_new_keys_make_one_sub_run_each_and_close_leaves_nothing_open(logdir):
    threads_before, fds_before = len(writer_threads()), open_fds()
    writer = SummaryWriter(logdir)

    def log(thread: int) -> None:
        for key in range(50):
            writer.add_scalars("m", {f"k{key}": float(thread)}, thread)

    run_together(8, log)
    writer.close()
    for key in range(50):
        run = os.path.join(logdir, f"m_k{key}")
        assert len(event_files(run)) == 1, f"{run}: {event_files(run)}"
        assert sorted(scalars(run, "m")) == [(thread, float(thread)) for thread in range(8)]
    assert sorted(os.listdir(logdir)) == sorted([f"m_k{key}" for key in range(50)] + event_files(logdir))
    assert len(writer_threads()) == threads_before
    if fds_before is not None:
        assert open_fds() == fds_before


def test_threads_using_a_closed_writer_at_once_reopen_it_once(logdir):
    writer = SummaryWriter(logdir)
    writer.add_scalars("m", {"a": 0.0}, 0)
    writer.close()
    threads_before = len(writer_threads())

    def log(thread: int) -> None:
        writer.add_scalar("main", float(thread), thread)
        writer.add_scalars("m", {"a": float(thread)}, thread)

    run_together(8, log)
    assert len(writer_threads()) == threads_before + 2  # the main run and m_a, once each
    writer.close()
    assert len(event_files(logdir)) == 2
    assert len(event_files(os.path.join(logdir, "m_a"))) == 2
    assert sorted(scalars(logdir, "main")) == [(n, float(n)) for n in range(8)]
    assert sorted(scalars(os.path.join(logdir, "m_a"), "m")) == sorted([(0, 0.0)] + [(n, float(n)) for n in range(8)])
    assert len(writer_threads()) == threads_before


@pytest.mark.slow
def test_eight_threads_times_5000_scalars_are_all_there_exactly_once(logdir):
    writer = SummaryWriter(logdir)

    def log(thread: int) -> None:
        for step in range(5000):
            writer.add_scalar(f"thread{thread}", float(thread), step)
            writer.add_scalar("shared", float(thread * 10_000 + step), step)

    run_together(8, log)
    writer.close()
    for thread in range(8):
        assert scalars(logdir, f"thread{thread}") == [(step, float(thread)) for step in range(5000)]
    shared = sorted(int(value) for _, value in scalars(logdir, "shared"))
    assert shared == sorted(t * 10_000 + s for t in range(8) for s in range(5000))


@pytest.mark.slow
def test_adds_and_flushes_racing_close_neither_fail_nor_lose_values(logdir):
    writer = SummaryWriter(logdir)
    stop, errors = threading.Event(), []
    added = {"scalar": 0, "scalars": 0}

    def work(kind: str) -> None:
        step = 0
        while not stop.is_set():
            try:
                if kind == "scalar":
                    writer.add_scalar("x", 1.0, step)
                elif kind == "scalars":
                    writer.add_scalars("pair", {"a": 1.0, f"k{step % 20}": 2.0}, step)
                else:
                    writer.flush()
            except Exception as exc:  # WriterClosedError before
                errors.append(exc)
            step += 1
        added[kind] = step

    threads = [threading.Thread(target=work, args=(kind,)) for kind in ("scalar", "scalars", "flush", "flush")]
    for thread in threads:
        thread.start()
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        writer.close()
        time.sleep(0.005)
    stop.set()
    for thread in threads:
        thread.join()
    writer.close()
    assert not errors, errors[:3]
    assert sorted(step for step, _ in scalars(logdir, "x")) == list(range(added["scalar"]))
    steps = sorted(step for step, _ in scalars(os.path.join(logdir, "pair_a"), "pair"))
    assert steps == list(range(added["scalars"]))


def test_a_close_interrupted_by_ctrl_c_is_finished_by_the_next_close(logdir, monkeypatch):
    from eventwriter.file_writer import FileWriter

    threads_before = len(writer_threads())
    writer = SummaryWriter(logdir)
    writer.add_scalars("m", {"a": 1.0, "b": 2.0, "c": 3.0}, 0)
    close = FileWriter.close
    interrupted = []

    def interrupt_once(self) -> None:
        if not interrupted:
            interrupted.append(self)
            raise KeyboardInterrupt
        close(self)

    monkeypatch.setattr(FileWriter, "close", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    writer.close()
    assert len(writer_threads()) == threads_before
    assert all(scalars(os.path.join(logdir, f"m_{key}"), "m") for key in "abc")
