"""``eventwriter.patch()``: frameworks that make torch's or tensorboardX's writer get eventwriter's.

PyTorch Lightning, transformers, accelerate, pytorch-ignite, stable-baselines3 and
others create ``torch.utils.tensorboard.SummaryWriter`` (or tensorboardX's) themselves::

    import eventwriter
    eventwriter.patch()      # from here on they make eventwriter's writers
    ...
    eventwriter.unpatch()    # as it was

or ``with eventwriter.patch(): ...``. It replaces, where installed,
``torch.utils.tensorboard.SummaryWriter`` and ``FileWriter``, ``tensorboardX.SummaryWriter``
and ``FileWriter`` (by classes that take tensorboardX's arguments: ``logdir``,
``write_to_disk``), and every name bound to one of them in a module already imported
(``from torch.utils.tensorboard import SummaryWriter`` at the top of a module, as
stable-baselines3 has), but in the modules that define them: torch's writers made before,
or subclassed before, stay torch's. ``unpatch()`` puts torch's and tensorboardX's classes back wherever a
name is bound to the ones patch() put in place, in modules imported since too. Both are
idempotent; a module imported by another thread while they run may be missed.
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

__all__ = [
    "Patch",
    "TensorboardXFileWriter",
    "TensorboardXSummaryWriter",
    "TorchFileWriter",
    "TorchSummaryWriter",
    "patch",
    "unpatch",
]


class TensorboardXSummaryWriter(SummaryWriter):
    """eventwriter's SummaryWriter with tensorboardX's arguments: ``logdir`` or ``log_dir``;
    ``write_to_disk=False`` checks every call and writes nothing. tensorboardX's own
    extras (``export_scalars_to_json``, ``add_openvino_graph``, Comet) are not there."""

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

    @property
    def logdir(self) -> str | os.PathLike[str]:
        """tensorboardX's name of ``log_dir``."""
        return self.log_dir


class TensorboardXFileWriter(FileWriter):
    """eventwriter's FileWriter with tensorboardX's argument name ``logdir``."""

    def __init__(
        self, logdir: str | os.PathLike[str], max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""
    ) -> None:
        super().__init__(logdir, max_queue, flush_secs, filename_suffix)


class TorchSummaryWriter(SummaryWriter):
    """eventwriter's SummaryWriter in the place of torch's, while patched."""


class TorchFileWriter(FileWriter):
    """eventwriter's FileWriter in the place of torch's, while patched."""


# (module, attribute, the class patch() puts there); classes of their own, so that
# unpatch() finds every name bound to them, in modules imported meanwhile too. The modules
# that define torch's and tensorboardX's classes keep them: torch's own writers (made
# before, or subclassed) go on creating torch's FileWriters for their runs.
_TARGETS = (
    ("torch.utils.tensorboard", "SummaryWriter", TorchSummaryWriter),
    ("torch.utils.tensorboard", "FileWriter", TorchFileWriter),
    ("tensorboardX", "SummaryWriter", TensorboardXSummaryWriter),
    ("tensorboardX", "FileWriter", TensorboardXFileWriter),
)

_lock = threading.Lock()
# While patched: id(the class put in place) -> (it, the class it replaced). Values found in
# modules are compared by identity only: some objects warn when asked for their class.
_originals: dict[int, tuple[type, type]] = {}
_replaced: list[str] = []  # module.name of every name patch() rebound


class Patch:
    """What ``patch()`` returns: leaving it as a context manager calls ``unpatch()``, if
    this call patched (a ``with patch():`` inside a patched program leaves it patched)."""

    def __init__(self, patched: bool) -> None:
        self._patched = patched

    def __enter__(self) -> Patch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._patched:
            unpatch()

    @property
    def replaced(self) -> list[str]:
        """``module.name`` of every name patch() bound to eventwriter's classes."""
        with _lock:
            return list(_replaced)


def patch() -> Patch:
    """Make torch's and tensorboardX's writer classes eventwriter's (see the module's
    docstring); imports torch.utils.tensorboard and tensorboardX where installed."""
    with _lock:
        if _originals:
            return Patch(patched=False)
        ours_for: dict[int, tuple[type, type]] = {}  # id(original) -> (original, ours)
        for module_name, name, ours in _TARGETS:
            module = _import(module_name)
            original = getattr(module, name, None) if module is not None else None
            if isinstance(original, type):
                ours_for[id(original)] = (original, ours)
                _originals[id(ours)] = (ours, original)
        for where, namespace in _modules():
            for name, value in list(namespace.items()):
                found = ours_for.get(id(value))
                if found is not None and found[0] is value and found[0].__module__ != where:
                    namespace[name] = found[1]
                    _replaced.append(f"{where}.{name}")
        return Patch(patched=True)


def unpatch() -> None:
    """Put torch's and tensorboardX's classes back wherever a name is bound to the ones
    ``patch()`` put in place (also in modules imported since); nothing if not patched."""
    with _lock:
        if not _originals:
            return
        for _, namespace in _modules():
            for name, value in list(namespace.items()):
                found = _originals.get(id(value))
                if found is not None and found[0] is value:
                    namespace[name] = found[1]
        _originals.clear()
        _replaced.clear()


def _modules() -> list[tuple[str, dict[str, Any]]]:
    """(name, namespace) of every module imported, eventwriter's own excepted."""
    found = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        name = getattr(module, "__name__", None)
        ours = name == "eventwriter" or (isinstance(name, str) and name.startswith("eventwriter."))
        if isinstance(namespace, dict) and isinstance(name, str) and not ours:
            found.append((name, namespace))
    return found


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
