"""Write throughput of eventwriter, torch.utils.tensorboard and tensorboardX, side by side.

    python benchmarks/throughput.py            # full run, a few minutes
    python benchmarks/throughput.py --quick    # seconds; proves the script works

Every workload runs through the three writers in one process, interleaved over several
rounds (the order rotates each round); the table shows medians over the rounds:

* caller: time spent inside the ``add_*`` calls, per call (what the training loop pays);
* end to end: the calls plus ``close()``, until everything is on disk, per call;
* cpu: CPU time of the whole process (every thread) over the end-to-end span, per call:
  what a busy training process pays, where no idle core hides background work;
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
import warnings
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


_HISTOGRAM_VALUES = np.random.default_rng(1).normal(size=1_000_000).astype(np.float32)
_IMAGE = np.random.default_rng(2).random((3, 256, 256)).astype(np.float32)
_BATCH = np.random.default_rng(3).random((64, 1, 28, 28)).astype(np.float32)
_PR_LABELS = np.random.default_rng(4).integers(0, 2, 10_000)
_PR_PREDICTIONS = np.random.default_rng(5).random(10_000)


def _histogram(writer, n):
    for step in range(n):
        writer.add_histogram("values", _HISTOGRAM_VALUES, step)


def _image(writer, n):
    for step in range(n):
        writer.add_image("image", _IMAGE, step)


def _image_batch(writer, n):
    for step in range(n):
        writer.add_images("batch", _BATCH, step)


def _pr_curve(writer, n):
    for step in range(n):
        writer.add_pr_curve("pr", _PR_LABELS, _PR_PREDICTIONS, step)


def _graph(writer, n):
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    from tutorial import LeNet5

    model, images = LeNet5(), torch.rand(4, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            writer.add_graph(model, images)


WORKLOADS = [
    Workload("add_scalar, 1 tag", 100_000, _scalars_one_tag),
    Workload("add_scalar, 100 tags", 100_000, _scalars_100_tags),
    Workload("add_scalars, 4 keys", 10_000, _add_scalars_4_keys),
    Workload("add_text", 10_000, _text),
    Workload("add_embedding 20,000 x 64 + labels, per row", 20_000, _embedding),
    Workload("add_histogram, 1M float32", 20, _histogram),
    Workload("add_image, 3x256x256 float", 100, _image),
    Workload("add_images, 64 x 1x28x28", 100, _image_batch),
    Workload("add_pr_curve, 10,000 points", 100, _pr_curve),
    Workload("add_graph, LeNet-5", 10, _graph),
]


_MEMORY_SCRIPT = """
import os, sys, tempfile, threading, time
name, count = sys.argv[1], int(sys.argv[2])
if name == "eventwriter":
    from eventwriter import SummaryWriter
elif name == "torch":
    from torch.utils.tensorboard import SummaryWriter
else:
    from tensorboardX import SummaryWriter
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * page
writer = SummaryWriter(tempfile.mkdtemp())
writer.add_scalar("warm-up", 0.0, 0)
baseline, peak, done = rss(), [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.01)
sampler = threading.Thread(target=sample)
sampler.start()
for step in range(count):
    writer.add_scalar("loss", step * 0.001, step)
writer.flush()
done.set()
sampler.join()
writer.close()
print(max(0, peak[0] - baseline) / 2**20)
"""


def _memory_growth(name: str, count: int) -> float:
    """Peak resident memory growth in MiB (sampled every 10 ms) while one writer logs
    ``count`` scalars, in a fresh process."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, name, str(count)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def _pillow_png_seconds(pixels_chw: np.ndarray, rounds: int) -> float:
    """A bare Pillow PNG encode of the image workload's pixels: the reference for add_image."""
    import io

    from PIL import Image

    hwc = (pixels_chw.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
    times = []
    for _ in range(max(3, rounds)):
        start = time.perf_counter()
        Image.fromarray(hwc).save(io.BytesIO(), format="PNG")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _measure(make_writer, workload: Workload, calls: int, root: str) -> tuple[float, float, float, int]:
    """(caller seconds, end-to-end seconds, process CPU seconds, bytes written)."""
    logdir = tempfile.mkdtemp(dir=root)
    writer = make_writer(logdir)
    gc.collect()
    start, cpu_start = time.perf_counter(), time.process_time()
    workload.run(writer, calls)
    caller = time.perf_counter() - start
    writer.close()
    end_to_end, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    size = _dir_bytes(logdir)
    shutil.rmtree(logdir)
    return caller, end_to_end, cpu, size


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
    results: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    with tempfile.TemporaryDirectory() as root:
        for workload in workloads:
            calls = max(1, workload.calls // 50) if args.quick else workload.calls
            if workload.calls < 1000 and args.quick:
                calls = 1
            for name in names:  # warm-up, not measured: imports, first-call costs, caches
                _measure(writers[name], workload, 1, root)
            for round_number in range(rounds):
                order = names[round_number % len(names) :] + names[: round_number % len(names)]
                for name in order:
                    result = _measure(writers[name], workload, calls, root)
                    results.setdefault((workload.name, name), []).append(
                        tuple(x / calls for x in result[:3]) + result[3:]
                    )

    header = [
        "workload",
        *(f"{n} caller/e2e/cpu" for n in names),
        "bytes (ew/torch/tbx)",
        "torch÷ew caller/e2e/cpu",
        "tbx÷ew caller/e2e/cpu",
    ]
    rows = []
    for workload in workloads:
        medians = {
            name: [statistics.median(r[i] for r in results[(workload.name, name)]) for i in range(3)] for name in names
        }
        ours = medians["eventwriter"]
        row = [workload.name]
        row += [" / ".join(_format_time(t) for t in medians[n]) for n in names]
        row.append(" / ".join(str(int(results[(workload.name, n)][-1][3])) for n in names))
        for other in ("torch", "tensorboardX"):
            row.append(" / ".join(f"{theirs / mine:.1f}x" for theirs, mine in zip(medians[other], ours)))
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"# {rounds} round(s), per-call medians; Python {sys.version.split()[0]}, numpy {np.__version__}")
    for line in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))

    if ("add_image, 3x256x256 float", "eventwriter") in results:
        pillow = _pillow_png_seconds(_IMAGE, rounds)
        ours = statistics.median(r[1] for r in results[("add_image, 3x256x256 float", "eventwriter")])
        print(f"\n# add_image end to end: {_format_time(ours)}; a bare Pillow PNG encode of the same pixels: "
              f"{_format_time(pillow)} (eventwriter / Pillow = {ours / pillow:.2f})")  # fmt: skip
    if not args.only:
        count = 20_000 if args.quick else 1_000_000
        print(f"\n# peak RSS growth while logging {count:,} scalars, fresh process each")
        for name in names:
            print(f"{name:<14} {_memory_growth(name, count):8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
