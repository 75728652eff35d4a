"""Summary builders under torch.utils.tensorboard.summary's names and signatures.

``from eventwriter.summary import hparams`` replaces
``from torch.utils.tensorboard.summary import hparams``. Each function checks and
converts its inputs (torch tensors on any device, numpy arrays, Python numbers and
sequences), then calls the pure builder of its plugin module in eventwriter.plugins.
Results are eventwriter ``Summary`` protos, for ``FileWriter.add_summary``. Errors are
TypeError or ValueError and start with the tag.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from eventwriter.convert import check_tag, describe, is_torch_tensor, to_float, to_numpy
from eventwriter.plugins import audio as _audio
from eventwriter.plugins import custom_scalars as _custom_scalars
from eventwriter.plugins import histograms as _histograms
from eventwriter.plugins import hparams as _hparams
from eventwriter.plugins import images as _images
from eventwriter.plugins import mesh as _mesh
from eventwriter.plugins import pr_curves as _pr_curves
from eventwriter.plugins import scalars as _scalars
from eventwriter.plugins import tensor as _tensor
from eventwriter.plugins import text as _text
from eventwriter.plugins import video as _video
from eventwriter.proto.summary_pb2 import HistogramProto, Summary

__all__ = [
    "audio",
    "compute_curve",
    "custom_scalars",
    "histogram",
    "histogram_raw",
    "hparams",
    "image",
    "image_boxes",
    "make_histogram",
    "mesh",
    "pr_curve",
    "pr_curve_raw",
    "scalar",
    "tensor_proto",
    "text",
    "video",
]


@contextmanager
def _about(tag: str, what: str = "") -> Iterator[None]:
    """Prefix TypeError/ValueError messages with the tag (and the argument)."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if message.startswith(repr(tag)):
            raise
        raise type(exc)(f"{tag!r}: {what + ': ' if what else ''}{message}") from None


