"""What one event file knows per tag: scalar layouts, and whose plugin metadata it has.

TensorBoard reads a tag's plugin metadata from its first value in a run and ignores
later copies, so eventwriter writes the metadata with a tag's first value in each file
only (a new-style scalar event is 43 bytes instead of 61 without it). Both caches belong
to one file: a new file (``reopen``) starts empty, so its first values carry metadata
again, and a miss in the scalar layout cache marks a tag's first scalar in the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Union

from eventwriter.convert import check_tag
from eventwriter.encoding import ScalarLayout, string_tensor_summary, summary_record
from eventwriter.plugins.text import TAG_SUFFIX, text
from eventwriter.proto.summary_pb2 import Summary

__all__ = ["FileTags", "LayoutKey"]

_LAYOUT_CACHE_LIMIT = 10_000

# An old-style scalar's layout is found by its tag, a new-style one's by (tag, double precision).
LayoutKey = Union[str, tuple[str, bool]]


class FileTags:
    """The per-tag state of one event file; records go to ``put`` in the order made,
    after ``check`` (which raises when the file takes nothing, a forked child included).

    ``layouts`` is read without a lock by the hot path (``EventFileWriter.write_scalar``);
    it is only filled here, under the lock that also orders first values.
    """

    def __init__(self, put: Callable[[bytes], None], check: Callable[[], None]) -> None:
        self.layouts: dict[LayoutKey, ScalarLayout] = {}
        self._put = put
        self._check = check  # raises if the queue takes nothing: before waiting for the lock
        self._described: set[str] = set()
        self._lock = threading.Lock()

    def put_first_scalar(
        self, tag: str, value: float, step: int | None, wall_time: float, new_style: bool, double_precision: bool
    ) -> None:
        """Queue a scalar of a tag not in ``layouts`` (its first in this file, or the
        cache was cleared), with the plugin metadata if the file lacks it."""
        check_tag(tag)
        self._check()
        new_style, double_precision = bool(new_style), bool(double_precision)
        layout = ScalarLayout(tag, new_style, double_precision)
        with self._lock:
            # The record carrying the metadata is queued before the tag counts as described,
            # so no other thread can queue a value without metadata ahead of it.
            first = new_style and tag not in self._described
            self._put(layout.record(value, step, wall_time, first=first))
            if first:
                self._described.add(tag)
            if len(self.layouts) >= _LAYOUT_CACHE_LIMIT:
                self.layouts.clear()
            self.layouts[(tag, double_precision) if new_style else tag] = layout

    def put_summary(self, summary: Summary, step: int | None, wall_time: float) -> None:
        """Queue a Summary (it may be modified): plugin metadata is kept on the first value
        of each tag in the file only. Values of metadata alone (hparams records) keep it."""
        values = summary.value
        fresh = {v.tag for v in values if v.HasField("metadata") and v.tag not in self._described}
        if not fresh:
            _strip_metadata(values, self._described)
            self._put(summary_record(wall_time, step, summary.SerializeToString()))
            return
        with self._lock:
            _strip_metadata(values, self._described)
            self._put(summary_record(wall_time, step, summary.SerializeToString()))
            self._described.update(fresh)

    def put_text(self, tag: str, text_string: Any, step: int | None, wall_time: float) -> None:
        """Queue ``add_text``'s event. After a tag's first text in the file (which carries
        the metadata, and whose tag was checked) the event's bytes are put together
        directly; anything else goes through the text plugin's builder and its checks."""
        name = tag + TAG_SUFFIX
        if name in self._described and type(text_string) is str:
            try:
                data = text_string.encode("utf-8")
            except UnicodeEncodeError:
                pass  # the builder says what is wrong
            else:
                self._put(summary_record(wall_time, step, string_tensor_summary(name.encode("utf-8"), data)))
                return
        self.put_summary(text(tag, text_string), step, wall_time)


def _strip_metadata(values: Any, described: set[str]) -> None:
    for value in values:
        if value.tag in described and value.WhichOneof("value") is not None:
            value.ClearField("metadata")
