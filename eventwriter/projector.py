"""Embedding projector files: what ``add_embedding`` writes next to the event files.

The layout is torch's. For tag ``t`` at step ``s``, in the run directory::

    {s:05d}/{t, with % / \\ percent-escaped}/tensors.tsv   one row per point, tab-separated
                                            metadata.tsv  one label per row; with several
                                                          columns, a header row first
                                            sprite.png    the thumbnails, row by row
    projector_config.pbtxt                  ProjectorConfig (text format), an EmbeddingInfo
                                            per (tag, step): tensor_name "t:{s:05d}", paths
                                            relative to the run, sprite's [width, height]

Beyond torch: the config on disk is merged, not rewritten from memory (a second writer
or a restarted process keeps earlier embeddings; the same tag and step replace their
entry); an opt-in binary ``tensors.bytes`` (float32, with ``tensor_shape``) for large
matrices; thumbnails may be non-square, their pixels are converted as ``add_image``
converts images (eventwriter.plugins.images.to_uint8: uint8 kept, others scaled in
float32; torch's sprites scale in float64, which can differ by one level), and a sprite
that would exceed TensorBoard's 8192 pixels a side is scaled down with a warning.
TensorBoard's projector splits metadata on tabs and newlines; in labels they are
written as the two characters ``\\t`` and ``\\n``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf import text_format

from eventwriter.convert import about_tag, check_tag, check_text, describe, is_torch_tensor, to_numpy, to_step
from eventwriter.helper import in_halves
from eventwriter.plugins.images import make_grid, pillow, to_uint8
from eventwriter.png import encode_png
from eventwriter.proto.projector_config_pb2 import EmbeddingInfo, ProjectorConfig
from eventwriter.storage import Storage, update_file

__all__ = [
    "CONFIG_NAME",
    "MAX_NAME_BYTES",
    "MAX_SPRITE_SIDE",
    "Embedding",
    "check_directory_name",
    "embedding",
    "escape_tag",
    "format_matrix",
    "format_metadata",
    "make_sprite",
    "merge_config",
    "write_embedding",
]

CONFIG_NAME = "projector_config.pbtxt"
MAX_SPRITE_SIDE = 8192  # TensorBoard's projector refuses larger sprite images
MAX_NAME_BYTES = 255  # the longest file name ext4, XFS, APFS, NTFS (255 UTF-16 units) and others take


def escape_tag(tag: str) -> str:
    """torch's directory name for a tag: %, / and \\ percent-escaped."""
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def check_directory_name(tag: Any) -> str:
    """``tag`` if its escaped form names a directory: not "." or "..", no NUL, at most
    MAX_NAME_BYTES bytes in UTF-8 (file systems refuse longer names).

    Raises:
        TypeError: ``tag`` is not a str.
        ValueError: an empty tag, or one that names no directory of its own.
    """
    name = check_tag(tag)
    if name in (".", ".."):
        raise ValueError(f"tag {name!r} cannot name a directory of its own")
    if "\0" in name:
        raise ValueError(f"{name!r}: tag must not hold a NUL character (it names a directory)")
    size = len(escape_tag(name).encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise ValueError(
            f"{name!r}: tag must make a directory name of at most {MAX_NAME_BYTES} bytes (UTF-8, with %, / and \\ "
            f"escaped as torch does), which file systems allow; got {size} bytes"
        )
    return name


_POWERS = (10.0 ** np.arange(8, -1, -1)).tolist()  # the place values of 9 significant digits
_DIGIT_COLUMNS = [1, 3, 4, 5, 6, 7, 8, 9, 10]  # where they go in "+d.dddddddde+XX"


_BLOCK = 1 << 16  # values formatted at a time: the temporaries stay in the CPU cache


def format_matrix(matrix: np.ndarray) -> bytes:
    """TSV of a finite 2-D float32 matrix, every number as ``+d.dddddddde+XX``.

    Nine significant digits give every float32 back exactly, even one unit off in the
    last digit (that unit is at most 1e-8 of the value, half a float32 step at least
    6e-8), which is the most the float64 arithmetic below can be off. The text is built
    with array arithmetic, in blocks, half of them in eventwriter.helper's thread: no
    Python call per number.
    """
    rows, columns = matrix.shape
    values = np.ascontiguousarray(matrix).reshape(-1)
    text = np.empty((values.size, 16), dtype=np.uint8)
    blocks = list(range(0, values.size, _BLOCK))
    if len(blocks) < 4:
        _format_blocks(values, text, blocks)
    else:
        in_halves(lambda part: _format_blocks(values, text, part), blocks[::2], blocks[1::2])
    cells = text.reshape(rows, columns, 16)
    cells[:, :, 15] = ord("\t")
    cells[:, -1, 15] = ord("\n")
    return cells.tobytes()


def _format_blocks(values: np.ndarray, text: np.ndarray, starts: list[int]) -> None:
    for start in starts:
        _format_block(values[start : start + _BLOCK], text[start : start + _BLOCK])


def _format_block(block: np.ndarray, text: np.ndarray) -> None:
    numbers = block.astype(np.float64)
    magnitude = np.abs(numbers)
    zero = magnitude == 0
    exponent = np.floor(np.log10(np.where(zero, 1.0, magnitude)))
    mantissa = np.rint(magnitude * 10.0 ** (8 - exponent))
    for wrong, shift in ((mantissa >= 1e9, 1), ((mantissa < 1e8) & ~zero, -1)):  # log10 near powers of ten
        if wrong.any():
            exponent[wrong] += shift
            mantissa[wrong] = np.rint(magnitude[wrong] * 10.0 ** (8 - exponent[wrong]))
    text[:, 0] = np.where(np.signbit(numbers), ord("-"), ord("+"))
    text[:, 2] = ord(".")
    for column, power in zip(_DIGIT_COLUMNS, _POWERS):
        digit = np.floor(mantissa / power)  # exact: quotients of integers below 1e9
        mantissa -= digit * power
        text[:, column] = digit + ord("0")
    text[:, 11] = ord("e")
    text[:, 12] = np.where(exponent < 0, ord("-"), ord("+"))
    np.abs(exponent, out=exponent)
    tens = np.floor(exponent / 10)
    text[:, 13] = tens + ord("0")
    text[:, 14] = exponent - 10 * tens + ord("0")


def _cell(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def format_metadata(metadata: Sequence[Any], header: Sequence[str] | None) -> bytes:
    """metadata.tsv: one column without header, or a header row and tab-separated columns.

    A one-column file cannot carry a header (the projector takes a first line without a
    tab for a label), so a one-name header is left out.

    Raises:
        ValueError: a label or name holds a lone surrogate (UTF-8 cannot encode it).
    """
    if header is not None and len(header) > 1:
        lines = ["\t".join(_cell(name) for name in header)]
        lines += ["\t".join(_cell(value) for value in row) for row in metadata]
        text = "\n".join(lines)
    else:
        labels = [str(row[0] if header is not None else row) for row in metadata]
        text = "\n".join(labels)
        if text.count("\n") != len(labels) - 1 or any(c in text for c in "\t\r\\"):
            text = "\n".join(_cell(label) for label in labels)
    return (check_text("", "metadata", text) + "\n").encode("utf-8")


def _sprite_pixels(thumbnails: np.ndarray) -> np.ndarray:
    """N x C x H x W thumbnails as uint8 RGB, converted as add_image converts pixels."""
    if thumbnails.shape[1] == 1:
        thumbnails = np.repeat(thumbnails, 3, axis=1)
    return to_uint8(thumbnails)


def _shrink(thumbnails: np.ndarray, width: int, height: int) -> np.ndarray:
    PIL = pillow()
    resample = PIL.Image.Resampling.LANCZOS
    resized = [
        np.asarray(PIL.Image.fromarray(image.transpose(1, 2, 0)).resize((width, height), resample))
        for image in thumbnails
    ]
    return np.ascontiguousarray(np.stack(resized).transpose(0, 3, 1, 2))


def make_sprite(thumbnails: np.ndarray, tag: str = "") -> tuple[bytes, tuple[int, int]]:
    """sprite.png of N x C x H x W thumbnails (C 1 or 3) and the thumbnail [width, height].

    The thumbnails fill a grid of ceil(sqrt(N)) columns and as many rows, left to right
    and top to bottom (torch's layout; for square thumbnails the same pixels as torch).
    """
    pixels = _sprite_pixels(thumbnails)
    count, _, height, width = pixels.shape
    columns = math.ceil(count**0.5)
    side = columns * max(width, height)
    if side > MAX_SPRITE_SIDE:
        scale = MAX_SPRITE_SIDE / side
        new_width, new_height = max(1, int(width * scale)), max(1, int(height * scale))
        size = f"{columns * width}x{columns * height}"
        warnings.warn(
            f"{tag!r}: a sprite of {count} thumbnails of {width}x{height} would be {size} pixels, beyond "
            f"TensorBoard's {MAX_SPRITE_SIDE}; thumbnails are scaled to {new_width}x{new_height}",
            UserWarning,
            stacklevel=4,
        )
        pixels = _shrink(pixels, new_width, new_height)
        width, height = new_width, new_height
    grid = make_grid(pixels, columns)  # 3 x rows*H x columns*W
    canvas = np.zeros((columns * height, columns * width, 3), dtype=np.uint8)
    canvas[: grid.shape[1]] = grid.transpose(1, 2, 0)
    return encode_png(canvas), (width, height)


@dataclass
class Embedding:
    """One embedding, checked and converted, ready to be written."""

    tag: str
    step: int
    matrix: np.ndarray
    metadata: Sequence[Any] | None = None
    metadata_header: Sequence[str] | None = None
    metadata_text: bytes | None = None  # metadata.tsv, made (and checked) by ``embedding``
    thumbnails: np.ndarray | None = None
    binary: bool = False

    @property
    def tensor_name(self) -> str:
        return f"{self.tag}:{str(self.step).zfill(5)}"

    @property
    def subdir(self) -> str:
        return f"{str(self.step).zfill(5)}/{escape_tag(self.tag)}"


def _rows(tag: str, name: str, value: Any) -> list[Any]:
    if is_torch_tensor(value) or isinstance(value, np.ndarray):
        return list(to_numpy(value, tag, name).tolist())
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{tag!r}: {name} must be a list (one entry per point), got {describe(value)}")
    return list(value)


def _matrix(tag: str, mat: Any) -> np.ndarray:
    matrix = to_numpy(mat, tag, "mat")
    if matrix.ndim != 2:
        raise ValueError(f"{tag!r}: mat must be 2-D (points x dimensions), got shape {matrix.shape}")
    if matrix.dtype.kind not in "biuf":
        raise TypeError(f"{tag!r}: mat must hold real numbers, got dtype {matrix.dtype}")
    if matrix.size == 0:
        raise ValueError(f"{tag!r}: mat must not be empty, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{tag!r}: mat must be finite; it holds NaN or infinite values")
    with np.errstate(over="ignore"):  # checked just below
        single = matrix.astype(np.float32, copy=False)
    if not np.all(np.isfinite(single)):
        raise ValueError(f"{tag!r}: mat holds values beyond float32's range (about 3.4e38), which the projector reads")
    return single


def _metadata(tag: str, metadata: Any, metadata_header: Any, points: int) -> tuple[list[Any] | None, list[str] | None]:
    rows = header = None
    if metadata is not None:
        rows = _rows(tag, "metadata", metadata)
        if len(rows) != points:
            raise ValueError(f"{tag!r}: metadata must have one entry per point ({points}), got {len(rows)}")
    if metadata_header is not None:
        header = [str(name) for name in _rows(tag, "metadata_header", metadata_header)]
        if rows is None:
            raise ValueError(f"{tag!r}: metadata_header needs metadata")
        for index, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != len(header):
                expected = f"{len(header)} columns to match metadata_header"
                raise ValueError(f"{tag!r}: metadata row {index} must have {expected}, got {row!r}")
    return rows, header


def _thumbnails(tag: str, label_img: Any, points: int) -> np.ndarray:
    thumbnails = to_numpy(label_img, tag, "label_img")
    if thumbnails.ndim == 3:
        thumbnails = thumbnails[:, None]
    if thumbnails.ndim != 4 or thumbnails.shape[1] not in (1, 3) or thumbnails.shape[0] != points:
        raise ValueError(
            f"{tag!r}: label_img must be {points} images, N x C x H x W with C 1 or 3 (or N x H x W), "
            f"got shape {thumbnails.shape}"
        )
    if thumbnails.dtype.kind not in "biuf":
        raise TypeError(f"{tag!r}: label_img must hold pixels (real numbers), got dtype {thumbnails.dtype}")
    if min(thumbnails.shape[2:]) == 0:
        raise ValueError(f"{tag!r}: label_img must hold pixels, got shape {thumbnails.shape}")
    return thumbnails


def embedding(
    mat: Any,
    metadata: Any,
    label_img: Any,
    global_step: Any,
    tag: Any,
    metadata_header: Any,
    binary: bool,
) -> Embedding:
    """``add_embedding``'s arguments, checked and converted; nothing is written.

    Args:
        mat: points x dimensions, finite and within float32's range (torch, numpy or
            nested lists); stored as float32.
        metadata: one label per point, or with ``metadata_header`` one row of columns
            per point (list, tensor or array), or None.
        label_img: one thumbnail per point, N x C x H x W (C 1 or 3) or N x H x W, or None.
        global_step: an integer step, or None for 0.
        tag: the embedding's name; "." and "..", NUL characters and names longer than
            255 bytes once escaped are refused (they name no directory of their own).
        metadata_header: column names, or None.
        binary: write the matrix as float32 ``tensors.bytes`` instead of TSV.

    Returns:
        The Embedding, for ``write_embedding``.

    Raises:
        TypeError: an argument has the wrong type (mat or label_img not real numbers,
            metadata not a list, tag not a str).
        ValueError: shapes or counts do not fit, values are not finite, or the step is
            not an integer.
    """
    check_directory_name(tag)
    matrix = _matrix(tag, mat)
    points = matrix.shape[0]
    rows, header = _metadata(tag, metadata, metadata_header, points)
    with about_tag(tag):
        text = None if rows is None else format_metadata(rows, header)
    thumbnails = None if label_img is None else _thumbnails(tag, label_img, points)
    step = to_step(tag, global_step)
    return Embedding(
        tag=tag,
        step=0 if step is None else step,
        matrix=matrix,
        metadata=rows,
        metadata_header=header,
        metadata_text=text,
        thumbnails=thumbnails,
        binary=bool(binary),
    )


def merge_config(existing: bytes | None, info: EmbeddingInfo) -> bytes:
    """The config text with ``info`` replacing the entry of its tensor name, or appended."""
    config = ProjectorConfig()
    if existing:
        text_format.Parse(existing.decode("utf-8"), config)
    for index, entry in enumerate(config.embeddings):
        if entry.tensor_name == info.tensor_name:
            config.embeddings[index].CopyFrom(info)
            break
    else:
        config.embeddings.append(info)
    return text_format.MessageToString(config).encode("utf-8")


def write_embedding(storage: Storage, run_dir: str, embedding: Embedding) -> None:
    """Write an embedding's files, then add it to the run's projector config."""
    directory = storage.join(run_dir, *embedding.subdir.split("/"))
    storage.makedirs(directory)
    info = EmbeddingInfo(tensor_name=embedding.tensor_name)
    if embedding.binary:
        info.tensor_path = f"{embedding.subdir}/tensors.bytes"
        info.tensor_shape.extend(embedding.matrix.shape)
        data = np.ascontiguousarray(embedding.matrix, dtype="<f4").tobytes()
        storage.write_bytes(storage.join(directory, "tensors.bytes"), data)
    else:
        info.tensor_path = f"{embedding.subdir}/tensors.tsv"
        storage.write_bytes(storage.join(directory, "tensors.tsv"), format_matrix(embedding.matrix))
    if embedding.metadata is not None:
        info.metadata_path = f"{embedding.subdir}/metadata.tsv"
        metadata = embedding.metadata_text
        if metadata is None:
            metadata = format_metadata(embedding.metadata, embedding.metadata_header)
        storage.write_bytes(storage.join(directory, "metadata.tsv"), metadata)
    if embedding.thumbnails is not None:
        sprite, (width, height) = make_sprite(embedding.thumbnails, embedding.tag)
        info.sprite.image_path = f"{embedding.subdir}/sprite.png"
        info.sprite.single_image_dim.extend([width, height])
        storage.write_bytes(storage.join(directory, "sprite.png"), sprite)
    config_path = storage.join(run_dir, CONFIG_NAME)
    update_file(storage, config_path, lambda existing: merge_config(existing, info))