def _positive(tag: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{tag!r}: {name} must be a positive number, got {describe(value)}")
    number = float(value)
    if not 0 < number < math.inf:
        raise ValueError(f"{tag!r}: {name} must be a positive number, got {describe(value)}")
    return number


def _real_array(tag: str, name: str, value: Any) -> np.ndarray:
    array = to_numpy(value, tag, name)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{tag!r}: {name} must hold real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{tag!r}: {name} is empty (shape {array.shape})")
    return array


# -- scalars, text, tensors --------------------------------------------------------


def scalar(
    name: str, tensor: Any, collections: Any = None, new_style: bool = False, double_precision: bool = False
) -> Summary:
    """A Summary with one scalar (``collections`` is accepted and ignored, as in torch)."""
    check_tag(name, "name")
    return _scalars.scalar_pb(
        name, to_float(name, tensor), new_style=bool(new_style), double_precision=bool(double_precision)
    )


def text(tag: str, text: str) -> Summary:
    """A Summary holding ``text`` under ``{tag}/text_summary``."""
    check_tag(tag)
    if not isinstance(text, str):
        raise TypeError(f"{tag!r}: text must be a str, got {describe(text)}")
    return _text.text_pb(tag + _text.TAG_SUFFIX, text)


def tensor_proto(tag: str, tensor: Any) -> Summary:
    """A Summary holding the whole ``tensor`` (torch, numpy or nested sequence)."""
    check_tag(tag)
    bfloat16 = is_torch_tensor(tensor) and str(tensor.dtype) == "torch.bfloat16"
    array = to_numpy(tensor, tag, "tensor")
    with _about(tag):
        return _tensor.tensor_pb(tag, array, bfloat16=bfloat16)


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
    array = _real_array(name, "values", values)
    flat = np.array(array, copy=True).reshape(-1)  # owned by the builder; float64 only there
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        raise ValueError(f"{name!r}: values must be finite, got {bad} NaN or infinite of {flat.size}")
    if max_bins is not None and (
        not isinstance(max_bins, (int, np.integer)) or isinstance(max_bins, bool) or max_bins < 1
    ):
        raise ValueError(f"{name!r}: max_bins must be a positive int or None, got {describe(max_bins)}")
    with _about(name):
        checked = _histograms.check_bins(bins)
    if isinstance(checked, np.ndarray):  # explicit edges: some value must fall inside
        low, high = checked[0], checked[-1]
        if not (low <= flat.min() and flat.max() <= high) and not np.any((flat >= low) & (flat <= high)):
            raise ValueError(f"{name!r}: no value lies inside the bins (from {low:g} to {high:g})")
    if not (isinstance(bins, str) and bins == "tensorflow"):
        # numpy's rules and counts can still refuse the data ("too many bins"): build now,
        # so that the error comes from this call and names the tag.
        with _about(name):
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
    limits = _real_array(name, "bucket_limits", bucket_limits).astype(np.float64).reshape(-1)
    counts = _real_array(name, "bucket_counts", bucket_counts).astype(np.float64).reshape(-1)
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
    with _about(tag, what):
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
    scale = 1.0 if rescale == 1 else _positive(tag, "rescale", rescale)
    if scale != 1:
        with _about(tag):
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
    scale = _positive(tag, "rescale", rescale)
    with _about(tag):
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
    array = _real_array(tag, "vid_tensor", tensor)
    rate = _positive(tag, "fps", fps)
    with _about(tag, "vid_tensor"):
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
    samples = _real_array(tag, "snd_tensor", tensor)
    if samples.dtype.kind != "f":
        samples = samples.astype(np.float64)
    elif samples.dtype.itemsize < 4:  # float16: 1.0 * 32767 would round to 32768 and wrap
        samples = samples.astype(np.float32)
    sample_rate = _positive(tag, "sample_rate", sample_rate)
    if sample_rate >= 2**31:
        raise ValueError(f"{tag!r}: sample_rate must be below 2**31 (a WAV header field), got {sample_rate:g}")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{tag!r}: snd_tensor must be finite, got NaN or infinite samples")
    peak = float(np.abs(samples).max())
    if peak > 1:
        warnings.warn(f"{tag!r}: audio samples reach {peak:g}, beyond [-1, 1]; clipped", UserWarning, stacklevel=3)
        samples = samples.clip(-1, 1)
    with _about(tag, "snd_tensor"):
        frames = _audio.to_frames(samples)
    return _audio.audio_pb(tag, frames, sample_rate)


# -- PR curves ---------------------------------------------------------------------


def _num_thresholds(tag: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"{tag!r}: num_thresholds must be an int of at least 2, got {describe(value)}")
    return int(value)


def compute_curve(labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None) -> np.ndarray:
    """The ``[6, num_thresholds]`` PR curve (torch's ``compute_curve``)."""
    return _pr_curves.compute_curve(np.asarray(labels), np.asarray(predictions), num_thresholds, weights)


def pr_curve(tag: str, labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None) -> Summary:
    """A Summary with the precision-recall curve of ``predictions`` against 0/1 ``labels``.

    Raises:
        ValueError: shapes differ, or predictions or labels lie outside [0, 1] (torch
            drops such predictions silently).
    """
    check_tag(tag)
    label_array = _real_array(tag, "labels", labels)
    prediction_array = _real_array(tag, "predictions", predictions).astype(np.float64)
    count = _num_thresholds(tag, num_thresholds)
    if label_array.shape != prediction_array.shape:
        shapes = f"{label_array.shape} and {prediction_array.shape}"
        raise ValueError(f"{tag!r}: labels and predictions must have the same shape, got {shapes}")
    if not np.all((prediction_array >= 0) & (prediction_array <= 1)):
        lowest, highest = prediction_array.min(), prediction_array.max()
        raise ValueError(f"{tag!r}: predictions must lie in [0, 1], got values from {lowest} to {highest}")
    if not np.all((label_array >= 0) & (label_array <= 1)):
        raise ValueError(f"{tag!r}: labels must be 0/1, bool, or soft labels in [0, 1]")
    weight_array = None
    if weights is not None:
        weight_array = _real_array(tag, "weights", weights).astype(np.float64)
        if weight_array.shape not in ((), (1,), label_array.shape):
            raise ValueError(f"{tag!r}: weights must be one number or one per label, got shape {weight_array.shape}")
    curve = _pr_curves.compute_curve(label_array, prediction_array, count, weight_array)
    return _pr_curves.pr_curve_pb(tag, curve, count)


def pr_curve_raw(
    tag: str,
    tp: Any,
    fp: Any,
    tn: Any,
    fn: Any,
    precision: Any,
    recall: Any,
    num_thresholds: int = 127,
    weights: Any = None,
) -> Summary:
    """A Summary with a PR curve given as counts, precision and recall per threshold.

    The metadata records the curves' length as the number of thresholds (TensorBoard
    goes by the data; torch writes ``num_thresholds`` whatever the length).

    Raises:
        ValueError: the six sequences differ in length.
    """
    check_tag(tag)
    names = ("true_positive_counts", "false_positive_counts", "true_negative_counts", "false_negative_counts",
             "precision", "recall")  # fmt: skip
    rows = [
        _real_array(tag, n, v).astype(np.float64).reshape(-1)
        for n, v in zip(names, (tp, fp, tn, fn, precision, recall))
    ]
    lengths = {row.size for row in rows}
    if len(lengths) != 1:
        raise ValueError(f"{tag!r}: the six curves must have the same length, got lengths {[r.size for r in rows]}")
    _num_thresholds(tag, num_thresholds)
    return _pr_curves.pr_curve_pb(tag, np.stack(rows), rows[0].size)


# -- mesh, hparams, custom scalars --------------------------------------------------


def mesh(
    tag: str,
    vertices: Any,
    colors: Any,
    faces: Any,
    config_dict: dict[str, Any] | None,
    display_name: str | None = None,
    description: str | None = None,
) -> Summary:
    """A Summary with a mesh or point cloud: (B, N, 3) vertices, colors, (B, F, 3) faces."""
    check_tag(tag)
    parts = {}
    for name, value in (("vertices", vertices), ("faces", faces), ("colors", colors)):
        if value is None:
            continue
        array = _real_array(tag, name, value)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{tag!r}: {name} must have shape (B, N, 3), got {array.shape}")
        parts[name] = array
    if "vertices" not in parts:
        raise ValueError(f"{tag!r}: vertices are required")
    batch, points = parts["vertices"].shape[:2]
    if "colors" in parts and parts["colors"].shape[:2] != (batch, points):
        raise ValueError(f"{tag!r}: colors must match vertices {(batch, points, 3)}, got {parts['colors'].shape}")
    if "faces" in parts:
        faces_array = parts["faces"]
        if faces_array.shape[0] not in (1, batch) or faces_array.min() < 0 or faces_array.max() >= points:
            raise ValueError(f"{tag!r}: faces must be (B or 1, F, 3) indices into the {points} vertices")
    if config_dict is not None and not isinstance(config_dict, Mapping):
        raise TypeError(f"{tag!r}: config_dict must be a dict, got {describe(config_dict)}")
    with _about(tag, "config_dict"):
        return _mesh.mesh_pb(tag, parts, config_dict)


def _plain_hparam(name: str, value: Any) -> bool | float | str | None:
    if is_torch_tensor(value) or isinstance(value, np.ndarray):
        array = to_numpy(value, name, "hparam").reshape(-1)
        if array.size == 0:
            raise ValueError(f"hparam {name!r} is an empty tensor")
        value = array[0].item()
    return _hparams.hparam_value(name, value)


def hparams(
    hparam_dict: Mapping[str, Any] | None = None,
    metric_dict: Mapping[str, Any] | None = None,
    hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[Summary, Summary, Summary]:
    """The experiment, session start and session end summaries of one hparams session.

    Raises:
        TypeError: the dicts are not dicts, a value has an unsupported type, or a
            discrete domain lists values of another type than its hyperparameter.
    """
    if not isinstance(hparam_dict, Mapping):
        raise TypeError(f"hparam_dict must be a dict, got {describe(hparam_dict)}")
    if not isinstance(metric_dict, Mapping):
        raise TypeError(f"metric_dict must be a dict, got {describe(metric_dict)}")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, Mapping):
        raise TypeError(f"hparam_domain_discrete must be a dict, got {describe(domains)}")
    values = {check_tag(name, "hparam name"): _plain_hparam(name, value) for name, value in hparam_dict.items()}
    for name, domain in domains.items():
        kind = type(values.get(name))
        if (
            name not in values
            or not isinstance(domain, list)
            or not all(type(_plain_hparam(name, d)) is kind for d in domain)
        ):
            raise TypeError(
                f"hparam_domain_discrete[{name!r}] must be a list of values of the type of hparam_dict[{name!r}]"
            )
    plain_domains = {name: [_plain_hparam(name, d) for d in domain] for name, domain in domains.items()}
    for metric in metric_dict:
        check_tag(metric, "metric name")
    return _hparams.hparams_pb(values, list(metric_dict), plain_domains)  # type: ignore[arg-type]


def custom_scalars(layout: Mapping[str, Mapping[str, Any]]) -> Summary:
    """A Summary with the custom scalars dashboard ``{category: {title: [type, tags]}}``."""
    return _custom_scalars.layout_pb(_custom_scalars.make_layout(layout))
