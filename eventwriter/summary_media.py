"""Summary builders for histograms, images, video and audio, under torch's names.

Part of eventwriter.summary (which re-exports them). Histograms, images and video also
come in two phases, ``prepare_*``: the checks and the copy of the inputs happen in the
caller's thread, and the returned builder does the costly part (bucketing, PNG or GIF
encoding) later, in the writer thread.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from eventwriter.convert import about_tag, check_tag, describe, positive, real_array, to_float, to_numpy
from eventwriter.plugins import audio as _audio
from eventwriter.plugins import histograms as _histograms
from eventwriter.plugins import images as _images
from eventwriter.plugins import video as _video
from eventwriter.proto.summary_pb2 import HistogramProto, Summary

__all__ = [
    "audio",
    "histogram",
    "histogram_raw",
    "image",
    "image_boxes",
    "make_histogram",
    "prepare_histogram",
    "prepare_image",
    "prepare_image_boxes",
    "prepare_video",
    "video",
]


# -- histograms --------------------------------------------------------------------


def make_histogram(values: Any, bins: Any, max_bins: int | None = None) -> HistogramProto:
    """A HistogramProto of finite ``values`` (torch's ``make_histogram``)."""
    return _histograms.make_histogram(np.asarray(values), bins, max_bins)


def histogram(name: str, values: Any, bins: Any, max_bins: int | None = None) -> Summary:
    """A Summary with a histogram of ``values``.

    Args:
        bins: "tensorflow" (TensorFlow's default edges), a numpy rule ("auto", "fd",
            ...), a number of bins, or increasing edges.
        max_bins: merge neighbouring bins until at most this many are left.

    Raises:
        ValueError: ``values`` are empty or hold NaN or infinities (torch writes a
            histogram TensorBoard cannot show), or lie outside explicit ``bins``.
    """
    return prepare_histogram(name, values, bins, max_bins)[0]()


def prepare_histogram(
    name: str, values: Any, bins: Any, max_bins: int | None = None
) -> tuple[Callable[[], Summary], int]:
    """Check and copy the inputs of ``histogram``; return the builder that buckets them
    (which cannot fail any more) and the bytes it holds."""
    check_tag(name, "tag")
    array = real_array(name, "values", values)
    flat = np.array(array, copy=True).reshape(-1)  # owned by the builder; float64 only there
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        raise ValueError(f"{name!r}: values must be finite, got {bad} NaN or infinite of {flat.size}")
    if max_bins is not None and (
        not isinstance(max_bins, (int, np.integer)) or isinstance(max_bins, bool) or max_bins < 1
    ):
        raise ValueError(f"{name!r}: max_bins must be a positive int or None, got {describe(max_bins)}")
    with about_tag(name):
        checked = _histograms.check_bins(bins)
    if isinstance(checked, np.ndarray):  # explicit edges: some value must fall inside
        low, high = checked[0], checked[-1]
        if not (low <= flat.min() and flat.max() <= high) and not np.any((flat >= low) & (flat <= high)):
            raise ValueError(f"{name!r}: no value lies inside the bins (from {low:g} to {high:g})")
    if not (isinstance(bins, str) and bins == "tensorflow"):
        # numpy's rules and counts can still refuse the data ("too many bins"): build now,
        # so that the error comes from this call and names the tag.
        with about_tag(name):
            summary = _histograms.histogram_pb(name, _histograms.make_histogram(flat, checked, max_bins))
        return (lambda: summary), 0

    def build() -> Summary:  # TensorFlow's buckets: cannot fail for finite values
        return _histograms.histogram_pb(name, _histograms.make_histogram(flat, bins, max_bins))

    return build, flat.nbytes


def histogram_raw(
    name: str,
    min: Any,
    max: Any,
    num: Any,
    sum: Any,
    sum_squares: Any,
    bucket_limits: Any,
    bucket_counts: Any,
) -> Summary:
    """A Summary with a histogram given as statistics and buckets (right edges, counts).

    Raises:
        ValueError: the bucket lists are empty or of different lengths.
    """
    check_tag(name, "tag")
    limits = real_array(name, "bucket_limits", bucket_limits).astype(np.float64).reshape(-1)
    counts = real_array(name, "bucket_counts", bucket_counts).astype(np.float64).reshape(-1)
    if limits.size != counts.size:
        raise ValueError(
            f"{name!r}: bucket_limits and bucket_counts must have the same length, got {limits.size} and {counts.size}"
        )
    stats = {key: to_float(f"{name}: {key}", value) for key, value in
             {"min": min, "max": max, "num": num, "sum": sum, "sum_squares": sum_squares}.items()}  # fmt: skip
    histogram = HistogramProto(bucket_limit=limits.tolist(), bucket=counts.tolist(), **stats)
    return _histograms.histogram_pb(name, histogram)


# -- images, video, audio ---------------------------------------------------------


def _hwc(tag: str, tensor: Any, dataformats: str, what: str) -> np.ndarray:
    """Pixels as H x W x C uint8, always a new array (the builders own it)."""
    array = to_numpy(tensor, tag, what)
    with about_tag(tag, what):
        pixels = _images.to_uint8(_images.to_hwc(array, dataformats))
    return np.array(pixels, copy=True) if np.shares_memory(pixels, array) else pixels


def image(tag: str, tensor: Any, rescale: float = 1, dataformats: str = "NCHW") -> Summary:
    """A Summary with one PNG image (a batch is tiled eight wide)."""
    return prepare_image(tag, tensor, rescale, dataformats)[0]()


def prepare_image(
    tag: str, tensor: Any, rescale: float = 1, dataformats: str = "NCHW"
) -> tuple[Callable[[], Summary], int]:
    """Check and convert the inputs of ``image``; return the builder that encodes the PNG
    and the bytes it holds."""
    check_tag(tag)
    hwc = _hwc(tag, tensor, dataformats, "img_tensor")
    scale = 1.0 if rescale == 1 else positive(tag, "rescale", rescale)
    if scale != 1:
        with about_tag(tag):
            _images.rescaled_size(hwc, scale)

    def build() -> Summary:
        pixels = hwc if scale == 1 else _images.rendered_image(hwc, scale)
        return _images.image_pb(tag, pixels)

    return build, hwc.nbytes


def image_boxes(
    tag: str,
    tensor_image: Any,
    tensor_boxes: Any,
    rescale: float = 1,
    dataformats: str = "CHW",
    labels: Sequence[str] | None = None,
) -> Summary:
    """A Summary with one image and red boxes (xmin, ymin, xmax, ymax), optionally labelled.

    Raises:
        ValueError: boxes are not N x 4, or labels do not name every box (torch drops
            the labels then).
    """
    return prepare_image_boxes(tag, tensor_image, tensor_boxes, rescale, dataformats, labels)[0]()


def prepare_image_boxes(
    tag: str,
    tensor_image: Any,
    tensor_boxes: Any,
    rescale: float = 1,
    dataformats: str = "CHW",
    labels: Sequence[str] | None = None,
) -> tuple[Callable[[], Summary], int]:
    """Check and copy the inputs of ``image_boxes``; return the builder that draws and
    encodes, and the bytes it holds."""
    check_tag(tag)
    _images.pillow()  # draws the boxes; missing, the error comes now, not from the writer thread
    hwc = _hwc(tag, tensor_image, dataformats, "img_tensor")
    boxes = np.array(to_numpy(tensor_boxes, tag, "box_tensor"), copy=True)
    if boxes.size == 0:
        boxes = np.zeros((0, 4))
    elif boxes.dtype.kind not in "biuf":
        raise TypeError(f"{tag!r}: box_tensor must hold numbers, got dtype {boxes.dtype}")
    if isinstance(labels, str):
        labels = [labels]
    if labels is not None and not all(isinstance(label, str) for label in labels):
        raise TypeError(f"{tag!r}: labels must be a list of str, got {describe(labels)}")
    names = None if labels is None else list(labels)
    scale = positive(tag, "rescale", rescale)
    with about_tag(tag):
        _images.check_boxes(boxes, names)
        _images.rescaled_size(hwc, scale)

    def build() -> Summary:
        return _images.image_pb(tag, _images.rendered_image(hwc, scale, boxes, names))

    return build, hwc.nbytes


def video(tag: str, tensor: Any, fps: float = 4) -> Summary:
    """A Summary with videos (N, T, C, H, W) as one animated GIF, ``fps`` frames a second."""
    return prepare_video(tag, tensor, fps)[0]()


def prepare_video(tag: str, tensor: Any, fps: float = 4) -> tuple[Callable[[], Summary], int]:
    """Check and copy the inputs of ``video``; return the builder that encodes the GIF
    and the bytes it holds."""
    check_tag(tag)
    _images.pillow()  # the encoder; missing, the error comes now, not from the writer thread
    array = real_array(tag, "vid_tensor", tensor)
    rate = positive(tag, "fps", fps)
    with about_tag(tag, "vid_tensor"):
        _video.check_videos(array)
    videos = np.array(array, copy=True)

    def build() -> Summary:
        return _video.video_pb(tag, videos, rate)

    return build, videos.nbytes


def audio(tag: str, tensor: Any, sample_rate: float = 44100) -> Summary:
    """A Summary with a WAV clip: mono (L,) or stereo (2, L); samples in [-1, 1].

    Samples outside [-1, 1] are clipped with a warning, as torch does.
    """
    check_tag(tag)
    samples = real_array(tag, "snd_tensor", tensor)
    if samples.dtype.kind != "f":
        samples = samples.astype(np.float64)
    elif samples.dtype.itemsize < 4:  # float16: 1.0 * 32767 would round to 32768 and wrap
        samples = samples.astype(np.float32)
    sample_rate = positive(tag, "sample_rate", sample_rate)
    if sample_rate >= 2**31:
        raise ValueError(f"{tag!r}: sample_rate must be below 2**31 (a WAV header field), got {sample_rate:g}")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{tag!r}: snd_tensor must be finite, got NaN or infinite samples")
    peak = float(np.abs(samples).max())
    if peak > 1:
        warnings.warn(f"{tag!r}: audio samples reach {peak:g}, beyond [-1, 1]; clipped", UserWarning, stacklevel=3)
        samples = samples.clip(-1, 1)
    with about_tag(tag, "snd_tensor"):
        frames = _audio.to_frames(samples)
    return _audio.audio_pb(tag, frames, sample_rate)
