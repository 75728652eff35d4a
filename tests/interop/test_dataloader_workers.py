"""DataLoader workers (fork start method) that log with their own writer and never close
it keep everything they logged."""

from __future__ import annotations

import multiprocessing
import os

import pytest

torch = pytest.importorskip("torch")

from helpers import scalars  # noqa: E402

from eventwriter import SummaryWriter  # noqa: E402

REPEATS = 5  # values per item: fewer than max_queue, so the last ones wait for the batch window


class LoggingDataset(torch.utils.data.Dataset):
    """Each worker logs REPEATS scalars per item into ``{log_dir}/worker{id}``, with a writer
    it makes on first use and never closes."""

    def __init__(self, log_dir: str, size: int) -> None:
        self.log_dir, self.size, self.writer = log_dir, size, None

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        if self.writer is None:
            worker = torch.utils.data.get_worker_info().id
            self.writer = SummaryWriter(os.path.join(self.log_dir, f"worker{worker}"))
        for repeat in range(REPEATS):
            self.writer.add_scalar("item", float(index), index * REPEATS + repeat)
        return torch.tensor(index)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_dataloader_workers_that_never_close_their_writer_keep_every_value(tmp_path):
    dataset = LoggingDataset(str(tmp_path), 200)
    loader = torch.utils.data.DataLoader(dataset, batch_size=10, num_workers=2, multiprocessing_context="fork")
    assert sorted(int(item) for batch in loader for item in batch) == list(range(200))
    logged = [scalars(str(tmp_path / f"worker{n}"), "item") for n in range(2)]
    steps = sorted(step for run in logged for step, _ in run)
    assert steps == list(range(200 * REPEATS))
    assert all(value == step // REPEATS for run in logged for step, value in run)
