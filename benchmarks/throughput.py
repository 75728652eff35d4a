"""Write throughput of eventwriter, torch.utils.tensorboard and tensorboardX, side by side.

    python benchmarks/throughput.py            # full run, about fifteen minutes
    python benchmarks/throughput.py --busy     # the same with every core kept busy
    python benchmarks/throughput.py --quick    # seconds; proves the script works

Every workload (benchmarks/workloads.py) runs through the three writers in one process,
interleaved over several rounds (the order rotates each round); the table shows medians
over the rounds:

* caller: time spent inside the ``add_*`` calls, per call (what the training loop waits);
* end to end: the calls plus ``close()``, until everything is on disk, per call;
* cpu: CPU time of the whole process (every thread) over the end-to-end span, per call:
  what a busy training process pays, where no idle core hides background work;
* bytes: size of the files written;
* ratios: torch's and tensorboardX's time divided by eventwriter's (higher is better).

``--busy`` starts one spinning process per core for the whole run (and stops them), as
a training process's data loader workers keep a machine busy: wall times then include
waiting for a core. Then come the caller's latency per ``add_scalar`` call (median and
99th percentile while the writer thread writes), eventwriter's PNGs against a bare Pillow
encode of the same pixels (CPU time and size), and memory growth.

These are measurements on a shared, noisy machine: compare ratios from one run, not
absolute times across runs. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from workloads import IMAGES, WORKLOADS, Workload


def _writers() -> dict[str, Callable[[str], object]]:
    import tensorboardX
    from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

    import eventwriter

    return {
        "eventwriter": lambda logdir: eventwriter.SummaryWriter(logdir),
        "torch": lambda logdir: TorchSummaryWriter(logdir),
        "tensorboardX": lambda logdir: tensorboardX.SummaryWriter(logdir),
    }


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
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, name, str(count)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def _pillow_png(hwc: np.ndarray, rounds: int) -> tuple[float, int]:
    """(CPU seconds, bytes) of a bare Pillow PNG encode of ``hwc``: the reference for add_image."""
    import io

    from PIL import Image

    times, size = [], 0
    for _ in range(max(3, rounds)):
        output = io.BytesIO()
        start = time.process_time()
        Image.fromarray(hwc).save(output, format="PNG")
        times.append(time.process_time() - start)
        size = len(output.getvalue())
    return statistics.median(times), size


def _latencies(make_writer, calls: int, root: str) -> tuple[float, float]:
    """(median, 99th percentile) seconds of single add_scalar calls, 100 tags, while the
    writer's own thread (if it has one) writes what came before."""
    logdir = tempfile.mkdtemp(dir=root)
    writer = make_writer(logdir)
    tags = [f"metric/{i:03d}" for i in range(100)]
    add, clock = writer.add_scalar, time.perf_counter_ns
    times = np.empty(calls, dtype=np.int64)
    gc.collect()
    for step in range(calls):
        start = clock()
        add(tags[step % 100], step * 0.001, step // 100)
        times[step] = clock() - start
    writer.close()
    shutil.rmtree(logdir)
    return float(np.percentile(times, 50)) / 1e9, float(np.percentile(times, 99)) / 1e9


class _BusyCores:
    """One spinning process per core while in use: a machine with no idle core."""

    def __enter__(self) -> _BusyCores:
        count = os.cpu_count() or 1
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


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
    parser.add_argument("--only", help="run workloads whose name contains this text (several: comma-separated)")
    parser.add_argument("--busy", action="store_true", help="keep every core busy with a spinning process")
    args = parser.parse_args(argv)
    if args.busy:
        with _BusyCores():
            return _run(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from eventwriter import png

    rounds = 1 if args.quick else args.rounds
    writers = _writers()
    names = list(writers)
    wanted = args.only.split(",") if args.only else []
    workloads = [w for w in WORKLOADS if not wanted or any(text in w.name for text in wanted)]
    results: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    latencies: dict[str, list[tuple[float, float]]] = {}
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
        if any(w.name.startswith("add_scalar,") for w in workloads):
            count = 2000 if args.quick else 100_000
            for _ in range(rounds):
                for name in names:
                    latencies.setdefault(name, []).append(_latencies(writers[name], count, root))

    header = [
        "workload",
        *(f"{n} caller/e2e/cpu" for n in names),
        "bytes (ew/torch/tbx)",
        "torch÷ew caller/e2e/cpu",
        "tbx÷ew caller/e2e/cpu",
    ]
    rows = []
    medians = {}
    for workload in workloads:
        medians[workload.name] = {
            name: [statistics.median(r[i] for r in results[(workload.name, name)]) for i in range(3)] for name in names
        }
        ours = medians[workload.name]["eventwriter"]
        row = [workload.name]
        row += [" / ".join(_format_time(t) for t in medians[workload.name][n]) for n in names]
        row.append(" / ".join(str(int(results[(workload.name, n)][-1][3])) for n in names))
        for other in ("torch", "tensorboardX"):
            theirs = medians[workload.name][other]
            row.append(" / ".join(f"{t / mine:.1f}x" for t, mine in zip(theirs, ours)))
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"# {rounds} round(s), per-call medians; Python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"PNG deflate: {png.DEFLATE}; {'every core kept busy' if args.busy else 'machine otherwise idle'}"
    )
    for line in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))

    if latencies:
        print("\n# add_scalar caller latency per call, 100 tags: median / 99th percentile (medians over rounds)")
        for name in names:
            p50, p99 = (statistics.median(r[i] for r in latencies[name]) for i in (0, 1))
            print(f"{name:<14} {_format_time(p50)} / {_format_time(p99)}")

    images = [w for w in workloads if w.name in IMAGES]
    if images:
        print("\n# eventwriter's add_image against a bare Pillow PNG encode of the same pixels (CPU time, bytes)")
        for workload in images:
            pixels = IMAGES[workload.name]()
            pillow_cpu, pillow_bytes = _pillow_png(pixels, rounds)
            ours_cpu = medians[workload.name]["eventwriter"][2]
            ours_bytes = len(png.encode_png(pixels))
            print(
                f"{workload.name}: cpu {_format_time(ours_cpu)} vs Pillow {_format_time(pillow_cpu)} "
                f"({ours_cpu / pillow_cpu:.2f} of it); PNG {ours_bytes} vs {pillow_bytes} bytes "
                f"({ours_bytes / pillow_bytes:.2f}x)"
            )
    if not args.only:
        count = 20_000 if args.quick else 1_000_000
        print(f"\n# peak RSS growth while logging {count:,} scalars, fresh process each")
        for name in names:
            print(f"{name:<14} {_memory_growth(name, count):8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
