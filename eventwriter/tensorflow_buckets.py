"""TensorFlow's default histogram buckets: their edges, and values counted into them fast.

torch's ``add_histogram`` buckets with ``numpy.histogram`` over the 1,549 edges; here a
value's bucket is computed from its logarithm instead of searched for, with the same
counts (tests/test_summary_kinds.py checks them against numpy's).
eventwriter.plugins.histograms uses it for ``bins="tensorflow"``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from eventwriter.helper import in_halves

__all__ = ["Tally", "tensorflow_edge_array", "tensorflow_edges", "tensorflow_tally"]


@lru_cache(maxsize=1)
def tensorflow_edges() -> tuple[float, ...]:
    """The 1,549 edges: ``±1e-12 * 1.1**n`` below 1e20, and 0, in increasing order."""
    # Built by repeated multiplication, as torch and TensorFlow do, so that every edge
    # is bit-identical to theirs (1.1**n would round differently).
    positive = []
    edge = 1e-12
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return tuple([-e for e in reversed(positive)] + [0.0] + positive)


@lru_cache(maxsize=1)
def tensorflow_edge_array() -> np.ndarray:
    """The edges as a float64 array (shared: do not change it)."""
    return np.asarray(tensorflow_edges())


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
Tally = tuple[np.ndarray, float, float, float, float]


def tensorflow_tally(values: np.ndarray) -> Tally:
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


def _tally_chunks(values: np.ndarray) -> Tally:
    edges = tensorflow_edge_array()
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
    with np.errstate(over="ignore"):  # sums of huge values are inf, as torch's are
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
