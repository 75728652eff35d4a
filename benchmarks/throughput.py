"""Write throughput of eventwriter, torch.utils.tensorboard and tensorboardX, side by side.

    python benchmarks/throughput.py            # full run, a few minutes
    python benchmarks/throughput.py --quick    # seconds; proves the script works

Every workload runs through the three writers in one process, interleaved over several
rounds (the order rotates each round); the table shows medians over the rounds:

* caller: time spent inside the ``add_*`` calls, per call (what the training loop pays);
* end to end: the calls plus ``close()``, until everything is on disk, per call;
* bytes: size of the files written;
* ratios: torch's and tensorboardX's time divided by eventwriter's (higher is better).

These are measurements on a shared, noisy machine: compare ratios from one run, not
absolute times across runs. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _writers() -> dict[str, Callable[[str], object]]:
    import tensorboardX
    from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

    import eventwriter

    return {
        "eventwriter": lambda logdir: eventwriter.SummaryWriter(logdir),
        "torch": lambda logdir: TorchSummaryWriter(logdir),
        "tensorboardX": lambda logdir: tensorboardX.SummaryWriter(logdir),
    }


@dataclass
class Workload:
    """``run(writer, n)`` makes ``n`` logging calls; ``n`` is the full-size count."""

    name: str
    calls: int
    run: Callable[[object, int], None]


def _scalars_one_tag(writer, n):
    add = writer.add_scalar
    for step in range(n):
        add("loss", step * 0.001, step)


_TAGS = [f"metric/{i:03d}" for i in range(100)]


def _scalars_100_tags(writer, n):
    add = writer.add_scalar
    tags = _TAGS
    for step in range(n):
        add(tags[step % 100], step * 0.001, step // 100)


def _add_scalars_4_keys(writer, n):
    for step in range(n):
        value = step * 0.001
        writer.add_scalars("loss", {"train": value, "val": value * 2, "test": value * 3, "aux": value * 4}, step)


def _text(writer, n):
    for step in range(n):
        writer.add_text("notes", f"step {step}: **loss** went down", step)


_EMBEDDING = np.random.default_rng(0).normal(size=(20_000, 64)).astype(np.float32)
_LABELS = [f"point {i} of class {i % 10}" for i in range(20_000)]


def _embedding(writer, n):
    rows = max(10, 20_000 * n // 20_000)
    for step in range(max(1, n // 20_000)):
        writer.add_embedding(_EMBEDDING[:rows], metadata=_LABELS[:rows], global_step=step)


WORKLOADS = [
    Workload("add_scalar, 1 tag", 100_000, _scalars_one_tag),
    Workload("add_scalar, 100 tags", 100_000, _scalars_100_tags),
    Workload("add_scalars, 4 keys", 10_000, _add_scalars_4_keys),
    Workload("add_text", 10_000, _text),
    Workload("add_embedding 20,000 x 64 + labels", 20_000, _embedding),
]


def _dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _measure(make_writer, workload: Workload, calls: int, root: str) -> tuple[float, float, int]:
    logdir = tempfile.mkdtemp(dir=root)
    writer = make_writer(logdir)
    gc.collect()
    start = time.perf_counter()
    workload.run(writer, calls)
    caller = time.perf_counter() - start
    writer.close()
    end_to_end = time.perf_counter() - start
    size = _dir_bytes(logdir)
    shutil.rmtree(logdir)
    return caller, end_to_end, size


def _format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="run workloads whose name contains this text")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    writers = _writers()
    names = list(writers)
    workloads = [w for w in WORKLOADS if not args.only or args.only in w.name]
    results: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as root:
        for workload in workloads:
            calls = max(1, workload.calls // 50) if args.quick else workload.calls
            for round_number in range(rounds):
                order = names[round_number % len(names) :] + names[: round_number % len(names)]
                for name in order:
                    result = _measure(writers[name], workload, calls, root)
                    results.setdefault((workload.name, name), []).append(
                        tuple(x / calls for x in result[:2]) + result[2:]
                    )

    header = [
        "workload",
        *(f"{n} caller/e2e" for n in names),
        "bytes (ew/torch/tbx)",
        "torch÷ew caller/e2e",
        "tbx÷ew caller/e2e",
    ]
    rows = []
    for workload in workloads:
        medians = {
            name: (
                statistics.median(r[0] for r in results[(workload.name, name)]),
                statistics.median(r[1] for r in results[(workload.name, name)]),
                results[(workload.name, name)][-1][2],
            )
            for name in names
        }
        ours = medians["eventwriter"]
        row = [workload.name]
        row += [f"{_format_time(medians[n][0])} / {_format_time(medians[n][1])}" for n in names]
        row.append(" / ".join(str(medians[n][2]) for n in names))
        for other in ("torch", "tensorboardX"):
            row.append(f"{medians[other][0] / ours[0]:.1f}x / {medians[other][1] / ours[1]:.1f}x")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"# {rounds} round(s), per-call medians; Python {sys.version.split()[0]}, numpy {np.__version__}")
    for line in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
