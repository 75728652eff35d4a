"""Images plugin.

On disk an image is ``Summary.Value.image``: a ``Summary.Image`` with ``height``,
``width``, ``colorspace`` (channels: 3 RGB, 4 RGBA) and ``encoded_image_string``, a PNG.
It carries no plugin metadata; TensorBoard's loader turns it into the images plugin's
blob sequence ``[width, height, png]`` on read.

Pixel conversion is torch's: uint8 is kept; any other dtype is multiplied by 255,
clipped to [0, 255] and truncated to uint8. One-channel images become three-channel
grey RGB. A batch (NCHW and its permutations) is tiled eight images wide.
"""

from __future__ import annotations

import io

import numpy as np

from eventwriter.proto.summary_pb2 import Summary

__all__ = ["PLUGIN_NAME", "encode_png", "image_pb", "make_grid", "to_hwc", "to_uint8"]

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


def encode_png(hwc: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of an HxWx3 (RGB) or HxWx4 (RGBA) uint8 array."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - the images extra is part of the test set-up
        raise ImportError("images need Pillow: pip install 'eventwriter[images]'") from exc
    output = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(hwc)).save(output, format="PNG", compress_level=compress_level)
    return output.getvalue()


def image_pb(
    tag: str, hwc: np.ndarray, *, png: bytes | None = None, height: int | None = None, width: int | None = None
) -> Summary:
    """A Summary holding one image.

    Args:
        tag: the tag.
        hwc: uint8 pixels, height x width x 3 or 4.
        png: the encoded image, if already made (else ``hwc`` is encoded).
        height, width: the size to record (default: the size of ``hwc``).
    """
    image = Summary.Image(
        height=hwc.shape[0] if height is None else height,
        width=hwc.shape[1] if width is None else width,
        colorspace=hwc.shape[2],
        encoded_image_string=encode_png(hwc) if png is None else png,
    )
    return Summary(value=[Summary.Value(tag=tag, image=image)])
