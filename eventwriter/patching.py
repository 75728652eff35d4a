"""``eventwriter.patch()``: frameworks that make torch's or tensorboardX's writer get eventwriter's.

PyTorch Lightning, transformers, accelerate, pytorch-ignite, stable-baselines3 and
others create ``torch.utils.tensorboard.SummaryWriter`` (or tensorboardX's) themselves::

    import eventwriter
    eventwriter.patch()      # from here on they make eventwriter's writers
    ...
    eventwriter.unpatch()    # as it was

or ``with eventwriter.patch(): ...``. It replaces, where installed,
``torch.utils.tensorboard.SummaryWriter`` and ``FileWriter`` (and in its ``writer``
module), ``tensorboardX.SummaryWriter`` and ``FileWriter`` (by classes that take
tensorboardX's arguments: ``logdir``, ``write_to_disk``), and every name in a module
already imported that is bound to one of them (``from torch.utils.tensorboard import
SummaryWriter`` at the top of a module, as stable-baselines3 has). Writers made before
stay what they are. ``unpatch()`` puts back what it replaced, where eventwriter's class is
still in place. Both are idempotent; neither is thread-safe against concurrent imports.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from types import ModuleType
from typing import Any

from eventwriter.file_writer import FileWriter
from eventwriter.storage import DiscardStorage, storage_for
from eventwriter.writer import SummaryWriter

__all__ = ["Patch", "TensorboardXFileWriter", "TensorboardXSummaryWriter", "patch", "unpatch"]


class TensorboardXSummaryWriter(SummaryWriter):
    """eventwriter's SummaryWriter with tensorboardX's arguments: ``logdir`` or ``log_dir``;
    ``write_to_disk=False`` checks every call and writes nothing."""

    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        write_to_disk: bool = True,
        log_dir: str | os.PathLike[str] | None = None,
        comet_config: Any = None,
        **kwargs: Any,
    ) -> None:
        if logdir is not None and log_dir is not None:
            raise ValueError("give logdir or log_dir, not both")
        if comet_config is not None and not (isinstance(comet_config, dict) and comet_config.get("disabled", True)):
            raise ValueError("eventwriter does not log to Comet: comet_config must be disabled")
        directory = logdir if logdir is not None else log_dir
        if not write_to_disk:
            kwargs["storage"] = DiscardStorage(storage_for(os.fspath(directory or "runs")))
        super().__init__(directory, comment, purge_step, max_queue, flush_secs, filename_suffix, **kwargs)


class TensorboardXFileWriter(FileWriter):
    """eventwriter's FileWriter with tensorboardX's argument name ``logdir``."""

    def __init__(
        self, logdir: str | os.PathLike[str], max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""
    ) -> None:
        super().__init__(logdir, max_queue, flush_secs, filename_suffix)


# (module, attribute, eventwriter's class) of what patch() replaces by name.
_TARGETS = (
    ("torch.utils.tensorboard", "SummaryWriter", SummaryWriter),
    ("torch.utils.tensorboard", "FileWriter", FileWriter),
    ("torch.utils.tensorboard.writer", "SummaryWriter", SummaryWriter),
    ("torch.utils.tensorboard.writer", "FileWriter", FileWriter),
    ("tensorboardX", "SummaryWriter", TensorboardXSummaryWriter),
    ("tensorboardX", "FileWriter", TensorboardXFileWriter),
    ("tensorboardX.writer", "SummaryWriter", TensorboardXSummaryWriter),
    ("tensorboardX.writer", "FileWriter", TensorboardXFileWriter),
)

_lock = threading.Lock()
_replaced: list[tuple[ModuleType, str, Any, Any]] = []  # (module, name, original, ours)


class Patch:
    """What ``patch()`` returns: a context manager that calls ``unpatch()`` on leaving."""

    def __enter__(self) -> Patch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        unpatch()

    @property
    def replaced(self) -> list[str]:
        """``module.name`` of every name currently bound to eventwriter's classes by patch()."""
        with _lock:
            return [f"{module.__name__}.{name}" for module, name, _, _ in _replaced]


def patch() -> Patch:
    """Make torch's and tensorboardX's writer classes eventwriter's (see the module's
    docstring); imports torch.utils.tensorboard and tensorboardX where installed."""
    with _lock:
        if _replaced:
            return Patch()
        ours_for: dict[int, tuple[Any, Any]] = {}  # id(original) -> (original, ours)
        for module_name, name, ours in _TARGETS:
            module = _import(module_name)
            original = getattr(module, name, None) if module is not None else None
            if original is not None and original is not ours:
                ours_for[id(original)] = (original, ours)
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict) or getattr(module, "__name__", "").startswith("eventwriter"):
                continue
            for name, value in list(namespace.items()):
                found = ours_for.get(id(value))
                if found is not None and found[0] is value:
                    namespace[name] = found[1]
                    _replaced.append((module, name, value, found[1]))
        return Patch()


def unpatch() -> None:
    """Put back every class ``patch()`` replaced (where eventwriter's is still there)."""
    with _lock:
        while _replaced:
            module, name, original, ours = _replaced.pop()
            if module.__dict__.get(name) is ours:
                setattr(module, name, original)


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
