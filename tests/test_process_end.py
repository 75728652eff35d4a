"""Nothing added is lost however the process ends: without close(), in multiprocessing's
fork children, from atexit handlers, and (up to the lag bound) when killed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pytest
from helpers import run_events, scalars

from eventwriter import SummaryWriter
from eventwriter.reader import iter_scalars, scan_file

fork_only = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")


def log_without_closing(log_dir: str) -> None:
    """A worker's whole job: its own writer, 1,000 scalars and a histogram, no close()."""
    writer = SummaryWriter(log_dir)
    for step in range(1000):
        writer.add_scalar("loss", float(step), step)
    writer.add_histogram("weights", np.arange(100_000.0), 1000)


@fork_only
def test_a_fork_child_of_multiprocessing_that_never_closes_keeps_everything(tmp_path):
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=log_without_closing, args=(str(tmp_path / f"child{n}"),)) for n in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    for n in range(4):
        run = str(tmp_path / f"child{n}")
        assert scalars(run, "loss") == [(step, float(step)) for step in range(1000)]
        assert [v.tag for e in run_events(run) for v in e.summary.value][-1] == "weights"


@fork_only
def test_pool_workers_that_never_close_keep_everything(tmp_path):
    runs = [str(tmp_path / f"task{n}") for n in range(6)]
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(log_without_closing, runs)
        pool.close()  # leaving the block terminates the workers with SIGTERM: they must end first
        pool.join()
    for run in runs:
        assert len(scalars(run, "loss")) == 1000


MODULE_LEVEL_WRITER = """
import multiprocessing, os, sys
from eventwriter import SummaryWriter

# Made again in each child as it imports this script as __mp_main__, before the child
# clears the multiprocessing finalizers it inherited.
writer = SummaryWriter(os.path.join(sys.argv[2], f"p{os.getpid()}")) if __name__ == "__mp_main__" else None

def body():
    for step in range(3):  # fewer than max_queue: they wait for the batch window
        writer.add_scalar("x", float(step), step)

if __name__ == "__main__":
    children = [multiprocessing.get_context(sys.argv[1]).Process(target=body) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join()
"""


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_module_level_writer_of_a_forkserver_or_spawn_child_keeps_everything(tmp_path, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    script = tmp_path / "script.py"
    script.write_text(MODULE_LEVEL_WRITER)
    result = subprocess.run([sys.executable, str(script), method, str(tmp_path / "runs")], timeout=120)
    assert result.returncode == 0
    runs = sorted(os.listdir(tmp_path / "runs"))
    assert len(runs) == 3
    for run in runs:
        assert scalars(str(tmp_path / "runs" / run), "x") == [(0, 0.0), (1, 1.0), (2, 2.0)]


def test_values_logged_by_an_atexit_handler_after_the_exit_hook_are_written(tmp_path):
    script = textwrap.dedent(
        f"""
        import atexit, threading
        holder = {{}}

        def late():  # registered before eventwriter, so it runs after eventwriter's exit hook
            writer = holder["writer"]
            writer.add_scalar("late", 1.0, 99)
            writer.add_scalars("pair", {{"new": 2.0}}, 99)
            writer.add_histogram("late_histogram", [1.0, 2.0, 3.0], 99)
            writer.add_text("late_text", "after the hook", 99)
            SummaryWriter({str(tmp_path / "made_at_exit")!r}).add_scalar("x", 3.0, 1)  # a writer made then

        atexit.register(late)
        from eventwriter import SummaryWriter
        holder["writer"] = SummaryWriter({str(tmp_path / "run")!r})
        holder["writer"].add_scalar("early", 0.0, 0)
        """
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr, result.stderr
    run = str(tmp_path / "run")
    assert [(step, v.tag) for step, v in _values(run)] == [
        (0, "early"),
        (99, "late"),
        (99, "late_histogram"),
        (99, "late_text/text_summary"),
    ]
    assert scalars(os.path.join(run, "pair_new"), "pair") == [(99, 2.0)]
    assert scalars(str(tmp_path / "made_at_exit"), "x") == [(1, 3.0)]
    for directory, _, names in os.walk(tmp_path):
        for name in names:
            assert scan_file(os.path.join(directory, name)).sound


def _values(run):
    return [(e.step, v) for e in run_events(run) if e.HasField("summary") for v in e.summary.value]


KILLED_WHILE_LOGGING = """
import os, sys, threading, time
import numpy as np
from eventwriter import SummaryWriter

writer = SummaryWriter(sys.argv[1])
progress = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)

def log(thread):
    for step in range(10**9):
        writer.add_scalar(f"thread{thread}", float(step), step)
        if step % 2000 == 0:  # 'thread step time': everything up to step was added by then
            os.write(progress, f"{thread} {step} {time.monotonic()}\\n".encode())

def spin():  # a CPU-bound thread holding the GIL, as a busy training process has
    while True:
        sum(range(1000))

for target, count in ((log, int(sys.argv[3])), (spin, int(sys.argv[4]))):
    for n in range(count):
        threading.Thread(target=target, args=(n,) if target is log else (), daemon=True).start()
while True:
    if sys.argv[5] == "histograms":  # a costly item for the writer thread every half second
        writer.add_histogram("weights", np.random.default_rng(0).normal(size=1_000_000), 0)
    time.sleep(0.5)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("loggers", "spinners", "extra", "bound"),
    [(8, 0, "none", 2.0), (1, 2, "histograms", 3.0)],
    ids=["8 logging threads", "beside CPU-bound threads and 1M-value histograms"],
)
def test_a_killed_process_lost_only_the_last_moments(tmp_path, loggers, spinners, extra, bound):
    """What was added ``bound`` seconds before a SIGKILL is on disk: MAX_LAG (1 s) and a
    margin; behind a costly item built while other threads hold the GIL, its build time
    too (README, "How writing works")."""
    run, progress = str(tmp_path / "run"), str(tmp_path / "progress")
    arguments = [run, progress, str(loggers), str(spinners), extra]
    child = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_LOGGING, *arguments])
    time.sleep(6)
    killed_at = time.monotonic()
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    reached: dict[str, int] = {}
    with open(progress) as handle:
        for line in handle:
            thread, step, at = line.split()
            if float(at) < killed_at - bound:
                reached[f"thread{thread}"] = int(step)
    assert len(reached) == loggers
    on_disk = Counter(point.tag for point in iter_scalars(run, errors=[]))  # a torn last record is fine
    for tag, step in reached.items():
        assert on_disk[tag] > step, f"{tag}: step {step} was added {bound} s before the kill, {on_disk[tag]} on disk"
