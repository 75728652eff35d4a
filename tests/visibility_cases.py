"""Small log dirs, one run per rule of what TensorBoard's loaders drop, cut or replace
(eventwriter.visibility), written record by record; and what each loader keeps of each
tag, worked out by hand from tensorboard's source.

tests/test_visibility.py checks ``check_logdir``'s predictions against ``EXPECTED``
(no tensorboard needed); tests/interop/test_visibility_server.py checks them against the
real server under both loaders.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from eventwriter import RecordWriter
from eventwriter.proto.event_pb2 import Event, SessionLog
from eventwriter.proto.summary_pb2 import DATA_CLASS_TENSOR, Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_DOUBLE, DT_FLOAT, DT_HALF, DT_STRING

WALL = 1_700_000_000.0


def scalars_metadata() -> SummaryMetadata:
    metadata = SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    return metadata


def tensor_value(tag, values, *, dtype=DT_FLOAT, shape=(), plugin="scalars", metadata=True, data_class=0):
    """A tensor summary value: float_val/double_val/half_val/string_val by dtype."""
    tensor = TensorProto(dtype=dtype, tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=s) for s in shape]))
    if dtype == DT_FLOAT:
        tensor.float_val.extend(values)
    elif dtype == DT_DOUBLE:
        tensor.double_val.extend(values)
    elif dtype == DT_HALF:
        tensor.half_val.extend(int(np.float16(v).view(np.uint16)) for v in values)
    elif dtype == DT_STRING:
        tensor.string_val.extend(v.encode() for v in values)
    value = Summary.Value(tag=tag, tensor=tensor)
    if metadata:
        value.metadata.plugin_data.plugin_name = plugin
        value.metadata.data_class = data_class
    return value


def simple(tag, number):
    return Summary.Value(tag=tag, simple_value=number)


def image(tag):
    png = bytes.fromhex(  # a 1x1 grey PNG
        "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
        "3a7e9b550000000a49444154789c63680000000082008177cd72b60000000049454e44ae426082"
    )
    return Summary.Value(tag=tag, image=Summary.Image(height=1, width=1, colorspace=1, encoded_image_string=png))


def summary(step, *values, wall_time=None):
    return Event(wall_time=WALL + step if wall_time is None else wall_time, step=step, summary=Summary(value=values))


def file_version(version="brain.Event:2"):
    return Event(wall_time=WALL, file_version=version)


def write_file(directory, events, name="events.out.tfevents.1700000000.host.1.0"):
    """Write ``events`` (Events, or bytes written as they are) as one event file."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        writer = RecordWriter(handle)
        for event in events:
            writer.write(event if isinstance(event, bytes) else event.SerializeToString())
    return path


def record_offsets(path):
    """The byte offset of each record of an event file."""
    with open(path, "rb") as handle:
        data = handle.read()
    offsets, offset = [], 0
    while offset < len(data):
        offsets.append(offset)
        (length,) = struct.unpack_from("<Q", data, offset)
        offset += 16 + length
    return offsets


