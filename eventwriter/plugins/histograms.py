"""Histograms plugin (also the Distributions dashboard).

On disk a histogram is ``Summary.Value.histo``, a HistogramProto: ``min``, ``max``,
``num``, ``sum``, ``sum_squares`` and parallel lists ``bucket_limit`` (right edges) and
``bucket`` (counts), without plugin metadata. TensorBoard's loader turns it into a
``[k, 3]`` float tensor of (left edge, right edge, count) rows.

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
from typing import Union

import numpy as np

from eventwriter.helper import in_halves
from eventwriter.proto.summary_pb2 import HistogramProto, Summary

__all__ = ["BIN_RULES", "PLUGIN_NAME", "histogram_pb", "make_histogram", "tensorflow_bins"]

PLUGIN_NAME = "histograms"
BIN_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")

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


def check_bins(bins: Bins) -> Bins:
    """Return ``bins`` if numpy.histogram can use it, else raise TypeError/ValueError."""
    if isinstance(bins, str):
        if bins == "tensorflow":
            return np.asarray(_tensorflow_edges())
        if bins not in BIN_RULES:
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
        raise TypeError(f"bins must be a str, an int or a sequence of edges, got {type(bins).__name__}") from None
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0) or not np.all(np.isfinite(edges)):
        raise ValueError("bins given as edges must be at least two finite, increasing numbers")
    return edges


def make_histogram(values: np.ndarray, bins: Bins, max_bins: int | None = None) -> HistogramProto:
    """Bucket ``values`` (finite, at least one, any real dtype) into a HistogramProto, as
    torch does (torch converts the values to float64 first).

    With "tensorflow" bins the statistics are summed chunk by chunk, so ``sum`` and
    ``sum_squares`` (which TensorBoard does not show) can differ from torch's in the last
    digits; bucket limits, counts, ``min``, ``max`` and ``num`` are the same.

    Raises:
        ValueError: no value falls inside explicit ``bins``.
    """
    flat = np.asarray(values).reshape(-1)
    checked = check_bins(bins)
    edges = _tensorflow_edge_array()
    tally = None
    if isinstance(bins, str) and bins == "tensorflow":
        tally = _tensorflow_tally(flat)
        if not (edges[0] <= tally[1] and tally[2] <= edges[-1]):
            tally = None  # values beyond the outer edges: numpy leaves them out
    if tally is not None:
        counts, lowest, highest, total, squares = tally
        limits = edges
    else:
        floats = flat.astype(np.float64)
        counts, limits = np.histogram(floats, bins=checked)
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
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        raise ValueError(f"no value lies inside the bins (from {limits[0]:g} to {limits[-1]:g})")
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


def histogram_pb(tag: str, histogram: HistogramProto) -> Summary:
    """A Summary holding one histogram."""
    return Summary(value=[Summary.Value(tag=tag, histo=histogram)])
