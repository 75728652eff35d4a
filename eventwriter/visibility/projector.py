"""What TensorBoard's projector will not show of a log dir's embeddings.

The projector plugin (tensorboard/plugins/projector/projector_plugin.py, 2.21) looks for
``projector_config.pbtxt`` in the log dir itself, in each run (a directory with an event
file) and in a run's ``plugins/projector/``; a config anywhere else is never read. For
each embedding it resolves ``tensor_path``, ``metadata_path`` and the sprite's
``image_path`` against the config's directory, after following symlinks, and refuses a
path that ends up outside it. It reads every tensor file when it looks for configs, on
a background thread: a tensor file that is missing, is no table of numbers, or whose
rows differ in length raises there, and the projector then fails for every run of the
log dir. The page in the browser reads at most 100,000 points, refuses a sprite larger
than 8192 pixels a side (or no image at all), lays the numbers out by the config's
``tensor_shape`` if it has one, and refuses metadata whose row count (blank lines
skipped; the header row of a multi-column file not counted) differs from the tensor's.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from eventwriter.projector import CONFIG_NAME, MAX_SPRITE_SIDE
from eventwriter.visibility.findings import DEFAULT, PROJECTOR, Effect, Finding

__all__ = ["check_projector"]

_ASSETS = os.path.join("plugins", "projector")
MAX_POINTS = 100_000  # the page asks the plugin for this many rows of tensor and metadata


@dataclass
class _Context:
    run: str
    config_dir: str
    findings: list[Finding]

    def lost(self, subject: str, reason: str, fix: str) -> None:
        self.findings.append(Finding(self.run, subject, PROJECTOR, Effect.LOST, reason, fix))


def check_projector(logdir: str, runs: Iterable[str], unlisted: Collection[str] = ()) -> list[Finding]:
    """Check every projector config below ``logdir``; ``runs`` are the directories with
    event files (relative to ``logdir``, "." for itself), ``unlisted`` those of them that
    the default loader does not list (no event with a finite wall time)."""
    findings: list[Finding] = []
    looked_at = {"."} | set(runs)
    candidates = {os.path.normpath(os.path.join(run, _ASSETS)): run for run in looked_at}
    for directory, subdirs, files in os.walk(logdir):
        subdirs.sort()
        if CONFIG_NAME not in files:
            continue
        relative = os.path.relpath(directory, logdir)
        if relative in looked_at:
            run = relative
        elif relative in candidates:
            run = candidates[relative]
        else:
            findings.append(
                Finding(
                    relative,
                    CONFIG_NAME,
                    PROJECTOR,
                    Effect.LOST,
                    "TensorBoard never reads this config: its directory holds no event file and is not the log dir",
                    "write the embeddings with the SummaryWriter of this directory (it makes an event file), "
                    "or start TensorBoard with --logdir at this directory",
                )
            )
            continue
        if run in unlisted and run != ".":  # the projector always looks in the log dir itself
            findings.append(
                Finding(
                    run,
                    CONFIG_NAME,
                    DEFAULT,
                    Effect.LOST,
                    "the default loader does not list this run (none of its events has a finite wall time), "
                    "so the projector never looks for its embeddings there",
                    "log anything through the run's SummaryWriter, or view with --load_fast=false",
                )
            )
        _check_config(_Context(run, directory, findings), os.path.join(directory, CONFIG_NAME))
    return findings


def _check_config(context: _Context, path: str) -> None:
    from google.protobuf import text_format

    from eventwriter.proto.projector_config_pb2 import ProjectorConfig

    try:
        with open(path, encoding="utf-8") as handle:
            config = text_format.Parse(handle.read(), ProjectorConfig())
    except (OSError, UnicodeDecodeError, text_format.ParseError) as exc:
        context.lost(
            CONFIG_NAME,
            f"the config cannot be read ({exc}): the projector fails for every run of the log dir",
            "rewrite the config (ProjectorConfig in protobuf text format)",
        )
        return
    for info in config.embeddings:
        _check_embedding(context, info)


def _check_embedding(context: _Context, info: object) -> None:
    name = getattr(info, "tensor_name", "") or os.path.basename(getattr(info, "tensor_path", ""))
    subject = f"embedding {name!r}"
    tensor_path = getattr(info, "tensor_path", "")
    if not tensor_path:
        context.lost(
            subject,
            "no tensor_path: the tensor would come from a TensorFlow checkpoint, which TensorBoard reads only "
            "with TensorFlow installed",
            "write the matrix with add_embedding (it writes tensors.tsv)",
        )
        return
    tensor = _inside(context, subject, "tensor_path", tensor_path)
    if tensor is None:
        return
    rows = _tensor_rows(context, subject, tensor, list(getattr(info, "tensor_shape", [])))
    if rows is None:
        return
    if rows > MAX_POINTS:
        context.lost(
            subject,
            f"{rows} points: the page reads only the first {MAX_POINTS:,} (and as many metadata rows)",
            "log at most 100,000 points per embedding (a random subset, say)",
        )
    metadata_path = getattr(info, "metadata_path", "")
    if metadata_path:
        metadata = _inside(context, subject, "metadata_path", metadata_path)
        if metadata is not None:
            _check_metadata(context, subject, metadata, rows)
    sprite = getattr(info, "sprite", None)
    image_path = getattr(sprite, "image_path", "")
    if image_path:
        image = _inside(context, subject, "sprite image_path", image_path)
        if image is not None:
            _check_sprite(context, subject, image, rows, list(getattr(sprite, "single_image_dim", [])))


def _inside(context: _Context, subject: str, field: str, given: str) -> str | None:
    """The file ``given`` names, as the plugin resolves it; None (and a finding) if it is
    outside the config's directory or is no file."""
    config_dir = os.path.realpath(context.config_dir)
    candidate = os.path.expanduser(given)
    if not os.path.isabs(candidate):
        candidate = os.path.join(config_dir, candidate)
    candidate = os.path.realpath(candidate)
    try:
        inside = os.path.commonpath([config_dir, candidate]) == config_dir
    except ValueError:  # another drive
        inside = False
    if not inside:
        context.lost(
            subject,
            f"{field} {given!r} resolves outside the config's directory: TensorBoard refuses to serve it",
            "keep the embedding's files below the run directory (paths relative to it)",
        )
        return None
    if not os.path.isfile(candidate):
        whole = " (the projector fails for every run of the log dir)" if field == "tensor_path" else ""
        context.lost(subject, f"{field} {given!r}: no such file{whole}", "write the file, or remove the entry")
        return None
    return candidate


