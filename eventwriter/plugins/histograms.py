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
from functools import lru_cache
from typing import Any, Union

import numpy as np

from eventwriter.convert import about_tag, check_tag, describe, real_array, tag_prefix, to_float
from eventwriter.helper import in_halves
from eventwriter.plugins import Deferred
from eventwriter.proto.summary_pb2 import HistogramProto, Summary

__all__ = [
    "BIN_RULES",
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

# Bins as check_bins returns them: "tensorflow", a rule name, a count, or an array of edges.
Bins = Union[str, int, Sequence[float], np.ndarray]


@lru_cache(maxsize=1)
def _tensorflow_edges() -> tuple[float, ...]:
    # Built by repeated multiplication, as torch and TensorFlow do, so that every edge
    # is bit-identical to theirs (1.1**n would round differently).
    positive = []
    edge = 1e-12
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return tuple([-e for e in reversed(positive)] + [0.0] + positive)


@lru_cache(maxsize=1)
def _tensorflow_edge_array() -> np.ndarray:
    return np.asarray(_tensorflow_edges())


# The positive edges are 1e-12 * 1.1**n, so a value's bucket is k = floor(log(|x| / 1e-12) /
# log(1.1)) buckets away from the edge 0: bucket 775 + k for x > 0, 772 - k for x < 0, that
# is 773.5 + copysign(k + 1.5, x). Values below 1e-12 in size are raised to
# 1e-12 * 1.1**-0.5 first, so that k = -1 puts them in bucket 774 ([0, 1e-12)) or 773
# ([-1e-12, 0)). Within 1e-9 of a bucket boundary the logarithm could round either way;
# those few values are placed with an exact search. Chunks keep the temporaries in cache.
_ZERO_EDGE = 774  # index of the edge 0.0
_INVERSE_LOG = 1 / math.log(1.1)
_LOG_OFFSET = math.log(1e12) * _INVERSE_LOG
_SMALLEST = 1e-12 * 1.1**-0.5
_CHUNK = 1 << 16


# (bucket counts, min, max, sum, sum of squares) of some values
_Tally = tuple[np.ndarray, float, float, float, float]


def _tensorflow_tally(values: np.ndarray) -> _Tally:
    """Counts in the TensorFlow buckets (``numpy.histogram(values, edges)[0]`` for values
    within the outer edges; beyond them they are clipped into the end buckets) and the
    statistics, in one pass over chunks of 65,536 values converted to float64.

    Large inputs are counted in two halves, one by eventwriter.helper's thread.
    """
    if values.size < 4 * _CHUNK:
        return _tally_chunks(values)
    middle = values.size // 2 // _CHUNK * _CHUNK
    first, second = in_halves(_tally_chunks, values[:middle], values[middle:])
    return (first[0] + second[0], min(first[1], second[1]), max(first[2], second[2]),
            first[3] + second[3], first[4] + second[4])  # fmt: skip


def _tally_chunks(values: np.ndarray) -> _Tally:
    edges = _tensorflow_edge_array()
    last = len(edges) - 2
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    lowest, highest, total, squares = math.inf, -math.inf, 0.0, 0.0
    # float32 input is bucketed in float32 (twice the values per vector instruction); its
    # logarithm is good to 1e-4 of a bucket, so the exact search takes values within 1e-4
    # of a boundary. Statistics are always summed in float64.
    single = values.dtype in (np.float32, np.float16)
    kind = np.float32 if single else np.float64
    inverse, offset, smallest = kind(_INVERSE_LOG), kind(_LOG_OFFSET), kind(_SMALLEST)
    margin, half, shift = kind(0.5 - (1e-4 if single else 1e-9)), kind(0.5), kind(_ZERO_EDGE - 0.5)
    for start in range(0, values.size, _CHUNK):
        part = values[start : start + _CHUNK]
        exact = part.astype(np.float64)
        chunk = part.astype(np.float32, copy=False) if single else exact
        lowest, highest = min(lowest, exact.min()), max(highest, exact.max())
        total += exact.sum()
        squares += np.square(exact).sum()  # not exact.dot(exact): BLAS threads would spin on the other core
        scaled = np.abs(chunk)
        np.maximum(scaled, smallest, out=scaled)
        np.log(scaled, out=scaled)
        scaled *= inverse
        scaled += offset
        steps = np.floor(scaled)
        scaled -= steps  # the fractional part, then its distance from 0.5
        scaled -= half
        near = np.abs(scaled, out=scaled) > margin
        steps += kind(1.5)
        np.copysign(steps, chunk + kind(0.0), out=steps)  # + 0.0 turns -0.0 into 0.0, as numpy bins it
        steps += shift
        buckets = steps.astype(np.intp)
        if near.any():
            buckets[near] = np.searchsorted(edges, exact[near], side="right") - 1
        np.clip(buckets, 0, last, out=buckets)  # the last edge is in the last bucket; beyond: see caller
        counts += np.bincount(buckets, minlength=len(counts))
    return counts, float(lowest), float(highest), float(total), float(squares)


def tensorflow_bins() -> list[float]:
    """The 1,549 default bucket edges of TensorFlow's histograms, as a new list."""
    return list(_tensorflow_edges())


def _is_tensorflow(bins: Any) -> bool:
    return isinstance(bins, str) and bins == "tensorflow"


def _check_values(tag: str, values: Any, copy: bool) -> np.ndarray:
    """``values`` as a flat array of finite real numbers, a new one if ``copy``."""
    array = real_array(tag, "values", values)
    flat = np.array(array, copy=True).reshape(-1) if copy else array.reshape(-1)
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        raise ValueError(f"{tag_prefix(tag)}values must be finite, got {bad} NaN or infinite of {flat.size}")
    return flat


def _check_max_bins(max_bins: Any) -> int | None:
    if max_bins is None:
        return None
    if isinstance(max_bins, bool) or not isinstance(max_bins, (int, np.integer)):
        raise TypeError(f"max_bins must be a positive int or None, got {describe(max_bins)}")
    if max_bins < 1:
        raise ValueError(f"max_bins must be a positive int or None, got {describe(max_bins)}")
    return int(max_bins)


def check_bins(bins: Any, values: np.ndarray) -> Bins:
    """``bins`` as the bucketing takes them, checked against the (checked) ``values``.

    Returns "tensorflow", a rule name from BIN_RULES, a count, or an array of edges.
    Where the bins are edges (TensorFlow's too), some value must lie between the outer
    two: numpy leaves values outside out.

    Raises:
        TypeError: ``bins`` is not a str, an int or a sequence of numbers.
        ValueError: an unknown rule, a count below 1, edges that are not at least two
            finite increasing numbers, or edges with no value inside.
    """
    if isinstance(bins, str):
        if bins == "tensorflow":
            _check_inside(_tensorflow_edge_array(), values)
        elif bins not in BIN_RULES:
            raise ValueError(
                f"bins must be 'tensorflow', one of {', '.join(BIN_RULES)}, a count or edges, got {bins!r}"
            )
        return bins
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins must be a positive number of bins, got {bins}")
        return int(bins)
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        edges = np.asarray(None)  # refused just below
    if edges.ndim == 0:  # a lone number that is no count (a float, a bool), or None
        raise TypeError(f"bins must be a str, an int or a sequence of edges, got {describe(bins)}")
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0) or not np.all(np.isfinite(edges)):
        raise ValueError("bins given as edges must be at least two finite, increasing numbers")
    _check_inside(edges, values)
    return edges


