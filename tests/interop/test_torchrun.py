"""torchrun: two processes on the gloo backend train a tiny DDP model and log, once per
``ranks`` mode, into the default log dir; TensorBoard's reader shows what each mode promises.

Rank 1 makes its writer over a second after rank 0, so without the ranks agreeing on
the default log dir's name (eventwriter.ranks.shared_name) they would log under two.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorboard")

from tbread import accumulate, event_paths

STEPS = 5

SCRIPT = """
import sys, time
import torch
import torch.distributed as dist
from eventwriter import SummaryWriter

ranks, when = sys.argv[1], sys.argv[2]
rank = int(__import__("os").environ["RANK"])

def make_writer():
    if rank == 1:
        time.sleep(1.2)  # another second in the default name than rank 0's
    return SummaryWriter(ranks=ranks, comment="_tiny")

writer = make_writer() if when == "before_init" else None
dist.init_process_group("gloo")
writer = writer or make_writer()
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
generator = torch.Generator().manual_seed(rank)
for step in range(STEPS):
    x = torch.randn(8, 4, generator=generator)
    loss = torch.nn.functional.mse_loss(model(x), x.sum(dim=1, keepdim=True))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    writer.add_scalar("loss", loss.item(), step)
    writer.add_scalar("rank", float(dist.get_rank()), step)
    writer.add_scalar("weight", model.module.weight[0, 0].item(), step)  # the same on every rank
open(f"log_dir_of_rank{rank}", "w").write(str(writer.log_dir))
writer.close()
dist.destroy_process_group()
""".replace("STEPS", str(STEPS))


def torchrun(tmp_path, ranks: str, when: str) -> str:
    """Run the job in a fresh directory; return it."""
    where = tmp_path / f"{ranks}_{when}"
    where.mkdir()
    (where / "job.py").write_text(SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [*command, "job.py", ranks, when], cwd=where, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [(where / f"log_dir_of_rank{rank}").read_text() for rank in (0, 1)]
    if ranks != "each":  # every rank's writer.log_dir is the same, the ranks that write nothing too
        assert printed[0] == printed[1]
    else:
        assert sorted(os.path.basename(path) for path in printed) == ["rank0", "rank1"]
        assert os.path.dirname(printed[0]) == os.path.dirname(printed[1])
    return str(where)


def the_log_dir(where: str) -> str:
    """The one directory the job's writers chose below runs/."""
    names = os.listdir(os.path.join(where, "runs"))
    assert len(names) == 1, names  # every rank took the same default name
    assert names[0].endswith("_tiny")
    return os.path.join(where, "runs", names[0])


def scalar_values(run_dir: str, tag: str) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in accumulate(run_dir).Scalars(tag)]


@pytest.mark.parametrize("when", ["after_init", "before_init"])
def test_ranks_all_every_rank_writes_its_own_file_in_the_log_dir(tmp_path, when):
    log_dir = the_log_dir(torchrun(tmp_path, "all", when))
    assert sorted(os.listdir(log_dir)) == sorted(os.path.basename(p) for p in event_paths(log_dir))
    assert len(event_paths(log_dir)) == 2
    ranks = sorted(value for _, value in scalar_values(log_dir, "rank"))
    assert ranks == [0.0] * STEPS + [1.0] * STEPS


def test_ranks_zero_only_rank_zero_writes(tmp_path):
    log_dir = the_log_dir(torchrun(tmp_path, "zero", "before_init"))
    assert len(os.listdir(log_dir)) == len(event_paths(log_dir)) == 1
    assert scalar_values(log_dir, "rank") == [(step, 0.0) for step in range(STEPS)]
    assert [step for step, _ in scalar_values(log_dir, "loss")] == list(range(STEPS))


@pytest.mark.parametrize("when", ["after_init", "before_init"])
def test_ranks_each_writes_one_run_per_rank(tmp_path, when):
    log_dir = the_log_dir(torchrun(tmp_path, "each", when))
    assert sorted(os.listdir(log_dir)) == ["rank0", "rank1"]
    weights = []
    for rank in (0, 1):
        run = os.path.join(log_dir, f"rank{rank}")
        assert len(event_paths(run)) == 1
        assert scalar_values(run, "rank") == [(step, float(rank)) for step in range(STEPS)]
        weights.append(scalar_values(run, "weight"))
    assert weights[0] == weights[1]  # DDP keeps the ranks' models equal: both logged the same


def test_an_initialized_process_group_gives_the_rank_and_the_store(tmp_path, monkeypatch):
    import torch.distributed as dist

    from eventwriter import SummaryWriter
    from eventwriter.ranks import global_rank

    monkeypatch.setenv("RANK", "5")  # the process group's rank wins over the environment
    monkeypatch.chdir(tmp_path)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        assert global_rank() == 0
        store = dist.distributed_c10d._get_default_store()
        with SummaryWriter(ranks="each", comment="_first") as first:
            first.add_scalar("x", 1.0, 0)
        agreed = [
            key for key in ("eventwriter/default_log_dir/0/0", "eventwriter/default_log_dir/0/1") if store.check([key])
        ]
        assert agreed, "the default name went through the job's store"
        assert store.get(agreed[-1]).decode() == os.path.dirname(first.log_dir)
    finally:
        dist.destroy_process_group()
    assert global_rank() == 5
    assert os.listdir(tmp_path / "runs") == [os.path.basename(os.path.dirname(first.log_dir))]
    assert os.listdir(os.path.dirname(tmp_path / first.log_dir)) == ["rank0"]