def _tensor_rows(context: _Context, subject: str, path: str, shape: list[int]) -> int | None:
    """The tensor's row count, read as the plugin reads it; None (and a finding) if the
    plugin cannot read it."""
    broken = "the projector fails for every run of the log dir"
    try:
        with open(path, encoding="utf-8") as handle:
            widths = [len(line.split("\t")) for line in _lines(handle) if _numbers(line)]
            handle.seek(0)
            bad = next((line for line in _lines(handle) if not _numbers(line)), None)
    except UnicodeDecodeError:  # read as float32 bytes of tensor_shape
        if len(shape) != 2:
            context.lost(subject, f"a binary tensor file needs a 2-D tensor_shape, got {shape}: {broken}", "")
            return None
        size = os.path.getsize(path)
        if size != 4 * shape[0] * shape[1]:
            context.lost(subject, f"{size} bytes are no float32 matrix of shape {shape}: {broken}", "")
            return None
        return shape[0]
    except OSError as exc:
        context.lost(subject, f"the tensor file cannot be read ({exc}): {broken}", "")
        return None
    if bad is not None:
        context.lost(subject, f"the tensor file has a row that is no list of numbers ({bad[:40]!r}): {broken}", "")
    elif not widths and not shape:
        context.lost(subject, f"the tensor file has no rows: {broken}", "")
    elif len(set(widths)) > 1:
        context.lost(subject, f"the tensor file's rows have {min(widths)} to {max(widths)} columns: {broken}", "")
    else:
        if len(shape) == 2 and shape != [len(widths), widths[0] if widths else 0]:
            context.lost(
                subject,
                f"the config's tensor_shape {shape} differs from the tensor file's {len(widths)} rows of "
                f"{widths[0] if widths else 0}: the page lays the numbers out by the config (points garbled "
                "or an error)",
                "write the tensor_shape of the file, or none",
            )
        return len(widths)
    return None


def _lines(handle: Iterable[str]) -> Iterable[str]:
    for line in handle:
        line = line.rstrip("\n")
        if line:
            yield line


def _numbers(line: str) -> bool:
    try:
        [float(cell) for cell in line.split("\t")]
    except ValueError:
        return False
    return True


def _check_metadata(context: _Context, subject: str, path: str, rows: int) -> None:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle.read().split("\n") if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        context.lost(subject, f"the metadata file cannot be read ({exc})", "")
        return
    labels = len(lines) - (1 if lines and "\t" in lines[0] else 0)
    if labels != rows:
        context.lost(
            subject,
            f"metadata has {labels} rows for {rows} points: the projector shows an error and no labels",
            "give one metadata row per point (a header row first when there are several columns)",
        )


def _check_sprite(context: _Context, subject: str, path: str, points: int, single: list[int]) -> None:
    size = _image_size(path)
    if size is None:
        return
    if size == (0, 0):
        context.lost(subject, "the sprite is no image the page can show: no thumbnails", "write a PNG sprite")
        return
    width, height = size
    if max(width, height) > MAX_SPRITE_SIDE:
        context.lost(
            subject,
            f"the sprite is {width}x{height} pixels; the projector refuses more than {MAX_SPRITE_SIDE} a side "
            "and shows no thumbnails",
            "use smaller thumbnails (eventwriter's add_embedding scales them down itself)",
        )
        return
    if len(single) >= 2 and single[0] > 0 and single[1] > 0:
        columns = math.ceil(math.sqrt(points)) if points else 0
        if columns * single[0] > width or math.ceil(points / max(columns, 1)) * single[1] > height:
            context.lost(
                subject,
                f"a {width}x{height} sprite cannot hold {points} thumbnails of {single[0]}x{single[1]} "
                f"in {columns} columns: points past its edge show no thumbnail",
                "write the sprite for all points (one thumbnail per row of the tensor)",
            )


def _image_size(path: str) -> tuple[int, int] | None:
    """(width, height) of a PNG from its header, of other images through Pillow if it is
    installed; (0, 0) for what Pillow cannot open; None if unknown."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as image:
            return image.size  # type: ignore[no-any-return]
    except OSError:
        return 0, 0
