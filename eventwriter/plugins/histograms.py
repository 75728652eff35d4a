"""Histograms plugin (also the Distributions dashboard).

On disk a histogram is ``Summary.Value.histo``, a HistogramProto: ``min``, ``max``,
``num``, ``sum``, ``sum_squares`` and parallel lists ``bucket_limit`` (right edges) and
``bucket`` (counts). That legacy field carries no plugin metadata (TensorBoard knows it
by the field), so this module has no ``create_summary_metadata``. TensorBoard's loader
turns it into a ``[k, 3]`` float tensor of (left edge, right edge, count) rows.

Bucketing is torch's: ``numpy.histogram`` over the given edges, a bin-count rule
("auto", "fd", ...) or a number of bins; optionally merged down to ``max_bins``; then
trimmed to the occupied range plus one empty bucket on the left, whose right edge is the
left edge of the first occupied bucket. The default edges ("tensorflow") are
``±1e-12 * 1.1**n`` below 1e20, and 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from eventwriter.buffers import owned_copy
from eventwriter.convert import about_tag, check_tag, describe, real_array, tag_prefix, to_float, to_numpy
from eventwriter.plugins import Deferred
from eventwriter.proto.summary_pb2 import HistogramProto, Summary
from eventwriter.tensorflow_buckets import tensorflow_edge_array, tensorflow_edges, tensorflow_tally
from eventwriter.tensors import MAX_MESSAGE_BYTES

__all__ = [
    "BIN_RULES",
    "MAX_BUCKETS",
    "PLUGIN_NAME",
    "PROTO_VERSION",
    "check_bins",
    "histogram",
    "histogram_pb",
    "histogram_proto",
    "histogram_raw",
    "make_histogram",
    "prepare_histogram",
    "tensorflow_bins",
]

PLUGIN_NAME = "histograms"
# Nothing carries it: the ``histo`` field has no metadata, so torch writes no content.
PROTO_VERSION = 0
BIN_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")
# Each bucket is two packed doubles (right edge, count); a message must stay below 2 GiB.
MAX_BUCKETS = (MAX_MESSAGE_BYTES - (1 << 12)) // 16 - 1

# Bins as check_bins returns them: "tensorflow", a rule name, a count, or an array of edges.
Bins = Union[str, int, Sequence[float], np.ndarray]
# The smallest and the largest value, as floats (each a pass over the values: done once).
Span = tuple[float, float]


def tensorflow_bins() -> list[float]:
    """The 1,549 default bucket edges of TensorFlow's histograms, as a new list."""
    return list(tensorflow_edges())


def _is_tensorflow(bins: Any) -> bool:
    return isinstance(bins, str) and bins == "tensorflow"


def _check_values(tag: str, values: Any) -> tuple[np.ndarray, Span]:
    """``values`` as a flat array of finite real numbers (a view where possible), and
    their smallest and largest as floats."""
    flat = real_array(tag, "values", values).reshape(-1)
    # min and max are NaN if any value is, and infinite if any is: two cheap passes
    span = float(flat.min()), float(flat.max())
    if flat.dtype.kind == "f" and not (math.isfinite(span[0]) and math.isfinite(span[1])):
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        raise ValueError(f"{tag_prefix(tag)}values must be finite, got {bad} NaN or infinite of {flat.size}")
    return flat, span


def _check_max_bins(max_bins: Any) -> int | None:
    if max_bins is None:
        return None
    if isinstance(max_bins, bool) or not isinstance(max_bins, (int, np.integer)):
        raise TypeError(f"max_bins must be a positive int or None, got {describe(max_bins)}")
    if max_bins < 1:
        raise ValueError(f"max_bins must be a positive int or None, got {describe(max_bins)}")
    return int(max_bins)