def _check_inside(edges: np.ndarray, values: np.ndarray) -> None:
    low, high = edges[0], edges[-1]
    # min and max first: one pass each, and enough for almost every call
    if not (low <= values.min() and values.max() <= high) and not np.any((values >= low) & (values <= high)):
        raise ValueError(f"no value lies inside the bins (from {low:g} to {high:g})")


def histogram_proto(values: np.ndarray, bins: Bins, max_bins: int | None = None) -> HistogramProto:
    """Bucket ``values`` (finite, at least one, any real dtype) into a HistogramProto, as
    torch does (torch converts the values to float64 first).

    ``bins`` and ``max_bins`` are checked already (check_bins). With "tensorflow" bins
    the statistics are summed chunk by chunk, so ``sum`` and ``sum_squares`` (which
    TensorBoard does not show) can differ from torch's in the last digits; bucket
    limits, counts, ``min``, ``max`` and ``num`` are the same.
    """
    flat = values.reshape(-1)
    edges = _tensorflow_edge_array()
    tally = None
    if _is_tensorflow(bins):
        tally = _tensorflow_tally(flat)
        if not (edges[0] <= tally[1] and tally[2] <= edges[-1]):
            tally = None  # values beyond the outer edges: numpy leaves them out
    if tally is not None:
        counts, lowest, highest, total, squares = tally
        limits = edges
    else:
        floats = flat.astype(np.float64)
        counts, limits = np.histogram(floats, bins=edges if _is_tensorflow(bins) else bins)
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
    return HistogramProto(
        min=lowest,
        max=highest,
        num=flat.size,
        sum=total,
        sum_squares=squares,
        bucket_limit=limits.tolist(),
        bucket=counts.tolist(),
    )


def _summary(tag: str, histogram: HistogramProto) -> Summary:
    return Summary(value=[Summary.Value(tag=tag, histo=histogram)])


def histogram_pb(tag: str, values: np.ndarray, bins: Bins = "tensorflow", max_bins: int | None = None) -> Summary:
    """A Summary holding the histogram of checked ``values`` (see histogram_proto)."""
    return _summary(tag, histogram_proto(values, bins, max_bins))


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
    flat = _check_values("", values, copy=False)
    limit = _check_max_bins(max_bins)
    return histogram_proto(flat, check_bins(bins, flat), limit)


def prepare_histogram(name: str, values: Any, bins: Any, max_bins: int | None = None) -> Deferred:
    """Check and copy ``histogram``'s inputs now; bucket them when built.

    With bins other than "tensorflow" the histogram is built at once (weight 0): numpy's
    rules and counts can still refuse the data ("too many bins"), and that error must
    come from this call, naming the tag.

    Raises:
        TypeError, ValueError: as ``histogram``.
    """
    check_tag(name, "tag")
    flat = _check_values(name, values, copy=True)  # owned by the builder; float64 only there
    with about_tag(name):
        limit = _check_max_bins(max_bins)
        checked = check_bins(bins, flat)
    if not _is_tensorflow(checked):
        with about_tag(name):
            summary = histogram_pb(name, flat, checked, limit)
        return Deferred(lambda: summary, 0)
    return Deferred(lambda: histogram_pb(name, flat, checked, limit), flat.nbytes)


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
        ValueError: the bucket lists are empty or of different lengths.
    """
    check_tag(name, "tag")
    limits = real_array(name, "bucket_limits", bucket_limits).astype(np.float64).reshape(-1)
    counts = real_array(name, "bucket_counts", bucket_counts).astype(np.float64).reshape(-1)
    if limits.size != counts.size:
        raise ValueError(
            f"{name!r}: bucket_limits and bucket_counts must have the same length, got {limits.size} and {counts.size}"
        )
    statistics = {"min": min, "max": max, "num": num, "sum": sum, "sum_squares": sum_squares}
    stats = {key: to_float(name, value, key) for key, value in statistics.items()}
    return _summary(name, HistogramProto(bucket_limit=limits.tolist(), bucket=counts.tolist(), **stats))
