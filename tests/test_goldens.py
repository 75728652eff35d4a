"""Golden files: every file one call of each kind writes, event by event, pinned.

Each case of golden_cases.py logs through a SummaryWriter on a MemoryStorage with a
fixed clock, host name and pid; the test reads back every file it wrote and compares
them with ``goldens/<case>.pbtxt``: every event of every event file (first events
included) in text format, file by file in path order, and the projector's side files
byte for byte. Regenerate the goldens only deliberately, in the newest environment
(any other passes too), and read the diff before committing:

    .venv/bin/python -m pytest tests/test_goldens.py --update-goldens

How events are compared (``compare_event``):

* as messages, with ``==``, after parsing the golden's text back into an Event (never as
  text: float formatting differs between protobuf versions);
* and byte for byte: the record in the file must be the golden Event's serialization
  (eventwriter serializes the protos that hold maps, an hparams session's ``hparams`` and
  the ``attr`` of graph nodes, with ``deterministic=True``: keys in order, so that their
  bytes are the same in every process and with every protobuf backend);
* a video's GIF is Pillow's encoding, which changes between Pillow versions (9.1 and 13
  write different bytes for the same frames): it is compared by its decoded frames,
  frame durations and loop count, every other field exactly. PNGs are eventwriter's own
  encoder (Pillow only draws boxes and labels into the pixels), so their bytes are
  pinned, with zlib as the deflate library here (eventwriter[fast]'s isal writes other
  bytes for the same pixels; tests/test_png.py checks both). Label glyphs are drawn in
  Pillow's default font, a bitmap font before Pillow 10.1 and a FreeType one since: the
  golden holds the FreeType glyphs, and that case is skipped where the default font is
  the bitmap one.
"""

from __future__ import annotations

import base64
import difflib
import io
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from golden_cases import CASES, LOG_DIR, Case, new_writer
from google.protobuf import text_format

from eventwriter import event_file, png
from eventwriter.proto.custom_scalar_pb2 import Layout
from eventwriter.proto.event_pb2 import Event
from eventwriter.proto.graph_pb2 import GraphDef
from eventwriter.proto.hparams_pb2 import HParamsPluginData
from eventwriter.proto.mesh_plugin_data_pb2 import MeshPluginData
from eventwriter.proto.plugin_data_pb2 import PrCurvePluginData
from eventwriter.proto.run_metadata_pb2 import RunMetadata
from eventwriter.reader import iter_events, iter_records
from eventwriter.storage import MemoryStorage

GOLDENS = Path(__file__).parent / "goldens"
UPDATE = "python -m pytest tests/test_goldens.py --update-goldens"
# The counter in event file names is process-wide; a golden numbers the files of its case.
EVENT_FILE = re.compile(r"(events\.out\.tfevents\.\d+\.[^.]+\.\d+\.)(\d+)(.*)")
PLUGIN_CONTENT = {"hparams": HParamsPluginData, "mesh": MeshPluginData, "pr_curves": PrCurvePluginData}
GIF = (b"GIF87a", b"GIF89a")


@dataclass
class WrittenFile:
    """One file of a case: its path in the log dir, and its events or (side file) bytes."""

    path: str
    events: list[tuple[Event, bytes]] | None = None  # (event, the bytes of its record)
    data: bytes = b""


# -- the case's files ----------------------------------------------------------------------


def written_files(case: Case) -> list[WrittenFile]:
    storage = MemoryStorage()
    # Every case logs to one log dir at one fixed time: as in a fresh process, its file
    # names take that time, not the next second after the last case's files.
    event_file._last_stamps.clear()
    writer = new_writer(storage, **case.writer_kwargs)
    try:
        case.log(writer)
    finally:
        writer.close()
    paths = storage.paths()
    counters = sorted(int(m.group(2)) for m in map(EVENT_FILE.fullmatch, map(posixpath.basename, paths)) if m)
    files = []
    for path in paths:
        data = storage.read_bytes(path) or b""
        directory, name = posixpath.split(posixpath.relpath(path, LOG_DIR))
        match = EVENT_FILE.fullmatch(name)
        if match is None:
            files.append(WrittenFile(posixpath.join(directory, name), data=data))
            continue
        name = f"{match.group(1)}#{counters.index(int(match.group(2)))}{match.group(3)}"
        records = [record.data for record in iter_records(io.BytesIO(data))]
        events = list(iter_events(io.BytesIO(data), stop_at_truncation=False))
        files.append(WrittenFile(posixpath.join(directory, name), events=list(zip(events, records))))
    return sorted(files, key=lambda file: file.path)


# -- the golden file format ------------------------------------------------------------------


