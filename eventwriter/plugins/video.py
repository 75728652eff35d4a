"""Videos, stored through the images plugin as animated GIFs.

On disk a video is ``Summary.Value.image``: a ``Summary.Image`` whose
``encoded_image_string`` is an animated GIF (``height``, ``width`` and ``colorspace``
of one frame); TensorBoard's image dashboard plays it. Like an image it carries no
plugin metadata (TensorBoard knows the legacy ``image`` field), so this module has no
``create_summary_metadata``.

A batch of videos ``(N, T, C, H, W)`` is laid out as torch lays it out: N padded with
blank videos to a power of two, tiled into a grid of ``2 ** ((N.bit_length() - 1) // 2)``
rows. Pixels are converted as images are (``images.to_uint8``). The GIF is written with
Pillow alone (torch needs moviepy < 2 and writes an empty value without it). GIF stores
up to 256 colours per frame exactly and time in hundredths of a second: above 50 fps,
frames are dropped to keep the clip playing in real time.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from eventwriter.convert import about_tag, check_tag, positive, real_array
from eventwriter.plugins import Deferred
from eventwriter.plugins.images import pillow, to_uint8
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.tensors import MAX_MESSAGE_BYTES

__all__ = [
    "PLUGIN_NAME",
    "PROTO_VERSION",
    "check_gif_size",
    "check_videos",
    "encode_gif",
    "frame_plan",
    "prepare_video",
    "tile_videos",
    "video",
    "video_pb",
]

PLUGIN_NAME = "images"
# Nothing carries it: the ``image`` field has no metadata, so torch writes no content.
PROTO_VERSION = 0
_MAX_DELAY = 0xFFFF  # a GIF frame's delay: 16 bits of hundredths of a second
_MAX_GIF_SIDE = 0xFFFF  # a GIF's width and height: 16 bits


def check_videos(videos: np.ndarray) -> None:
    """ValueError unless ``videos`` is a non-empty (N, T, C, H, W) array with C 1 or 3."""
    if videos.ndim != 5:
        raise ValueError(f"a video needs 5 dimensions (N, T, C, H, W), got shape {videos.shape}")
    if videos.size == 0:
        raise ValueError(f"the video is empty (shape {videos.shape})")
    if videos.shape[2] not in (1, 3):
        raise ValueError(f"video frames need 1 or 3 channels, got {videos.shape[2]} (shape {videos.shape})")


def check_gif_size(videos: np.ndarray, fps: float) -> None:
    """ValueError unless the GIF of checked ``videos`` at ``fps`` fits: at most 65535
    pixels a side (GIF's 16 bits), and within protobuf's 2 GiB message limit even at
    GIF's worst compression."""
    count, frames, _, height, width = videos.shape
    rows, columns = _grid(count)
    if max(rows * height, columns * width) > _MAX_GIF_SIDE:
        size = f"{columns * width}x{rows * height}"
        raise ValueError(f"the videos tile to {size} pixels (shape {videos.shape}), beyond GIF's {_MAX_GIF_SIDE}")
    pixels = -(-frames // frame_plan(frames, fps)[0]) * rows * height * columns * width
    if pixels * 3 // 2 + 1024 * (frames + 1) > MAX_MESSAGE_BYTES:  # 12-bit codes a pixel at worst
        raise ValueError(f"a GIF of shape {videos.shape} could exceed protobuf's 2 GiB message limit")


def _grid(count: int) -> tuple[int, int]:
    """(rows, columns) of torch's grid of ``count`` videos: padded to a power of two."""
    rows = 2 ** ((count.bit_length() - 1) // 2)
    return rows, (1 << (count - 1).bit_length()) // rows


def tile_videos(videos: np.ndarray) -> np.ndarray:
    """(N, T, C, H, W) -> (T, rows * H, columns * W, C), torch's grid of the batch."""
    check_videos(videos)
    count, frames, channels, height, width = videos.shape
    rows, columns = _grid(count)
    padded_count = rows * columns
    if padded_count != count:
        padding = np.zeros((padded_count - count, frames, channels, height, width), dtype=videos.dtype)
        videos = np.concatenate([videos, padding])
    grid = videos.reshape(rows, columns, frames, channels, height, width).transpose(2, 0, 4, 1, 5, 3)
    return np.ascontiguousarray(grid.reshape(frames, rows * height, columns * width, channels))


def frame_plan(frame_count: int, fps: float) -> tuple[int, int]:
    """(keep every n-th frame, delay per kept frame in ms) for a GIF shown at ``fps``.

    GIF delays are whole hundredths of a second, and players treat delays under 0.02 s
    as 0.1 s; above 50 fps frames are dropped so that the clip still plays in real time.
    Below 100 / 65535 fps, frames are shown for GIF's longest delay, 655.35 s.
    """
    stride = max(1, math.ceil(fps / 50))
    centiseconds = min(_MAX_DELAY, max(2, round(100 * stride / fps)))
    return min(stride, max(1, frame_count)), centiseconds * 10


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """An animated GIF, looping, of (T, H, W, C) uint8 frames with C 1 or 3.

    Frames of up to 256 colours are stored exactly; GIF's palette quantises richer ones.
    """
    PIL = pillow()
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    stride, duration = frame_plan(len(frames), fps)
    images: list[Any] = []
    durations: list[int] = []
    previous = None
    for frame in frames[::stride]:
        image = PIL.Image.fromarray(frame).convert("P", palette=PIL.Image.Palette.ADAPTIVE)  # as Pillow's GIF does
        shown = np.asarray(image.convert("RGB"))
        if previous is not None and np.array_equal(shown, previous):
            # Pillow would merge it into the frame before, adding up delays beyond GIF's 16 bits
            durations[-1] = min(durations[-1] + duration, _MAX_DELAY * 10)
            continue
        images.append(image)
        durations.append(duration)
        previous = shown
    output = io.BytesIO()
    images[0].save(output, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return output.getvalue()


def video_pb(tag: str, videos: np.ndarray, fps: float = 4) -> Summary:
    """A Summary holding a batch of videos (N, T, C, H, W) as one animated GIF."""
    frames = to_uint8(tile_videos(videos))
    image = Summary.Image(
        height=frames.shape[1],
        width=frames.shape[2],
        colorspace=frames.shape[3],
        encoded_image_string=encode_gif(frames, fps),
    )
    return Summary(value=[Summary.Value(tag=tag, image=image)])


# -- torch's builder -----------------------------------------------------------------


def prepare_video(tag: str, tensor: Any, fps: float = 4) -> Deferred:
    """Check and copy ``video``'s inputs now; encode the GIF when built.

    Raises:
        ImportError: Pillow is missing.
        TypeError, ValueError: as ``video``.
    """
    check_tag(tag)
    pillow()  # the encoder; missing, the error comes now, not from the writer thread
    array = real_array(tag, "vid_tensor", tensor)
    rate = positive(tag, "fps", fps)
    with about_tag(tag, "vid_tensor"):
        check_videos(array)
        check_gif_size(array, rate)
    videos = np.array(array, copy=True)
    return Deferred(lambda: video_pb(tag, videos, rate), videos.nbytes)


def video(tag: str, tensor: Any, fps: float = 4) -> Summary:
    """A Summary with a batch of videos as one animated GIF (torch's ``summary.video``).

    Args:
        tag: the tag.
        tensor: (N, T, C, H, W) frames, C 1 or 3; uint8 kept, other dtypes scaled by 255.
        fps: frames a second.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        ImportError: Pillow is missing.
        TypeError: ``tensor`` is not real numbers, or ``fps`` not a number.
        ValueError: the shape is not (N, T, C, H, W) with C 1 or 3, the tiled frames
            exceed GIF's 65535 pixels a side or the GIF could exceed protobuf's 2 GiB
            message limit, or ``fps`` is not positive.
    """
    return prepare_video(tag, tensor, fps).build()
