"""TensorFlow's default histogram buckets: their edges, and values counted into them fast.

torch's ``add_histogram`` buckets with ``numpy.histogram`` over the 1,549 edges; here a
value's bucket is computed instead of searched for, with the same counts
(tests/test_summary_kinds.py checks them against numpy's): float32 (and float16) values
by a table lookup on their bits, other values from their logarithm.
eventwriter.plugins.histograms uses it for ``bins="tensorflow"``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

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
# those few values are placed with an exact search.
#
# Chunks of 262,144 values keep the temporaries in cache; and they are few, because each
# numpy call releases the GIL and must get it back: while other Python threads run (a
# training loop's, a data loader's), that wait is up to a switch interval (5 ms) per call
# and thread. With chunks of 65,536 a million float32 values took 2.3 s of wall time
# beside three spinning threads (and 0.7 s with these), 4.4 ms when alone (4.9 ms).
_ZERO_EDGE = 774  # index of the edge 0.0
_INVERSE_LOG = 1 / math.log(1.1)
_LOG_OFFSET = math.log(1e12) * _INVERSE_LOG
_SMALLEST = 1e-12 * 1.1**-0.5
_CHUNK = 1 << 18


# (bucket counts, min, max, sum, sum of squares) of some values
Tally = tuple[np.ndarray, float, float, float, float]


def tensorflow_tally(values: np.ndarray, span: tuple[float, float] | None = None) -> Tally:
    """Counts in the TensorFlow buckets (``numpy.histogram(values, edges)[0]`` for values
    within the outer edges; beyond them they are clipped into the end buckets) and the
    statistics, in one pass over chunks of 65,536 values (statistics in float64).
    ``span``: the values' smallest and largest, if the caller knows them already.

    One thread: splitting the work with another would save wall time but cost CPU time
    (the threads pass the GIL back and forth between numpy calls), which a training
    process whose cores are busy pays.
    """
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    if values.dtype != np.float32:
        return _tally_chunks(values)
    counts, total, squares = _tally_float32(values)
    lowest, highest = span or (float(values.min()), float(values.max()))
    return counts, lowest, highest, total, squares


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


# float32 values are bucketed without arithmetic on their values. Their bits, read as an
# int32 and made monotonic (negative values' magnitude bits flipped: "sortable"), order
# them as their values are ordered; so a value's bucket is the number of inner edges
# whose threshold (the sortable bits of the smallest float32 at or above the edge) is at
# or below its own bits. The top 16 of those bits pick one of 65,536 cells; no cell holds
# more than one threshold (a cell spans under 1% of its values, a bucket 10%), so
#
#     bucket = (bits + table[bits >> 16]) >> 32,  table[cell] = (below + 1) * 2**32 - threshold
#
# where ``below`` counts the thresholds at or below the cell's first bits and
# ``threshold`` is the one inside the cell (or the next cell's start when there is none):
# adding them carries into bit 32 exactly when the bits reach the threshold. Values
# beyond the outer edges land in the end buckets (the caller sees them by min and max).
_CELL_BITS = 16


def _sortable(bits: np.ndarray) -> np.ndarray:
    """int32 bits of float32 values as int64 numbers ordered as the values are."""
    wide = bits.astype(np.int64)
    return np.where(wide < 0, wide ^ 0x7FFFFFFF, wide)


@lru_cache(maxsize=1)
def _float32_table() -> np.ndarray:
    inner = tensorflow_edge_array()[1:-1]  # the outer edges bound the end buckets
    smallest = inner.astype(np.float32)  # the smallest float32 at or above each edge
    below = smallest.astype(np.float64) < inner
    smallest[below] = np.nextafter(smallest[below], np.float32(np.inf))
    thresholds = _sortable(smallest.view(np.int32))
    thresholds[inner == 0.0] = -1  # the sortable bits of -0.0, which numpy counts as >= 0.0
    cell = np.int64(1) << _CELL_BITS
    starts = np.arange(-(1 << 15), 1 << 15, dtype=np.int64) << _CELL_BITS
    below_start = np.searchsorted(thresholds, starts, side="right")
    following = np.append(thresholds, np.int64(1) << 40)[below_start]
    inside = np.where(following < starts + cell, following, starts + cell)
    table = (below_start.astype(np.int64) << 32) + (np.int64(1) << 32) - inside
    # Index by the signed cell number: negative cells from the end, as numpy indexes.
    return np.concatenate([table[1 << 15 :], table[: 1 << 15]])


def _tally_float32(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(bucket counts, sum, sum of squares) of float32 values."""
    table = _float32_table()
    counts = np.zeros(len(tensorflow_edge_array()) - 1, dtype=np.int64)
    total, squares = 0.0, 0.0
    with np.errstate(over="ignore"):  # sums of huge values are inf, as torch's are
        for start in range(0, values.size, _CHUNK):
            part = values[start : start + _CHUNK]
            wide = part.astype(np.float64)
            total += wide.sum()
            squares += np.einsum("i,i->", wide, wide)  # one pass; not dot(): BLAS threads would spin
            bits = part.view(np.int32)
            sortable = bits >> 31
            sortable &= 0x7FFFFFFF
            sortable ^= bits
            buckets = table[sortable >> _CELL_BITS]
            buckets += sortable
            buckets >>= 32
            counts += np.bincount(buckets, minlength=len(counts))
    return counts, float(total), float(squares)
