"""Images plugin.

On disk an image is ``Summary.Value.image``: a ``Summary.Image`` with ``height``,
``width``, ``colorspace`` (channels: 3 RGB, 4 RGBA) and ``encoded_image_string``, a PNG
(eventwriter.png; the pixels are torch's, the compressed bytes are not).
It carries no plugin metadata; TensorBoard's loader turns it into the images plugin's
blob sequence ``[width, height, png]`` on read.

Pixel conversion is torch's: uint8 is kept; any other dtype is multiplied by 255,
clipped to [0, 255] and truncated to uint8. One-channel images become three-channel
grey RGB. A batch (NCHW and its permutations) is tiled eight images wide. Boxes are
drawn as torch draws them (red, 2 px, labels in Pillow's default font), then the image
is resized by ``rescale``; eventwriter records the size of the image it wrote (torch
records the size before rescaling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eventwriter.png import encode_png
from eventwriter.proto.summary_pb2 import Summary

__all__ = ["PLUGIN_NAME", "draw_boxes", "image_pb", "make_grid", "rendered_image", "to_hwc", "to_uint8"]

PLUGIN_NAME = "images"
GRID_COLUMNS = 8


_FORMATS = {2: "HW", 3: "CHW", 4: "NCHW"}


def _check_format(dataformats: str, ndim: int) -> str:
    if not isinstance(dataformats, str):
        raise TypeError(f"dataformats must be a str such as 'CHW', got {type(dataformats).__name__}")
    upper = dataformats.upper()
    letters = _FORMATS.get(len(upper))
    if letters is None or sorted(upper) != sorted(letters):
        raise ValueError(f"dataformats must be a permutation of NCHW, CHW or HW, got {dataformats!r}")
    if ndim != len(upper):
        raise ValueError(f"dataformats {dataformats!r} needs a {len(upper)}-D array, got a {ndim}-D one")
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

    Raises:
        ValueError: the array's rank, size or channel count does not fit ``dataformats``.
    """
    upper = _check_format(dataformats, array.ndim)
    if array.size == 0:
        raise ValueError(f"the image is empty (shape {array.shape})")
    if len(upper) == 2:
        array = array.transpose([upper.index(c) for c in "HW"])[:, :, None]
    elif len(upper) == 3:
        array = array.transpose([upper.index(c) for c in "HWC"])
    else:
        nchw = array.transpose([upper.index(c) for c in "NCHW"])
        if nchw.shape[1] == 1:
            nchw = np.repeat(nchw, 3, axis=1)
        if nchw.shape[1] not in (3, 4):
            raise ValueError(f"images need 1, 3 or 4 channels, got {nchw.shape[1]} (shape {array.shape}, {upper})")
        array = make_grid(nchw).transpose(1, 2, 0)
    channels = array.shape[2]
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels not in (3, 4):
        raise ValueError(f"images need 1, 3 or 4 channels, got {channels} (shape {array.shape}, {upper})")
    return array


def to_uint8(array: np.ndarray) -> np.ndarray:
    """torch's pixel conversion: uint8 kept; otherwise x255, clipped, truncated."""
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "biuf":
        raise TypeError(f"image pixels must be numeric, got dtype {array.dtype}")
    scaled = array.astype(np.float32) * 255
    return scaled.clip(0, 255).astype(np.uint8)


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
    """Draw red boxes (and labels) on a PIL image, as torch.utils.tensorboard does."""
    PIL = pillow()
    font = PIL.ImageFont.load_default()
    draw = PIL.ImageDraw.Draw(image)
    for index, (left, top, right, bottom) in enumerate(boxes):
        draw.line([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)], width=2, fill="Red")
        text = None if labels is None else labels[index]
        if text:
            box_left, box_top, box_right, box_bottom = font.getbbox(text)
            text_width, text_height = box_right - box_left, box_bottom - box_top
            margin = np.ceil(0.05 * text_height)
            draw.rectangle([(left, bottom - text_height - 2 * margin), (left + text_width, bottom)], fill="Red")
            draw.text((left + margin, bottom - text_height - margin), text, fill="black", font=font)
    return image


def rescaled_size(hwc: np.ndarray, rescale: float) -> tuple[int, int]:
    """(width, height) of an image resized by ``rescale``; ValueError if nothing is left."""
    height, width = hwc.shape[:2]
    size = (int(width * rescale), int(height * rescale))
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"rescale {rescale} leaves no pixel of a {width}x{height} image")
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
