"""Ranks: which processes of a distributed job write, and where (``SummaryWriter(ranks=)``).

* ``"all"`` (torch's behaviour): every process that makes a writer writes its own event
  file in the log dir;
* ``"zero"``: only global rank 0 writes; on the other ranks every call is checked as
  usual and nothing is written (eventwriter.storage.discard: no file, no directory);
* ``"each"``: rank r writes under ``{log_dir}/rank{r}``, so TensorBoard shows one run
  per rank.

The rank is read when a writer makes its first file: at construction, or on first use
for a copy made by pickling or inherited by a forked child. It is torch.distributed's
when the process has imported and initialized it, else the ``RANK`` environment variable
(set by torchrun), else the rank of the launchers that set only their own (Slurm's
``SLURM_PROCID``, Open MPI's ``OMPI_COMM_WORLD_RANK``, ``PMI_RANK``), else 0. torch is
never imported here.

The default log dir (``runs/<date>_<host>``) names the second and host where a writer
was made, which differ between the ranks of one job. When the job has a torch.distributed
key-value store (a process group is initialized, or torchrun's agent store is offered),
the n-th writer with a default log dir of every process takes the name the first of them
proposed, so all ranks log under one name (a new one after torchrun restarts the job).
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from eventwriter.convert import describe
from eventwriter.storage.discard import DiscardStorage

if TYPE_CHECKING:
    from eventwriter.run import RunOptions

__all__ = ["MODES", "check_ranks", "global_rank", "place", "shared_name"]

logger = logging.getLogger(__name__)

MODES = ("all", "zero", "each")
_LAUNCHER_RANKS = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")
STORE_TIMEOUT = 30.0  # seconds to reach torchrun's agent store


def check_ranks(ranks: object) -> str:
    """``ranks`` itself if it is one of MODES.

    Raises:
        TypeError, ValueError: it is not.
    """
    if not isinstance(ranks, str):
        raise TypeError(f"ranks must be one of {', '.join(map(repr, MODES))}, got {describe(ranks)}")
    if ranks not in MODES:
        raise ValueError(f"ranks must be one of {', '.join(map(repr, MODES))}, got {ranks!r}")
    return ranks


def global_rank() -> int:
    """This process's global rank (see the module's docstring); 0 outside a distributed job.

    Raises:
        ValueError: a rank environment variable holds something other than a whole number.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    for name in _LAUNCHER_RANKS:
        value = os.environ.get(name)
        if value is not None and value.strip():
            try:
                rank = int(value)
            except ValueError:
                raise ValueError(f"the {name} environment variable must be a whole number, got {value!r}") from None
            if rank < 0:
                raise ValueError(f"the {name} environment variable must be a rank of at least 0, got {value!r}")
            return rank
    return 0


def place(log_dir: str, ranks: str, options: RunOptions, below: str = "") -> tuple[str, RunOptions]:
    """The directory and options of this process's run ``below`` (a sub-run's path
    relative to the log dir, "" for the writer's own run) of a writer of ``log_dir``.

    Raises:
        ValueError: the rank cannot be read (see ``global_rank``).
    """
    directory = log_dir
    if ranks != "all":
        rank = global_rank()
        if ranks == "each":
            directory = options.storage.join(log_dir, f"rank{rank}")
        elif rank != 0:
            options = replace(options, storage=DiscardStorage(options.storage))
    return (options.storage.join(directory, below) if below else directory), options


_default_names = itertools.count()
_default_names_lock = threading.Lock()


def shared_name(proposed: str) -> str:
    """The default log dir name the ranks of this job agree on: ``proposed``, or what
    another rank proposed first for its writer of the same number; ``proposed`` outside a
    distributed job or when its store cannot be reached (with a warning)."""
    store = _job_store()
    if store is None:
        return proposed
    with _default_names_lock:
        number = next(_default_names)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")  # a restarted job gets a new name, as in torch
    try:
        agreed = store.compare_set(f"eventwriter/default_log_dir/{attempt}/{number}", "", proposed)
    except Exception as exc:
        logger.warning("eventwriter: the ranks could not agree on a default log dir (%r); using %s", exc, proposed)
        return proposed
    return agreed.decode("utf-8") if isinstance(agreed, bytes) else str(agreed)


def _job_store() -> Any:
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available():
        return None
    try:
        if dist.is_initialized():
            return dist.distributed_c10d._get_default_store()
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":  # set by torchrun for its workers
            address, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
            return dist.TCPStore(
                address, port, is_master=False, timeout=timedelta(seconds=STORE_TIMEOUT), wait_for_workers=False
            )
    except Exception as exc:
        logger.warning("eventwriter: the job's key-value store cannot be reached (%r)", exc)
    return None
