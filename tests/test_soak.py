"""A bounded soak: a million mixed events from four threads, then every record checked
and every event counted."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from eventwriter import SummaryWriter
from eventwriter.cli import main
from eventwriter.reader import find_event_files, iter_events

THREADS = 4
STEPS = 200_000  # per thread; with the mixed calls below, a little over a million events in all


def log(writer: SummaryWriter, thread: int) -> None:
    """Per step a scalar; every 4th step an add_scalars pair (two events); every 100th a
    histogram, every 1000th a text, every 10,000th an image."""
    rng = np.random.default_rng(thread)
    for step in range(STEPS):
        writer.add_scalar(f"t{thread}/loss", step * 0.5, step)
        if step % 4 == 0:
            writer.add_scalars(f"t{thread}/pair", {"a": 1.0, "b": 2.0}, step)
        if step % 100 == 0:
            writer.add_histogram(f"t{thread}/weights", rng.normal(size=100), step)
        if step % 1000 == 0:
            writer.add_text(f"t{thread}/note", f"step {step}", step)
        if step % 10_000 == 0:
            writer.add_image(f"t{thread}/image", rng.random((3, 8, 8)), step)


def expected_counts() -> Counter:
    per_thread = {
        "loss": STEPS,
        "pair": len(range(0, STEPS, 4)),
        "weights": len(range(0, STEPS, 100)),
        "note/text_summary": len(range(0, STEPS, 1000)),
        "image": len(range(0, STEPS, 10_000)),
    }
    counts: Counter = Counter()
    for thread in range(THREADS):
        for name, count in per_thread.items():
            if name == "pair":
                counts["pair_a", f"t{thread}/pair"] = counts["pair_b", f"t{thread}/pair"] = count
            else:
                counts[".", f"t{thread}/{name}"] = count
    return counts


@pytest.mark.slow
def test_a_million_mixed_events_from_four_threads_are_all_there(tmp_path, capsys):
    logdir = str(tmp_path / "soak")
    writer = SummaryWriter(logdir)
    threads = [threading.Thread(target=log, args=(writer, n)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    assert main(["validate", logdir]) == 0, capsys.readouterr()

    counts: Counter = Counter()
    for run, paths in find_event_files(logdir).items():
        name = run.split("_", 1)[1] if "_" in run else "."  # runs are named relative to logdir; t0_pair_a: pair_a
        for path in paths:
            for event in iter_events(path):
                for value in event.summary.value:
                    counts[name, value.tag] += 1
    expected = expected_counts()
    assert sum(expected.values()) > 1_000_000
    assert counts == expected
