"""Images plugin.

On disk an image is ``Summary.Value.image``: a ``Summary.Image`` with ``height``,
``width``, ``colorspace`` (channels: 3 RGB, 4 RGBA) and ``encoded_image_string``, a PNG
(eventwriter.png; the pixels are torch's, the compressed bytes are not). That legacy
field carries no plugin metadata (TensorBoard knows it by the field, and its loader turns
it into the images plugin's blob sequence ``[width, height, png]``), so this module has no
``create_summary_metadata``.

Pixel conversion is torch's ``add_image`` rule (``to_uint8``; the projector's sprites use
it too): uint8 is kept; any other dtype is converted to float32, multiplied by 255,
clipped to [0, 255] and truncated to uint8. One-channel images become three-channel grey
RGB. A batch (NCHW and its permutations) is tiled eight images wide. Boxes are drawn as
torch draws them (red, 2 px, labels in Pillow's default font), then the image is resized
by ``rescale``; eventwriter records the size of the image it wrote (torch records the
size before rescaling).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from eventwriter.convert import about_tag, check_tag, describe, positive, to_numpy
from eventwriter.plugins import Deferred
from eventwriter.png import encode_png
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.tensors import MAX_MESSAGE_BYTES

__all__ = [
    "GRID_COLUMNS",
    "PLUGIN_NAME",
    "PROTO_VERSION",
    "check_boxes",
    "draw_boxes",
    "image",
    "image_boxes",
    "image_pb",
    "make_grid",
    "pillow",
    "prepare_image",
    "prepare_image_boxes",
    "rendered_image",
    "rescaled_size",
    "to_hwc",
    "to_uint8",
]

PLUGIN_NAME = "images"
# Nothing carries it: the ``image`` field has no metadata, so torch writes no content.
PROTO_VERSION = 0
GRID_COLUMNS = 8


_FORMATS = {2: "HW", 3: "CHW", 4: "NCHW"}


def _check_dataformats(dataformats: Any) -> str:
    """``dataformats`` in upper case, if it is a permutation of NCHW, CHW or HW."""
    if not isinstance(dataformats, str):
        raise TypeError(f"dataformats must be a str such as 'CHW', got {describe(dataformats)}")
    upper = dataformats.upper()
    letters = _FORMATS.get(len(upper))
    if letters is None or sorted(upper) != sorted(letters):
        raise ValueError(f"dataformats must be a permutation of NCHW, CHW or HW, got {dataformats!r}")
    return upper


def make_grid(nchw: np.ndarray, columns: int = GRID_COLUMNS) -> np.ndarray:
    """Tile N images of shape CHW into one CHW image, ``columns`` wide, row by row."""
    count, channels, height, width = nchw.shape
    columns = min(count, columns)
    rows = -(-count // columns)
    padded = np.zeros((rows * columns, channels, height, width), dtype=nchw.dtype)
    padded[:count] = nchw
    grid: np.ndarray = padded.reshape(rows, columns, channels, height, width).transpose(2, 0, 3, 1, 4)
    return grid.reshape(channels, rows * height, columns * width)


def to_hwc(array: np.ndarray, dataformats: str) -> np.ndarray:
    """Reorder an image (or a batch, tiled) to height x width x channels, 3 or 4 channels.

    ``dataformats`` is checked already and in upper case ("CHW", "NHWC", ...).

    Raises:
        ValueError: the array's rank, size or channel count does not fit ``dataformats``.
    """
    if array.ndim != len(dataformats):
        raise ValueError(f"dataformats {dataformats!r} needs a {len(dataformats)}-D array, got a {array.ndim}-D one")
    if array.size == 0:
        raise ValueError(f"the image is empty (shape {array.shape})")
    if len(dataformats) == 2:
        array = array.transpose([dataformats.index(c) for c in "HW"])[:, :, None]
    elif len(dataformats) == 3:
        array = array.transpose([dataformats.index(c) for c in "HWC"])
    else:
        nchw = array.transpose([dataformats.index(c) for c in "NCHW"])
        if nchw.shape[1] == 1:
            nchw = np.repeat(nchw, 3, axis=1)
        if nchw.shape[1] not in (3, 4):
            raise ValueError(
                f"images need 1, 3 or 4 channels, got {nchw.shape[1]} (shape {array.shape}, {dataformats})"
            )
        array = make_grid(nchw).transpose(1, 2, 0)
    channels = array.shape[2]
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels not in (3, 4):
        raise ValueError(f"images need 1, 3 or 4 channels, got {channels} (shape {array.shape}, {dataformats})")
    return array


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Pixels as uint8, by torch's ``add_image`` rule: uint8 kept (the same array);
    any other real dtype converted to float32, x255, clipped to [0, 255], truncated;
    NaN becomes 0.

    Raises:
        TypeError: the dtype is not bool, int or float.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "biuf":
        raise TypeError(f"image pixels must be numeric, got dtype {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: inf, then 255
        scaled = array.astype(np.float32)
        scaled *= 255
    np.fmax(scaled, 0, out=scaled)  # NaN becomes 0 (what torch's cast gives on x86, here on every machine)
    np.minimum(scaled, 255, out=scaled)
    return scaled.astype(np.uint8)


def pillow() -> Any:
    """The PIL package, or an ImportError that names the extra to install."""
    try:
        import PIL.Image
        import PIL.ImageDraw
        import PIL.ImageFont
    except ImportError as exc:  # pragma: no cover - the images extra is part of the test set-up
        raise ImportError("images need Pillow: pip install 'eventwriter[images]'") from exc
    return PIL


def check_boxes(boxes: np.ndarray, labels: Sequence[str] | None) -> None:
    """Boxes are an N x 4 array of (xmin, ymin, xmax, ymax); labels, if any, one per box."""
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"box_tensor must have shape (N, 4) of xmin, ymin, xmax, ymax; got shape {boxes.shape}")
    if labels is not None and len(labels) != boxes.shape[0]:
        raise ValueError(f"labels must name each of the {boxes.shape[0]} boxes, got {len(labels)} labels")


def draw_boxes(image: Any, boxes: np.ndarray, labels: Sequence[str] | None = None) -> Any:
    """Draw red boxes (and labels) on a PIL image, as torch.utils.tensorboard does.

    Coordinates far outside the image (Pillow fails on some beyond 1e18) are clipped to
    a margin wider than any label first: every line is horizontal or vertical, so the
    pixels drawn are the same.
    """
    PIL = pillow()
    font = PIL.ImageFont.load_default()
    draw = PIL.ImageDraw.Draw(image)
    texts = [None if labels is None else labels[index] for index in range(len(boxes))]
    sizes = [_text_size(font, text) if text else (0, 0) for text in texts]
    pad = 8 + 2 * max((width + height for width, height in sizes), default=0)
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    boxes[:, 0::2] = boxes[:, 0::2].clip(-pad, image.size[0] + pad)
    boxes[:, 1::2] = boxes[:, 1::2].clip(-pad, image.size[1] + pad)
    for (left, top, right, bottom), text, (text_width, text_height) in zip(boxes.tolist(), texts, sizes):
        draw.line([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)], width=2, fill="Red")
        if text:
            margin = np.ceil(0.05 * text_height)
            draw.rectangle([(left, bottom - text_height - 2 * margin), (left + text_width, bottom)], fill="Red")
            draw.text((left + margin, bottom - text_height - margin), text, fill="black", font=font)
    return image


def _text_size(font: Any, text: str) -> tuple[int, int]:
    box_left, box_top, box_right, box_bottom = font.getbbox(text)
    return box_right - box_left, box_bottom - box_top


@lru_cache(maxsize=1)
def _latin1_font() -> bool:
    """Whether Pillow's default font is its bitmap font, of Latin-1 characters only (before
    Pillow 10.1, or without FreeType)."""
    PIL = pillow()
    return not isinstance(PIL.ImageFont.load_default(), PIL.ImageFont.FreeTypeFont)


def rescaled_size(hwc: np.ndarray, rescale: float) -> tuple[int, int]:
    """(width, height) of an image resized by ``rescale``.

    Raises:
        ValueError: nothing is left, or the PNG could exceed protobuf's 2 GiB message
            limit (if zlib could not compress the pixels at all).
    """
    height, width, channels = hwc.shape
    size = (int(width * rescale), int(height * rescale))
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"rescale {rescale} leaves no pixel of a {width}x{height} image")
    raw = size[1] * (size[0] * channels + 1)  # a filter byte a row
    if raw + raw // 1000 + (1 << 12) > MAX_MESSAGE_BYTES:  # zlib's worst case adds 5 bytes a 16 KiB block
        what = f"an image of {size[0]}x{size[1]} pixels" + (f" (rescaled by {rescale})" if rescale != 1 else "")
        raise ValueError(f"{what} and {channels} channels could exceed protobuf's 2 GiB message limit as a PNG")
    return size


def rendered_image(
    hwc: np.ndarray, rescale: float = 1, boxes: np.ndarray | None = None, labels: Sequence[str] | None = None
) -> np.ndarray:
    """The pixels torch writes for an image with boxes and ``rescale`` (HxWxC uint8)."""
    PIL = pillow()
    size = rescaled_size(hwc, rescale)
    image = PIL.Image.fromarray(np.ascontiguousarray(hwc))
    if boxes is not None:
        image = draw_boxes(image, boxes, labels)
    return np.asarray(image.resize(size, PIL.Image.Resampling.LANCZOS))


def image_pb(tag: str, hwc: np.ndarray) -> Summary:
    """A Summary holding one image of uint8 pixels, height x width x 3 or 4, as a PNG."""
    image = Summary.Image(
        height=hwc.shape[0], width=hwc.shape[1], colorspace=hwc.shape[2], encoded_image_string=encode_png(hwc)
    )
    return Summary(value=[Summary.Value(tag=tag, image=image)])


# -- torch's builders --------------------------------------------------------------


def _hwc(tag: str, tensor: Any, dataformats: Any) -> np.ndarray:
    """``img_tensor`` as H x W x C uint8 pixels that the builders own: a new array, unless
    the conversion made one already."""
    array = to_numpy(tensor, tag, "img_tensor")
    with about_tag(tag):
        letters = _check_dataformats(dataformats)
    with about_tag(tag, "img_tensor"):
        pixels = to_uint8(to_hwc(array, letters))
    return np.array(pixels, copy=True) if np.shares_memory(pixels, array) else pixels


def _boxes(tag: str, tensor_boxes: Any) -> np.ndarray:
    """``box_tensor`` as a new float64 array of finite coordinates."""
    boxes = to_numpy(tensor_boxes, tag, "box_tensor")
    if boxes.size == 0:  # a detector that found nothing
        return np.zeros((0, 4))
    if boxes.dtype.kind not in "biuf":
        raise TypeError(f"{tag!r}: box_tensor must hold numbers, got dtype {boxes.dtype}")
    with np.errstate(over="ignore"):  # a float128 beyond float64 becomes inf, refused just below
        coordinates = np.array(boxes, dtype=np.float64, copy=True)
    finite = np.isfinite(coordinates)
    if not finite.all():
        bad = coordinates.size - int(np.count_nonzero(finite))
        raise ValueError(
            f"{tag!r}: box_tensor must hold finite coordinates, got {bad} NaN or infinite of {coordinates.size}"
        )
    return coordinates


def _labels(tag: str, labels: Any) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    names = list(labels) if isinstance(labels, Iterable) and not isinstance(labels, bytes) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError(f"{tag!r}: labels must be a list of str, got {describe(labels)}")
    for index, name in enumerate(names):
        if _latin1_font() and not all(ord(c) < 256 for c in name):
            raise ValueError(
                f"{tag!r}: labels[{index}] must be Latin-1 text, which Pillow's default font (a bitmap font before "
                f"Pillow 10.1) draws, got {name!r}"
            )
    return names


def prepare_image(tag: str, tensor: Any, rescale: float = 1, dataformats: str = "NCHW") -> Deferred:
    """Check and convert ``image``'s inputs now; encode the PNG when built.

    Raises:
        TypeError, ValueError: as ``image``.
    """
    check_tag(tag)
    hwc = _hwc(tag, tensor, dataformats)
    scale = positive(tag, "rescale", rescale)
    if scale != 1:
        pillow()  # resizes; missing, the error comes now, not from the writer thread
    with about_tag(tag):
        rescaled_size(hwc, scale)

    def build() -> Summary:
        pixels = hwc if scale == 1 else rendered_image(hwc, scale)
        return image_pb(tag, pixels)

    return Deferred(build, hwc.nbytes)


def image(tag: str, tensor: Any, rescale: float = 1, dataformats: str = "NCHW") -> Summary:
    """A Summary with one PNG image (torch's ``summary.image``); a batch is tiled eight wide.

    Args:
        tag: the tag.
        tensor: the pixels (tensor on any device, array or sequence); uint8 is kept, other
            dtypes are scaled by 255 and clipped.
        rescale: resize by this factor (needs Pillow).
        dataformats: the axis order: a permutation of "NCHW", "CHW" or "HW"; channels 1
            (grey), 3 (RGB) or 4 (RGBA).

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: ``tensor`` is not numeric, ``dataformats`` not a str, ``rescale`` not
            a number.
        ValueError: ``dataformats`` does not fit the tensor, the channels are not 1, 3 or
            4, the image is empty, ``rescale`` is not positive or leaves no pixel, or
            the PNG could exceed protobuf's 2 GiB message limit.
    """
    return prepare_image(tag, tensor, rescale, dataformats).build()


def prepare_image_boxes(
    tag: str,
    tensor_image: Any,
    tensor_boxes: Any,
    rescale: float = 1,
    dataformats: str = "CHW",
    labels: Sequence[str] | None = None,
) -> Deferred:
    """Check and copy ``image_boxes``' inputs now; draw and encode when built.

    Raises:
        ImportError: Pillow is missing.
        TypeError, ValueError: as ``image_boxes``.
    """
    check_tag(tag)
    pillow()  # draws the boxes; missing, the error comes now, not from the writer thread
    hwc = _hwc(tag, tensor_image, dataformats)
    boxes = _boxes(tag, tensor_boxes)
    names = _labels(tag, labels)
    scale = positive(tag, "rescale", rescale)
    with about_tag(tag):
        check_boxes(boxes, names)
        rescaled_size(hwc, scale)

    def build() -> Summary:
        return image_pb(tag, rendered_image(hwc, scale, boxes, names))

    return Deferred(build, hwc.nbytes)


def image_boxes(
    tag: str,
    tensor_image: Any,
    tensor_boxes: Any,
    rescale: float = 1,
    dataformats: str = "CHW",
    labels: Sequence[str] | None = None,
) -> Summary:
    """A Summary with one image and red boxes, optionally labelled (torch's ``summary.image_boxes``).

    Args:
        tag: the tag.
        tensor_image: the pixels, as for ``image``.
        tensor_boxes: (N, 4) boxes of xmin, ymin, xmax, ymax in pixels; empty for none.
        rescale: resize the image (with its boxes) by this factor.
        dataformats: the image's axis order, as for ``image`` (one image, no batch).
        labels: one str per box, or one str for a single box.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        ImportError: Pillow is missing.
        TypeError: an argument has the wrong type (labels that are not str included).
        ValueError: the image is invalid as for ``image``, boxes are not N x 4 or not
            finite, labels do not name every box (torch drops the labels then), or a
            label holds characters beyond Latin-1 where Pillow's default font is its
            bitmap font (before Pillow 10.1).
    """
    return prepare_image_boxes(tag, tensor_image, tensor_boxes, rescale, dataformats, labels).build()
