"""Reading a log dir of scalars into a table: eventwriter.read_scalars against
TensorBoard's EventAccumulator (size guidance 0: every value) and tbparse, in one run.

The log dir (default 1,000,000 scalars: 4 runs x 20 tags, half ``simple_value`` and half
new-style tensor scalars) is written by torch.utils.tensorboard once and kept in
``--cache`` for later runs. Each reader runs ``--rounds`` times, interleaved; the best
wall time and the CPU time of that round are reported, as scalars per second and as the
ratio to eventwriter. All three must return the same rows (run, tag, step, wall time,
value), or the script fails.

    python benchmarks/read.py            # 1M scalars (writing them takes about a minute once)
    python benchmarks/read.py --quick    # 40,000 scalars: proves it runs
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable

RUNS, TAGS = 4, 20


def write_logdir(root: str, total: int) -> None:
    """``total`` scalars by torch's writer: every other tag new-style (a rank-0 tensor)."""
    from torch.utils.tensorboard import SummaryWriter

    per_tag = total // (RUNS * TAGS)
    for run in range(RUNS):
        writer = SummaryWriter(os.path.join(root, f"run{run}"), max_queue=10_000, flush_secs=3600)
        for step in range(per_tag):
            for tag in range(TAGS):
                value = math.sin(step * 0.001 + tag) * (run + 1)
                writer.add_scalar(f"group{tag % 4}/tag{tag}", value, step, new_style=tag % 2 == 1)
        writer.close()


def with_eventwriter(root: str) -> object:
    import eventwriter

    return eventwriter.read_scalars(root)


def eventwriter_rows(frame) -> list[tuple]:
    return list(
        zip(frame["run"].astype(str), frame["tag"].astype(str), frame["step"], frame["wall_time"], frame["value"])
    )


def with_event_accumulator(root: str) -> list[tuple]:
    from tensorboard.backend.event_processing import plugin_event_accumulator as accumulator
    from tensorboard.util import tensor_util

    rows = []
    for run in sorted(os.listdir(root)):
        every = {kind: 0 for kind in accumulator.DEFAULT_SIZE_GUIDANCE}
        loaded = accumulator.EventAccumulator(os.path.join(root, run), size_guidance=every, tensor_size_guidance=every)
        loaded.Reload()
        for tag in loaded.Tags()["tensors"]:
            if loaded.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
                for event in loaded.Tensors(tag):
                    value = float(tensor_util.make_ndarray(event.tensor_proto))
                    rows.append((run, tag, event.step, event.wall_time, value))
    return rows


def with_tbparse(root: str) -> object:
    import tbparse

    reader = tbparse.SummaryReader(root, pivot=False, extra_columns={"dir_name", "wall_time"})
    return reader.scalars, reader.tensors  # simple_value scalars, then new-style ones


def tbparse_rows(frames) -> list[tuple]:
    rows = []
    for frame in frames:
        rows += [
            (run, tag, int(step), float(wall), float(value))
            for run, tag, step, wall, value in zip(
                frame["dir_name"], frame["tag"], frame["step"], frame["wall_time"], frame["value"]
            )
        ]
    return rows


# name -> (read the log dir into the reader's own table, that table as rows; not timed)
READERS: dict[str, tuple[Callable[[str], object], Callable[[object], list[tuple]]]] = {
    "eventwriter.read_scalars": (with_eventwriter, eventwriter_rows),
    "EventAccumulator (size 0)": (with_event_accumulator, list),
    "tbparse": (with_tbparse, tbparse_rows),
}


def canonical(rows: list[tuple]) -> list[tuple]:
    return sorted((str(run), str(tag), int(step), float(wall), float(value)) for run, tag, step, wall, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scalars", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="40,000 scalars, one round")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "eventwriter-read-benchmark"))
    args = parser.parse_args(argv)
    total, rounds = (40_000, 1) if args.quick else (args.scalars, args.rounds)
    root = os.path.join(args.cache, f"{total}")
    if not os.path.isdir(root):
        print(f"writing {total:,} scalars with torch.utils.tensorboard into {root} ...", flush=True)
        write_logdir(root + ".partial", total)
        os.replace(root + ".partial", root)
    import pandas  # noqa: F401  # imported before timing: every reader below uses it
    import tensorboard.backend.event_processing.plugin_event_accumulator  # noqa: F401

    available = {}
    for name, (reader, as_rows) in READERS.items():
        try:
            reader(os.path.join(root, "run0"))  # imports, and the page cache warm for everyone
            available[name] = (reader, as_rows)
        except ImportError as exc:
            print(f"{name}: not installed ({exc})")
    best: dict[str, tuple[float, float]] = {}
    reference = None
    for _ in range(rounds):
        for name, (reader, as_rows) in available.items():
            wall, cpu = time.perf_counter(), time.process_time()
            table = reader(root)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
            rows = canonical(as_rows(table))
            if reference is None:
                reference = rows
            elif rows != reference:
                print(f"{name} read different rows ({len(rows):,} against {len(reference):,})", file=sys.stderr)
                return 1
    count = len(reference or [])
    ours_wall, ours_cpu = best["eventwriter.read_scalars"]
    print(
        f"\n{count:,} scalars, {RUNS} runs, {TAGS} tags; best of {rounds} round(s); identical rows from every reader\n"
    )
    print("| reader | scalars/s (wall) | wall time vs eventwriter | CPU time vs eventwriter |")
    print("|---|---:|---:|---:|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {count / wall:,.0f} | {wall / ours_wall:.1f}x | {cpu / ours_cpu:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
