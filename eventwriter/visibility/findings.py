"""What a check of a log dir found: one ``Finding`` per thing TensorBoard will not show
as written, and the ``Effect`` it has."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["BOTH", "DEFAULT", "LOADERS", "PROJECTOR", "PYTHON", "Effect", "Finding"]

DEFAULT = "default"  # the Rust data server: TensorBoard's loader unless --load_fast=false
PYTHON = "python"  # the Python loader: --load_fast=false, and log dirs the Rust server cannot read
LOADERS = (DEFAULT, PYTHON)
BOTH = "both"  # a finding that holds for both loaders
PROJECTOR = "projector"  # the projector plugin, the same under both loaders


class Effect(enum.Enum):
    """What becomes of the data a finding is about. ``lost`` data is never shown (the
    exit status of ``validate --tensorboard`` says so); the others are TensorBoard
    working as designed, reported so that nobody wonders where the data went."""

    LOST = "lost"  # dropped on loading, or a file the plugin refuses: never shown
    SAMPLED = "sampled"  # a series longer than the loader keeps: a random sample is shown
    REPLACED = "replaced"  # values of steps written again later (a restart): the later are shown
    NOTE = "note"  # nothing lost as the files are now; worth knowing


@dataclass(frozen=True)
class Finding:
    """One thing TensorBoard will not show as written.

    Attributes:
        run: the run (directory relative to the log dir, "." for the log dir itself).
        subject: a tag, or what else the finding is about (a file, an embedding).
        loader: ``DEFAULT``, ``PYTHON``, ``BOTH`` or ``PROJECTOR``.
        effect: what becomes of the data.
        reason: why, in a sentence.
        fix: what to change, in the writing code or in how TensorBoard is started.
        count: how many values (points, records) are affected, where that is known.
        total: how many values the subject has in all, where that is known.
        first_step: the step of the first affected value, where there is one.
    """

    run: str
    subject: str
    loader: str
    effect: Effect
    reason: str
    fix: str = ""
    count: int | None = None
    total: int | None = None
    first_step: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "run": self.run,
            "subject": self.subject,
            "loader": self.loader,
            "effect": self.effect.value,
            "reason": self.reason,
            "fix": self.fix,
            "count": self.count,
            "total": self.total,
            "first_step": self.first_step,
        }
