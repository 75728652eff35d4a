"""DiscardStorage: accepts every file and keeps nothing (a rank that does not write).

``SummaryWriter(ranks="zero")`` gives it to the writers of the ranks other than 0: their
calls are checked and queued as everywhere, and no file or directory is created. Paths
are spelled as the storage it stands in for spells them, so the writer's ``log_dir`` is
the same on every rank. Summaries built in the writer thread (histograms, images) are
not built at all (``discards``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["DiscardStorage"]


class _DiscardSink:
    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, data: bytes) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


class DiscardStorage:
    """A Storage that writes nothing; ``join`` is that of ``spelled_like``."""

    discards = True

    def __init__(self, spelled_like: Any) -> None:
        self._join = spelled_like.join

    def makedirs(self, path: str) -> None:
        pass

    def create(self, path: str) -> _DiscardSink:
        return _DiscardSink(path)

    def join(self, *parts: str) -> str:
        return str(self._join(*parts))

    def read_bytes(self, path: str) -> bytes | None:
        return None

    def write_bytes(self, path: str, data: bytes) -> None:
        pass

    def remove(self, path: str) -> None:
        pass

    @contextlib.contextmanager
    def exclusive(self, path: str) -> Iterator[None]:
        yield