def check_bins(bins: Any, values: np.ndarray, span: Span | None = None) -> Bins:
    """``bins`` as the bucketing takes them, checked against the (checked) ``values``.

    Returns "tensorflow", a rule name from BIN_RULES, a count, or an array of edges.
    Where the bins are edges (TensorFlow's too), some value must lie between the outer
    two: numpy leaves values outside out. ``span``: the values' smallest and largest,
    if known.

    Raises:
        TypeError: ``bins`` is not a str, an int or a sequence of numbers.
        ValueError: an unknown rule, a count below 1, edges that are not at least two
            finite increasing numbers, or edges with no value inside.
    """
    if isinstance(bins, str):
        if bins == "tensorflow":
            _check_inside(tensorflow_edge_array(), values, span)
        elif bins not in BIN_RULES:
            raise ValueError(
                f"bins must be 'tensorflow', one of {', '.join(BIN_RULES)}, a count or edges, got {bins!r}"
            )
        return bins
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins must be a positive number of bins, got {bins}")
        _check_bin_count(f"bins {bins}", int(bins))
        return int(bins)
    try:
        edges = to_numpy(bins, "", "bins")
    except TypeError:
        edges = np.asarray(None)  # refused just below
    if edges.ndim == 0 or edges.dtype.kind not in "biuf":  # a float, a bool, None, strings, complex numbers
        raise TypeError(f"bins must be a str, an int or a sequence of edges, got {describe(bins)}")
    with np.errstate(over="ignore"):  # a longdouble beyond float64 becomes inf, refused just below
        edges = edges.astype(np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or not np.all(edges[1:] > edges[:-1]):
        raise ValueError("bins given as edges must be at least two finite, increasing numbers")
    _check_bin_count("bins given as edges", edges.size - 1)
    _check_inside(edges, values, span)
    return edges


def _check_inside(edges: np.ndarray, values: np.ndarray, span: Span | None) -> None:
    """ValueError unless some value lies within the outer edges, compared in float64 as
    numpy.histogram compares them (a float16 1e-300 would be 0)."""
    low, high = float(edges[0]), float(edges[-1])
    # min and max first: one pass each, and enough for almost every call
    lowest, highest = span or (float(values.min()), float(values.max()))
    if low <= lowest and highest <= high:
        return
    floats = values.astype(np.float64, copy=False)
    if not np.any((floats >= low) & (floats <= high)):
        raise ValueError(f"no value lies inside the bins (from {low:g} to {high:g})")


def _numpy_histogram(values: np.ndarray, bins: Bins) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram`` of float64 ``values``, or a ValueError where numpy's arithmetic
    fails on them (a range beyond float64 or too small for the bins, too many bins)
    instead of numpy's IndexError, warnings or edges that do not increase."""
    lowest, highest = float(values.min()), float(values.max())
    uniform = isinstance(bins, (str, int))  # a rule or a count: equal bins over the values' range
    what = f"bins {bins!r}" if uniform else "bins given as edges"
    if uniform and not math.isfinite(highest - lowest):
        raise ValueError(
            f"values range from {lowest:g} to {highest:g}, beyond float64, which numpy's bin rules and bin "
            "counts need; give bins as edges, or 'tensorflow'"
        )
    with np.errstate(all="ignore"):
        if isinstance(bins, str) and bins in ("fd", "auto"):  # the rules that can make any number of bins
            quartiles = np.percentile(values, [75, 25])
            width = 2.0 * float(quartiles[0] - quartiles[1]) * values.size ** (-1 / 3)  # numpy's formula
            _check_bin_count(what, (highest - lowest) / width if width > 0 else 1)
        try:
            counts, limits = np.histogram(values, bins=bins)
        except (ArithmeticError, IndexError, ValueError) as exc:  # numpy 1.x fails with IndexError
            raise ValueError(f"{what} cannot bucket values from {lowest:g} to {highest:g} ({exc})") from None
    if uniform and (np.any(np.diff(limits) <= 0) or counts.sum() != values.size):
        raise ValueError(f"{what} cannot bucket values from {lowest:g} to {highest:g}: their edges coincide")
    return counts, limits


def _check_bin_count(what: str, count: float) -> None:
    if count > MAX_BUCKETS:
        limit = f"beyond protobuf's 2 GiB message limit (at most {MAX_BUCKETS})"
        raise ValueError(f"{what} make {count:.4g} buckets, {limit}")


def histogram_proto(
    values: np.ndarray, bins: Bins, max_bins: int | None = None, span: Span | None = None
) -> HistogramProto:
    """Bucket ``values`` (finite, at least one, any real dtype) into a HistogramProto, as
    torch does (torch converts the values to float64 first).

    ``bins`` and ``max_bins`` are checked already (check_bins); ``span``: the values'
    smallest and largest, if known. With "tensorflow" bins
    the statistics are summed chunk by chunk, so ``sum`` and ``sum_squares`` (which
    TensorBoard does not show) can differ from torch's in the last digits; bucket
    limits, counts, ``min``, ``max`` and ``num`` are the same.
    """
    flat = values.reshape(-1)
    edges = tensorflow_edge_array()
    tally = None
    if _is_tensorflow(bins):
        tally = tensorflow_tally(flat, span)
        if not (edges[0] <= tally[1] and tally[2] <= edges[-1]):
            tally = None  # values beyond the outer edges: numpy leaves them out
    if tally is not None:
        counts, lowest, highest, total, squares = tally
        limits = edges
    else:
        floats = flat.astype(np.float64)
        counts, limits = _numpy_histogram(floats, edges if _is_tensorflow(bins) else bins)
        with np.errstate(over="ignore"):  # sums of huge values are inf, as torch's are
            lowest, highest, total, squares = floats.min(), floats.max(), floats.sum(), floats.dot(floats)
    if max_bins is not None and len(counts) > max_bins:
        subsampling = len(counts) // max_bins
        remainder = len(counts) % subsampling
        if remainder:
            counts = np.pad(counts, (0, subsampling - remainder))
        counts = counts.reshape(-1, subsampling).sum(axis=-1)
        merged = np.empty(counts.size + 1, limits.dtype)
        merged[:-1] = limits[:-1:subsampling]
        merged[-1] = limits[-1]
        limits = merged
    occupied = np.flatnonzero(counts)  # not empty: check_bins saw a value inside
    start, end = int(occupied[0]), int(occupied[-1]) + 1
    if start > 0:
        counts = counts[start - 1 : end]
    else:
        counts = np.concatenate([[0], counts[:end]])
    limits = limits[start : end + 1]
    return HistogramProto(min=lowest, max=highest, num=flat.size, sum=total, sum_squares=squares,
                          bucket_limit=limits.tolist(), bucket=counts.tolist())  # fmt: skip


def _summary(tag: str, histogram: HistogramProto) -> Summary:
    return Summary(value=[Summary.Value(tag=tag, histo=histogram)])


def histogram_pb(
    tag: str, values: np.ndarray, bins: Bins = "tensorflow", max_bins: int | None = None, span: Span | None = None
) -> Summary:
    """A Summary holding the histogram of checked ``values`` (see histogram_proto)."""
    return _summary(tag, histogram_proto(values, bins, max_bins, span))


# -- torch's builders --------------------------------------------------------------


def make_histogram(values: Any, bins: Any, max_bins: int | None = None) -> HistogramProto:
    """The HistogramProto of ``values`` (torch's ``summary.make_histogram``).

    Args:
        values: finite real numbers, any shape (tensor, array or sequence).
        bins: "tensorflow", a numpy rule (BIN_RULES), a number of bins, or edges.
        max_bins: merge neighbouring bins until at most this many are left.

    Returns:
        The histogram, trimmed to the occupied buckets plus one empty one on the left.

    Raises:
        TypeError: ``values`` are not real numbers, or ``bins`` or ``max_bins`` have the
            wrong type.
        ValueError: ``values`` are empty or not finite, ``bins`` or ``max_bins`` are out
            of range, no value lies inside the edges, or numpy's rule refuses the data.
    """
    flat, span = _check_values("", values)
    limit = _check_max_bins(max_bins)
    return histogram_proto(flat, check_bins(bins, flat, span), limit, span)


def prepare_histogram(name: str, values: Any, bins: Any, max_bins: int | None = None) -> Deferred:
    """Check and copy ``histogram``'s inputs now; bucket them when built.

    With bins other than "tensorflow" the histogram is built at once (weight 0): numpy's
    rules and counts can still refuse the data ("too many bins"), and that error must
    come from this call, naming the tag.

    Raises:
        TypeError, ValueError: as ``histogram``.
    """
    check_tag(name, "tag")
    flat, span = _check_values(name, values)
    with about_tag(name):
        limit = _check_max_bins(max_bins)
        checked = check_bins(bins, flat, span)
    if not _is_tensorflow(checked):
        with about_tag(name):
            summary = histogram_pb(name, flat, checked, limit, span)
        return Deferred(lambda: summary, 0)
    copy = owned_copy(flat)  # the builder's own; float64 only there

    def build() -> Summary:
        try:
            return histogram_pb(name, copy.array, checked, limit, span)
        finally:
            copy.release()

    return Deferred(build, flat.nbytes)


def histogram(name: str, values: Any, bins: Any, max_bins: int | None = None) -> Summary:
    """A Summary with a histogram of ``values`` (torch's ``summary.histogram``).

    Args:
        name: the tag.
        values: finite real numbers, any shape (tensor on any device, array, sequence).
        bins: "tensorflow" (TensorFlow's default edges), a numpy rule ("auto", "fd",
            ...), a number of bins, or increasing edges.
        max_bins: merge neighbouring bins until at most this many are left.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: ``values`` are empty or hold NaN or infinities (torch writes a
            histogram TensorBoard cannot show), ``bins`` or ``max_bins`` are out of range,
            or no value lies inside explicit ``bins``.
    """
    return prepare_histogram(name, values, bins, max_bins).build()


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

    Torch's ``summary.histogram_raw``; the values are written as given.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: a statistic is not a real number, or a bucket list not numbers.
        ValueError: the bucket lists are empty, of different lengths, or too long for a
            protobuf message.
    """
    check_tag(name, "tag")
    limits = real_array(name, "bucket_limits", bucket_limits).astype(np.float64).reshape(-1)
    counts = real_array(name, "bucket_counts", bucket_counts).astype(np.float64).reshape(-1)
    if limits.size != counts.size:
        raise ValueError(
            f"{name!r}: bucket_limits and bucket_counts must have the same length, got {limits.size} and {counts.size}"
        )
    with about_tag(name):
        _check_bin_count("bucket_limits and bucket_counts", limits.size)
    statistics = {"min": min, "max": max, "num": num, "sum": sum, "sum_squares": sum_squares}
    stats = {key: to_float(name, value, key) for key, value in statistics.items()}
    return _summary(name, HistogramProto(bucket_limit=limits.tolist(), bucket=counts.tolist(), **stats))