def _side_file_lines(data: bytes) -> tuple[str, list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    lines = text[:-1].split("\n")
    if not text.endswith("\n") or "\r" in text or any(line != line.rstrip() for line in lines):
        encoded = base64.b64encode(data).decode("ascii")
        return "base64", [encoded[start : start + 76] for start in range(0, len(encoded), 76)]
    return "text", lines


def render_event(event: Event) -> str:
    """The event in text format, with comments showing the serialized protos it carries."""
    lines = text_format.MessageToString(event, as_utf8=True).splitlines()
    nested = []
    for index, value in enumerate(event.summary.value):
        plugin = value.metadata.plugin_data
        if plugin.content and plugin.plugin_name in PLUGIN_CONTENT:
            nested.append(
                (f"summary.value[{index}] plugin content", PLUGIN_CONTENT[plugin.plugin_name], plugin.content)
            )
        if plugin.plugin_name == "custom_scalars":
            nested.append((f"summary.value[{index}] layout", Layout, value.tensor.string_val[0]))
    if event.graph_def:
        nested.append(("graph_def", GraphDef, event.graph_def))
    if event.tagged_run_metadata.run_metadata:
        nested.append(("tagged_run_metadata.run_metadata", RunMetadata, event.tagged_run_metadata.run_metadata))
    for what, cls, data in nested:
        text = text_format.MessageToString(cls.FromString(data), as_utf8=True)
        lines += [f"# {what}, as {cls.__name__}:"] + [f"#   {line}" for line in text.splitlines()]
    return "\n".join(lines)


def render_golden(case: Case, files: list[WrittenFile]) -> str:
    lines = [
        f"# Golden of tests/test_goldens.py case {case.name!r}: every file it wrote in the log dir.",
        f"# Made by tests/test_goldens.py; regenerate with: {UPDATE}",
        "# '#n' in an event file name: the n-th event file of the case (the real counter is process-wide).",
        "# Other lines starting with '#' are comments: the protos an event carries serialized, decoded to read.",
    ]
    for file in files:
        if file.events is None:
            encoding, content = _side_file_lines(file.data)
            lines.append(f"# ==== file ({encoding}): {file.path}")
            lines += [f"| {line}" if line else "|" for line in content]
            continue
        lines.append(f"# ==== event file: {file.path}")
        for index, (event, _) in enumerate(file.events):
            lines += [f"# ---- event {index}", render_event(event)]
    return "\n".join(lines) + "\n"


HEADER = re.compile(r"# ==== (?:event file|file \((text|base64)\)): (.*)")


def parse_golden(text: str) -> list[WrittenFile]:
    sections: list[tuple[re.Match[str], list[str]]] = []
    for line in text.splitlines():
        header = HEADER.fullmatch(line)
        if header:
            sections.append((header, []))
        elif sections:
            sections[-1][1].append(line)
    return [_parse_section(*section) for section in sections]


def _parse_section(header: re.Match[str], body: list[str]) -> WrittenFile:
    encoding, path = header.groups()
    if encoding is None:
        blocks = re.split(r"^# ---- event \d+$", "\n".join(body), flags=re.MULTILINE)[1:]
        events = [text_format.Parse(block, Event()) for block in blocks]
        return WrittenFile(path, events=[(event, event.SerializeToString()) for event in events])
    content = [line[2:] for line in body if line.startswith("|")]
    if encoding == "base64":
        return WrittenFile(path, data=base64.b64decode("".join(content)))
    return WrittenFile(path, data="".join(line + "\n" for line in content).encode("utf-8"))


# -- comparing -------------------------------------------------------------------------------


def pop_gifs(event: Event) -> list[Any]:
    """Take the GIFs out of the event (in place) and return them decoded: loop count and
    each frame's RGB pixels and duration, as this Pillow reads them."""
    decoded: list[Any] = []
    for value in event.summary.value:
        if value.image.encoded_image_string.startswith(GIF):
            from PIL import Image, ImageSequence

            with Image.open(io.BytesIO(value.image.encoded_image_string)) as gif:
                loop = gif.info.get("loop")  # before seeking: Pillow 9 then keeps the last frame's info
                frames = [(f.convert("RGB").tobytes(), f.info.get("duration")) for f in ImageSequence.Iterator(gif)]
                decoded.append((loop, frames))
            value.image.encoded_image_string = b""
    return decoded


def bytes_pinned(event: Event) -> bool:
    """False for an event holding a GIF (module docstring)."""
    return not any(value.image.encoded_image_string.startswith(GIF) for value in event.summary.value)


def same_message(expected: Event, actual: Event) -> bool:
    # The C++ and pure-Python backends compare floats with ==, so a NaN is never equal to
    # itself there; equal deterministic serializations are equal messages, NaNs included.
    return expected == actual or expected.SerializeToString(deterministic=True) == actual.SerializeToString(
        deterministic=True
    )


def compare_event(where: str, golden: tuple[Event, bytes], written: tuple[Event, bytes]) -> str | None:
    """None if the written event matches the golden one, else what differs."""
    expected, actual = _copy(golden[0]), _copy(written[0])
    expected_gifs, actual_gifs = pop_gifs(expected), pop_gifs(actual)
    if not same_message(expected, actual):
        note = " (GIF bytes left out: compared decoded)" if expected_gifs or actual_gifs else ""
        return f"{where} differs{note}:\n" + _diff(render_event(expected), render_event(actual))
    if expected_gifs != actual_gifs:
        return f"{where}: the GIF decodes differently: {_gif_difference(expected_gifs, actual_gifs)}"
    if bytes_pinned(written[0]) and written[1] != golden[1]:
        size, golden_size = len(written[1]), len(golden[1])
        at = next((i for i, (a, b) in enumerate(zip(golden[1], written[1])) if a != b), min(size, golden_size))
        return (
            f"{where}: the same message, but its record is not the golden's serialization "
            f"({size} bytes instead of {golden_size}, first difference at byte {at})"
        )
    return None


def _copy(event: Event) -> Event:
    copy = Event()
    copy.CopyFrom(event)
    return copy


def _gif_difference(golden: list[Any], written: list[Any]) -> str:
    for (golden_loop, golden_frames), (loop, frames) in zip(golden, written):
        if (golden_loop, len(golden_frames)) != (loop, len(frames)):
            return f"loop {loop} and {len(frames)} frames instead of loop {golden_loop} and {len(golden_frames)}"
        for index, ((golden_pixels, golden_duration), (pixels, duration)) in enumerate(zip(golden_frames, frames)):
            if duration != golden_duration:
                return f"frame {index} lasts {duration} ms instead of {golden_duration}"
            if pixels != golden_pixels:
                changed = sum(a != b for a, b in zip(pixels, golden_pixels))
                return f"frame {index}: {changed} of {len(pixels)} RGB values differ"
    return f"{len(written)} GIFs instead of {len(golden)}"


def compare_files(golden: list[WrittenFile], written: list[WrittenFile]) -> list[str]:
    problems = []
    if [file.path for file in golden] != [file.path for file in written]:
        problems.append(
            "other files were written:\n" + _diff(*("\n".join(f.path for f in fs) for fs in (golden, written)))
        )
    expected_files = {file.path: file for file in golden}
    for file in written:
        expected = expected_files.get(file.path)
        if expected is None:
            continue
        if expected.events is None or file.events is None:
            if expected.events is not None or file.events is not None or expected.data != file.data:
                problems.append(f"{file.path} differs:\n" + _diff(*(_text_of(f) for f in (expected, file))))
            continue
        if len(expected.events) != len(file.events):
            problems.append(f"{file.path}: {len(file.events)} events instead of {len(expected.events)}")
        for index, pair in enumerate(zip(expected.events, file.events)):
            problem = compare_event(f"{file.path} event {index}", *pair)
            if problem:
                problems.append(problem)
    return problems


def _text_of(file: WrittenFile) -> str:
    if file.events is not None:
        return "\n".join(render_event(event) for event, _ in file.events)
    return "\n".join(_side_file_lines(file.data)[1])


def _diff(expected: str, actual: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(), actual.splitlines(), "golden", "written", lineterm="")
    return "\n".join(lines)


# -- the test --------------------------------------------------------------------------------


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    if not case.needs_pillow:
        return []
    try:
        from PIL import ImageFont
    except ImportError:
        return [pytest.mark.skip(reason="needs Pillow: pip install 'eventwriter[images]'")]
    if case.draws_labels and not isinstance(ImageFont.load_default(), ImageFont.FreeTypeFont):
        # The label glyphs are Pillow's default font: a bitmap font before Pillow 10.1,
        # a FreeType font after; the golden holds the FreeType one.
        return [pytest.mark.skip(reason="labels in Pillow's bitmap default font; the golden has its FreeType font")]
    return []


@pytest.fixture(autouse=True)
def _zlib_deflates_pngs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The goldens pin the PNG bytes zlib writes, whether or not isal is installed."""
    monkeypatch.setattr(png, "_deflate", png.zlib_deflate)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=_marks(c)) for c in CASES])
def test_golden(case: Case, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    golden = GOLDENS / f"{case.name}.pbtxt"
    written = written_files(case)
    if request.config.getoption("--update-goldens"):
        text = render_golden(case, written)
        changed = not golden.exists() or golden.read_text(encoding="utf-8") != text
        GOLDENS.mkdir(exist_ok=True)
        with open(golden, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        with capsys.disabled():
            print(f"\nwrote {golden} ({'changed' if changed else 'unchanged'})")
    if not golden.exists():
        node = f"tests/test_goldens.py::test_golden[{case.name}]"
        pytest.fail(
            f"no golden file {golden}; write it with: python -m pytest '{node}' --update-goldens", pytrace=False
        )
    problems = compare_files(parse_golden(golden.read_text(encoding="utf-8")), written)
    if problems:
        message = "\n\n".join(problems[:8] + [f"... and {len(problems) - 8} more"] * (len(problems) > 8))
        pytest.fail(f"{case.name}: the files differ from {golden}\n{message}\n(if intended: {UPDATE})", pytrace=False)