def flip(path, offset):
    """Flip one bit of the byte at ``offset``."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 1]))


def write_cases(logdir):
    """One run per rule, below ``logdir``."""
    join = os.path.join
    steps = range(5)
    write_file(join(logdir, "fine"), [file_version(), *(summary(s, simple("loss", s / 2)) for s in steps)])
    write_file(
        join(logdir, "double"),
        [file_version(), *(summary(s, tensor_value("x", [s / 3], dtype=DT_DOUBLE)) for s in steps)],
    )
    write_file(
        join(logdir, "half"), [file_version(), *(summary(s, tensor_value("x", [s / 2], dtype=DT_HALF)) for s in steps)]
    )
    write_file(
        join(logdir, "shape1"), [file_version(), *(summary(s, tensor_value("x", [s / 2], shape=(1,))) for s in steps)]
    )
    write_file(
        join(logdir, "unknown_plugin"),
        [file_version(), *(summary(s, tensor_value("x", [1.0, 2.0], shape=(2,), plugin="tensor")) for s in steps)],
    )
    write_file(
        join(logdir, "explicit_class"),
        [
            file_version(),
            *(
                summary(s, tensor_value("x", [1.0], shape=(1,), plugin="custom", data_class=DATA_CLASS_TENSOR))
                for s in steps
            ),
        ],
    )
    # the tag's first value carries no metadata; a later file gives it first
    write_file(
        join(logdir, "late_metadata"),
        [file_version(), *(summary(s, tensor_value("x", [s / 2], metadata=False)) for s in steps)],
        name="events.out.tfevents.1700000000.host.1.0",
    )
    write_file(
        join(logdir, "late_metadata"),
        [file_version(), *(summary(s, tensor_value("x", [s / 2])) for s in range(5, 8))],
        name="events.out.tfevents.1700000001.host.1.0",
    )
    # no metadata until the second value of the file: the Python loader gives no data class
    write_file(
        join(logdir, "metadata_second"),
        [
            file_version(),
            summary(0, tensor_value("x", [0.0], metadata=False)),
            *(summary(s, tensor_value("x", [s / 2])) for s in range(1, 5)),
        ],
    )
    write_file(
        join(logdir, "nan_wall_time"),
        [file_version(), *(summary(s, simple("x", s), wall_time=float("nan") if s == 2 else None) for s in range(6))],
    )
    write_file(
        join(logdir, "inf_wall_time"),
        [file_version(), *(summary(s, simple("x", s), wall_time=float("inf") if s == 2 else None) for s in range(6))],
    )
    write_file(join(logdir, "many_scalars"), [file_version(), *(summary(s, simple("x", s)) for s in range(1200))])
    write_file(
        join(logdir, "many_texts"),
        [
            file_version(),
            *(summary(s, tensor_value("t", [f"text {s}"], dtype=DT_STRING, plugin="text")) for s in range(30)),
        ],
    )
    write_file(join(logdir, "many_images"), [file_version(), *(summary(s, image("i")) for s in range(15))])
    write_file(join(logdir, "one_step"), [file_version(), *(summary(0, simple("x", v)) for v in range(5))])
    write_file(
        join(logdir, "restart"),
        [file_version(), *(summary(s, simple("x", s)) for s in range(5))],
        name="events.out.tfevents.1700000000.host.1.0",
    )
    write_file(
        join(logdir, "restart"),
        [file_version(), *(summary(s, simple("x", 10 + s), wall_time=WALL + 100 + s) for s in range(3, 6))],
        name="events.out.tfevents.1700000100.host.2.0",
    )
    write_file(
        join(logdir, "session_restart"),
        [
            file_version(),
            Event(wall_time=WALL, step=0, session_log=SessionLog(status=SessionLog.START)),
            *(summary(s, simple("x", s)) for s in range(5)),
            Event(wall_time=WALL + 10, step=2, session_log=SessionLog(status=SessionLog.START)),
            *(summary(s, simple("x", 10 + s)) for s in range(2, 4)),
        ],
    )
    write_file(
        join(logdir, "mixed_kinds"),
        [file_version(), summary(0, simple("m", 0.0)), summary(1, image("m")), summary(2, simple("m", 2.0))],
    )
    write_file(
        join(logdir, "two_numbers"),
        [
            file_version(),
            *(summary(s, tensor_value("x", [s / 2])) for s in range(3)),
            summary(3, tensor_value("x", [1.0, 2.0], shape=(2,))),
        ],
    )
    bad_data = write_file(join(logdir, "bad_data_crc"), [file_version(), *(summary(s, simple("x", s)) for s in steps)])
    offsets = record_offsets(bad_data)
    flip(bad_data, offsets[3] - 1)  # the data CRC of the record of step 1: its data still decodes
    bad_length = write_file(
        join(logdir, "bad_length_crc"), [file_version(), *(summary(s, simple("x", s)) for s in steps)]
    )
    flip(bad_length, record_offsets(bad_length)[3] + 9)  # the length CRC of the record of step 2

    write_file(
        join(logdir, "profile_empty"),
        [file_version(), *(summary(s, simple("x", s)) for s in range(3))],
        name="events.out.tfevents.1700000000.host.profile-empty",
    )
    truncated = write_file(join(logdir, "truncated"), [file_version(), *(summary(s, simple("x", s)) for s in range(4))])
    os.truncate(truncated, os.path.getsize(truncated) - 5)  # the last record is still being written
    write_file(
        join(logdir, "many_histograms"),
        [file_version(), *(summary(s, histogram("h", s)) for s in range(150))],
    )
    write_file(join(logdir, ".hidden"), [file_version(), *(summary(s, simple("x", s)) for s in range(2))])
    target = logdir.rstrip(os.sep) + "-link-target"  # a run outside the log dir, linked into it
    write_file(target, [file_version(), *(summary(s, simple("x", s)) for s in range(2))])
    os.symlink(target, join(logdir, "linked"))
    text = lambda s, metadata=True: tensor_value("t", [f"text {s}"], dtype=DT_STRING, plugin="text", metadata=metadata)  # noqa: E731
    write_file(
        join(logdir, "inf_first_value"),
        [
            file_version(),
            summary(0, text(0), wall_time=float("inf")),
            *(summary(s, text(s, False)) for s in range(1, 5)),
        ],
    )
    write_file(
        join(logdir, "sample_then_restart"),
        [file_version(), *(summary(s, simple("x", s)) for s in [*range(3000), *range(1000, 1500)])],
    )
    write_file(
        join(logdir, "dropped_in_sample"),
        [
            file_version(),
            *(
                summary(s, simple("x", s) if s % 2 == 0 else tensor_value("x", [s], dtype=DT_DOUBLE))
                for s in range(2000)
            ),
        ],
    )
    write_file(join(logdir, "purge_after_sample"), [*(summary(s, text(s)) for s in [*range(30), 5])])
    write_file(
        join(logdir, "version_bare"), [file_version("2"), *(summary(s, simple("x", s)) for s in [0, 1, 2, 3, 4, 2])]
    )
    write_file(
        join(logdir, "version_odd"), [file_version("foo:2"), *(summary(s, simple("x", s)) for s in [0, 1, 2, 3, 4, 2])]
    )
    write_file(join(logdir, "same_step_images"), [file_version(), *(summary(0, image("i")) for _ in range(3))])
    write_file(
        join(logdir, "text_then_simple"),
        [
            file_version(),
            summary(0, text(0)),
            summary(1, text(1, False)),
            summary(2, simple("t", 1.0)),
            summary(3, text(3, False)),
        ],
    )
    write_file(
        join(logdir, "image_with_histogram"),
        [file_version(), summary(0, image("i")), summary(1, histogram("i", 0)), summary(2, image("i"))],
    )
    images = [tensor_value("i", ["1", "1", "png"], dtype=DT_STRING, shape=(3,), plugin="images")]
    images.append(tensor_value("i", ["1", "1"], dtype=DT_STRING, shape=(2,), metadata=False))
    images.append(tensor_value("i", ["1", "1", "png"], dtype=DT_STRING, shape=(3,), metadata=False))
    write_file(
        join(logdir, "image_of_two_strings"), [file_version(), *(summary(s, images[min(s, 2)]) for s in range(4))]
    )
    clip = lambda clips, metadata=False: tensor_value(  # noqa: E731
        "a", ["wav", ""] * clips, dtype=DT_STRING, shape=(clips, 2), plugin="audio", metadata=metadata
    )
    write_file(
        join(logdir, "audio_of_no_clip"),
        [file_version(), summary(0, clip(0, True)), summary(1, clip(1)), summary(2, clip(1))],
    )
    write_file(
        join(logdir, "audio_with_simple"),
        [file_version(), summary(0, clip(1, True)), summary(1, simple("a", 1.0)), summary(2, clip(1))],
    )
    empty = tensor_value("a", [], dtype=DT_STRING, shape=(0,), plugin="audio")
    write_file(
        join(logdir, "audio_rank1_empty"), [file_version(), summary(0, empty), summary(1, clip(1)), summary(2, clip(1))]
    )
    write_file(
        join(logdir, "audio_sampled_no_clip"),
        [file_version(), summary(0, clip(0, True)), *(summary(s, clip(1)) for s in range(1, 30))],
    )
    lying = [
        tensor_value("i", ["1", "1", "png"], dtype=DT_STRING, shape=(1,), plugin="images", metadata=s == 0)
        for s in range(3)
    ]
    write_file(join(logdir, "image_shape_lies"), [file_version(), *(summary(s, lying[s]) for s in range(3))])
    write_file(
        join(logdir, "early_resume"),
        [file_version(), *(summary(s, simple("x", s)) for s in [*range(10), *range(5, 1200)])],
    )
    good = [summary(s, simple("x", s)).SerializeToString() for s in range(3)]
    value = Summary(value=[simple("x", 1.0)]).SerializeToString()
    wrong_wire = (
        b"\x09" + struct.pack("<d", WALL) + b"\x11" + struct.pack("<q", 1) + b"\x2a" + bytes([len(value)]) + value
    )
    overlong = (
        b"\x09" + struct.pack("<d", WALL) + b"\x10\x81" + b"\x80" * 8 + b"\x7f" + b"\x2a" + bytes([len(value)]) + value
    )
    write_file(join(logdir, "wrong_wire_type"), [file_version(), good[0], wrong_wire, good[2]])
    write_file(join(logdir, "overlong_varint"), [file_version(), good[0], overlong, good[2]])
    write_file(
        join(logdir, "image_then_simple"),
        [file_version(), summary(0, image("i")), summary(1, image("i")), summary(2, simple("i", 1.0))],
    )


def histogram(tag, step):
    """An old-style histogram of three buckets."""
    histo = Summary.Value(tag=tag).histo
    histo.min, histo.max, histo.num, histo.sum, histo.sum_squares = -1.0, 1.0 + step, 3.0, 0.0, 2.0
    histo.bucket_limit.extend([-0.5, 0.5, 1.0 + step])
    histo.bucket.extend([1.0, 1.0, 1.0])
    value = Summary.Value(tag=tag)
    value.histo.CopyFrom(histo)
    return value


# (run, tag) -> (what the default loader keeps, what the Python loader keeps)
EXPECTED = {
    ("fine", "loss"): (5, 5),
    ("double", "x"): (0, 5),
    ("half", "x"): (0, 5),
    ("shape1", "x"): (0, 5),
    ("unknown_plugin", "x"): (0, 0),
    ("explicit_class", "x"): (5, 5),
    ("late_metadata", "x"): (0, 8),
    ("metadata_second", "x"): (0, 0),
    ("nan_wall_time", "x"): (2, 6),
    ("inf_wall_time", "x"): (5, 6),
    ("many_scalars", "x"): (1000, 1000),
    ("many_texts", "t"): (30, 10),
    ("many_images", "i"): (10, 10),
    ("one_step", "x"): (1, 5),
    ("restart", "x"): (6, 8),
    ("session_restart", "x"): (4, 4),
    ("mixed_kinds", "m"): (2, 0),
    ("two_numbers", "x"): (3, 0),
    ("bad_data_crc", "x"): (5, 1),
    ("bad_length_crc", "x"): (2, 2),
    ("profile_empty", "x"): (3, 0),
    ("truncated", "x"): (3, 3),
    ("many_histograms", "h"): (100, 150),
    (".hidden", "x"): (2, 2),
    ("linked", "x"): (2, 2),
    ("inf_first_value", "t"): (0, 5),
    ("sample_then_restart", "x"): (1000, 1000),
    ("dropped_in_sample", "x"): (1000, 1000),
    ("purge_after_sample", "t"): (6, 6),
    ("version_bare", "x"): (3, 6),
    ("version_odd", "x"): (3, 3),
    ("same_step_images", "i"): (1, 1),
    ("text_then_simple", "t"): (3, 0),
    ("image_then_simple", "i"): (2, 2),
    ("image_with_histogram", "i"): (2, 3),
    ("image_of_two_strings", "i"): (3, 3),
    ("audio_of_no_clip", "a"): (0, 0),
    ("audio_with_simple", "a"): (2, 3),
    ("early_resume", "x"): (1000, 1000),
    ("audio_rank1_empty", "a"): (0, 0),
    ("audio_sampled_no_clip", "a"): (10, 10),
    ("image_shape_lies", "i"): (3, 0),
    ("wrong_wire_type", "x"): (1, 3),
    ("overlong_varint", "x"): (1, 3),
}

# the cases where a loader's count is only an upper bound (its sample shrank or holds dropped values)
INEXACT = {
    ("sample_then_restart", "x"): {"default"},
    ("dropped_in_sample", "x"): {"default"},
    ("purge_after_sample", "t"): {"python"},
    ("audio_sampled_no_clip", "a"): {"default", "python"},
}


def write_undecodable(logdir):
    """A run whose third record has sound CRCs but holds no Event."""
    write_file(
        os.path.join(logdir, "undecodable"),
        [file_version(), summary(0, simple("x", 0.0)), b"\xff\xff\xff", summary(1, simple("x", 1.0))],
    )
