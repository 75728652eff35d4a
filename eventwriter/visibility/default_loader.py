"""The default loader's rules: TensorBoard's Rust data server (0.7.2; data_compat.rs,
run.rs, reservoir.rs, event_file.rs), tag by tag.

The default loader (Rust) fixes a tag's data class by the tag's first value in the run:
its ``data_class`` if set, else its kind (simple_value, image, audio, histo) or plugin
name; a tag of no known class is dropped whole. A later value that its class cannot hold
(a scalar must be a simple_value or a rank-0 DT_FLOAT tensor) is dropped alone. A value at
a step at or below one already seen replaces the tag's values from that step on. A NaN
wall time ends the reading of its file; an infinite one drops its event. Data CRCs are
not checked (a record that decodes is read); a bad length CRC or a record that is no
Event ends the file. It keeps 1,000 scalars, 100 tensors and 10 blob sequences per tag.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.summary_pb2 import (
    DATA_CLASS_BLOB_SEQUENCE,
    DATA_CLASS_SCALAR,
    DATA_CLASS_TENSOR,
    DATA_CLASS_UNKNOWN,
    Summary,
)
from eventwriter.proto.types_pb2 import DT_FLOAT, DT_STRING, DataType
from eventwriter.visibility.kinds import (
    CLASS_NAMES,
    CLASS_OF_PLUGIN,
    GRAPH_PLUGINS,
    IMPLIED,
    KIND_NAMES,
    UNKNOWN_PLUGIN_FIX,
    Losses,
)

__all__ = ["DEFAULT_KEEPS", "DefaultSeries", "default_event", "default_plain"]

DEFAULT_KEEPS: dict[int, int] = {DATA_CLASS_SCALAR: 1000, DATA_CLASS_TENSOR: 100, DATA_CLASS_BLOB_SEQUENCE: 10}


class DefaultSeries:
    """A tag as the Rust data server holds it: its class, and its values' steps in order
    (each kept or a tombstone), with later steps replaced by a step going back."""

    def __init__(self, data_class: int, plugin: str, unknown_reason: tuple[str, str] | None) -> None:
        self.data_class, self.plugin, self.unknown_reason = data_class, plugin, unknown_reason
        self.steps: list[int] = []
        self.valid: list[bool] = []
        self.losses = Losses()
        self.offered = 0  # values offered in all (the reservoir's count of what it has seen)
        self.replaced_when_full = False  # a step went back after the reservoir began to sample
        self.route_fails: tuple[str, str] | None = None  # a value the plugin's route fails on, whole tag

    @property
    def keeps(self) -> int:
        return DEFAULT_KEEPS.get(self.data_class, 0)

    @property
    def exact(self) -> bool:
        """Whether ``min(kept values, keeps)`` is what the server keeps. It is not when
        the sample holds dropped values (they take slots), or when a step went back after
        sampling began (the reservoir shrinks and refills only by chance)."""
        sampled = len(self.steps) > self.keeps or self.replaced_when_full
        return not sampled or (all(self.valid) and not self.replaced_when_full)

    def offer(self, step: int, why_not: tuple[str, str] | None) -> None:
        if self.steps and self.steps[-1] >= step and self.offered > self.keeps:
            self.replaced_when_full = True
        self.offered += 1
        while self.steps and self.steps[-1] >= step:
            self.steps.pop()
            if self.valid.pop():
                self.losses.replace(step)
        self.steps.append(step)
        self.valid.append(why_not is None)
        if why_not is not None:
            self.losses.lose(*why_not, step)

    def offer_all(self, steps: np.ndarray, why_not: tuple[str, str] | None) -> None:
        """``offer`` each of ``steps`` in turn, at once: a value stays if every later
        one has a greater step; an earlier one stays if it is below them all."""
        count = len(steps)
        later_low = np.minimum.accumulate(steps[::-1])[::-1]
        stays = np.ones(count, dtype=bool)
        stays[:-1] = steps[:-1] < later_low[1:]
        cut = bisect.bisect_left(self.steps, int(later_low[0]))
        # a step going back once the sample is full: at the batch's first value, against what
        # came before; at a later one, against the value before it (the top of the stack)
        back = np.nonzero(steps[1:] <= steps[:-1])[0] + 1
        if (self.steps and int(steps[0]) <= self.steps[-1] and self.offered > self.keeps) or (
            len(back) and self.offered + int(back[-1]) > self.keeps
        ):
            self.replaced_when_full = True
        self.offered += count
        # What each replaced value is replaced by: an earlier value ``gone``, by the first
        # of the batch at or below it (the batch's running low reaches it there; the least
        # ``gone`` has the least such step); a value of the batch, by the next one, if that
        # is at or below it.
        gone = [step for step, valid in zip(self.steps[cut:], self.valid[cut:]) if valid]
        replaced, lows = len(gone), []
        if gone:
            running_low = np.minimum.accumulate(steps)
            lows.append(int(running_low[int(np.argmax(running_low <= gone[0]))]))
        if why_not is None and not stays.all():
            replaced += count - int(stays.sum())
            lows.append(int(steps[1:][steps[1:] <= steps[:-1]].min()))
        if replaced:
            self.losses.replaced += replaced
            low = min(lows)
            self.losses.replaced_from = (
                low if self.losses.replaced_from is None else min(self.losses.replaced_from, low)
            )
        del self.steps[cut:], self.valid[cut:]
        kept = steps[stays].tolist()
        self.steps.extend(kept)
        self.valid.extend([why_not is None] * len(kept))
        if why_not is not None:
            self.losses.lose(*why_not, int(steps[0]), count)


def default_event(tags: dict[str, DefaultSeries], dropped: dict[str, Losses], event: Event) -> None:
    """Take one event into the default loader's ``tags``; the values of an event it drops
    before they reach a tag (an infinite wall time: the tag is not made) go to ``dropped``."""
    if event.WhichOneof("what") != "summary":
        return
    if math.isinf(event.wall_time):
        for value in event.summary.value:
            series = tags.get(value.tag)
            losses = series.losses if series is not None else dropped.setdefault(value.tag, Losses())
            losses.lose(
                f"the event's wall_time is {event.wall_time}: the default loader drops the event"
                + ("" if series is not None else " (so the tag's first value, and its metadata, is a later one)"),
                "write finite wall times (walltime=None takes the clock's)",
                event.step,
            )
        return
    for value in event.summary.value:
        series = tags.get(value.tag)
        if series is None:
            series = tags[value.tag] = default_series(value)
        if series.data_class == DATA_CLASS_UNKNOWN:
            if series.unknown_reason is not None:
                series.losses.lose(*series.unknown_reason, event.step)
            continue
        series.offer(event.step, default_refusal(value, series, event.step))


def default_plain(tags: dict[str, DefaultSeries], tag: str, steps: np.ndarray) -> None:
    """Take a stretch of plain scalar events of one tag (their steps) at once."""
    series = tags.get(tag)
    if series is None:
        series = tags[tag] = DefaultSeries(DATA_CLASS_SCALAR, "scalars", None)
    if series.data_class == DATA_CLASS_UNKNOWN:
        if series.unknown_reason is not None:
            series.losses.lose(*series.unknown_reason, int(steps[0]), len(steps))
        return
    series.offer_all(steps, None if series.data_class == DATA_CLASS_SCALAR else other_kind("simple_value", series))


def default_series(value: Summary.Value) -> DefaultSeries:
    kind = value.WhichOneof("value") or ""
    has_metadata = value.HasField("metadata")
    plugin = value.metadata.plugin_data.plugin_name
    if has_metadata and value.metadata.data_class != DATA_CLASS_UNKNOWN:
        return DefaultSeries(value.metadata.data_class, plugin, None)
    if kind in IMPLIED:
        plugin = IMPLIED[kind]
        return DefaultSeries(CLASS_OF_PLUGIN[plugin], plugin, None)
    if plugin in CLASS_OF_PLUGIN:
        return DefaultSeries(CLASS_OF_PLUGIN[plugin], plugin, None)
    if not kind and not has_metadata:
        reason = (
            "the tag's first value is empty (no data, no metadata; torch's add_video writes such a value when "
            "moviepy is missing): the default loader drops the whole tag",
            "install moviepy for torch's add_video, or use eventwriter's add_video (Pillow alone)",
        )
    elif not has_metadata or not plugin:
        reason = (
            "the tag's first value carries no plugin metadata: the default loader drops the whole tag",
            "write the plugin metadata with the tag's first value (every SummaryWriter method does)",
        )
    else:
        reason = (
            f"plugin {plugin!r} has no data class TensorBoard knows and the metadata sets none: "
            "the default loader drops the whole tag"
            + (" (torch's add_tensor writes this plugin)" if plugin == "tensor" else ""),
            UNKNOWN_PLUGIN_FIX,
        )
    return DefaultSeries(DATA_CLASS_UNKNOWN, plugin, reason)


def other_kind(kind: str, series: DefaultSeries) -> tuple[str, str]:
    return (
        f"{KIND_NAMES[kind]} under a tag whose first value made it "
        f"a {CLASS_NAMES[series.data_class]} tag: the default loader drops it",
        "log each kind of data under its own tag",
    )


def default_refusal(value: Summary.Value, series: DefaultSeries, step: int = 0) -> tuple[str, str] | None:
    """Why the default loader drops this value of the series, or None if it keeps it."""
    kind = value.WhichOneof("value") or ""
    data_class = series.data_class
    another = other_kind(kind, series)
    if data_class == DATA_CLASS_SCALAR:
        if kind == "simple_value":
            return None
        if kind != "tensor":
            return another
        tensor = value.tensor
        if tensor.dtype != DT_FLOAT:
            name = DataType.Name(tensor.dtype) if tensor.dtype in DataType.values() else str(tensor.dtype)
            fix = "view with --load_fast=false, or log float32 scalars"
            if name == "DT_DOUBLE":
                fix = "log with double_precision=False, or view with --load_fast=false"
            return f"a scalar written as {name}: the default loader takes only DT_FLOAT scalars and drops it", fix
        if tensor.tensor_shape.dim:
            shape = [dim.size for dim in tensor.tensor_shape.dim]
            return (
                f"a scalar tensor of shape {shape}: the default loader takes only rank-0 scalars and drops it",
                "log a rank-0 value (simple_value), or view with --load_fast=false",
            )
        if len(tensor.float_val) == 1 or (not tensor.float_val and len(tensor.tensor_content) == 4):
            return None
        return "a scalar tensor that holds no single float32: the default loader drops it", ""
    if data_class == DATA_CLASS_TENSOR:
        if kind == "histo":
            if len(value.histo.bucket) == len(value.histo.bucket_limit):
                return None
            return "a histogram whose bucket and bucket_limit differ in length: the default loader drops it", ""
        return None if kind in ("tensor", "") else another
    if kind in ("image", "audio"):
        return None
    tensor = value.tensor
    if kind == "tensor" and tensor.dtype == DT_STRING:
        shape = [dim.size for dim in tensor.tensor_shape.dim]
        strings = len(tensor.string_val)  # what the data server counts (the shape tells only the rank)
        if len(shape) == 1 and series.plugin == "images" and strings < 3:
            return (
                f"an image tensor of {strings} string(s), not [width, height, image, ...]: the images route skips it",
                "log images with add_image",
            )
        audio = len(shape) == 1 or (len(shape) == 2 and shape[1] == 2)
        if series.plugin == "audio" and audio and strings == 0 and not series.route_fails:
            series.route_fails = (
                f"an audio value of no clip at step {step}: the audio route fails for the whole tag (HTTP 500)",
                "give every audio value a clip",
            )
        if len(shape) == 1 or (len(shape) == 2 and shape[1] == 2 and series.plugin == "audio"):
            return None
        if not shape and len(tensor.string_val) == 1 and series.plugin in GRAPH_PLUGINS:
            return None
    return another
