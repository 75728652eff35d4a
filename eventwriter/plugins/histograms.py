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

from collections.abc import Sequence
from functools import lru_cache
from typing import Union

import numpy as np

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
    """Bucket ``values`` (finite, at least one) into a HistogramProto, as torch does.

    Raises:
        ValueError: no value falls inside explicit ``bins``.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    counts, limits = np.histogram(values, bins=check_bins(bins))
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
        min=values.min(),
        max=values.max(),
        num=len(values),
        sum=values.sum(),
        sum_squares=values.dot(values),
        bucket_limit=limits.tolist(),
        bucket=counts.tolist(),
    )


def histogram_pb(tag: str, histogram: HistogramProto) -> Summary:
    """A Summary holding one histogram."""
    return Summary(value=[Summary.Value(tag=tag, histo=histogram)])
