"""eventwriter.buffers: copies for deferred builds in reused memory."""

from __future__ import annotations

import numpy as np
import pytest

from eventwriter import SummaryWriter, buffers
from tests.helpers import run_events


@pytest.fixture(autouse=True)
def _empty_pool():
    buffers.clear()
    yield
    buffers.clear()


def test_a_copy_equals_its_source_and_owns_its_memory():
    source = np.arange(200_000, dtype=np.float32).reshape(400, 500)[:, ::2]  # not contiguous
    copy = buffers.owned_copy(source)
    np.testing.assert_array_equal(copy.array, source)
    assert copy.array.dtype == source.dtype and copy.array.shape == source.shape
    assert not np.shares_memory(copy.array, source)


def test_released_memory_is_reused_by_the_next_copy_of_that_size():
    source = np.ones(1 << 18, dtype=np.float32)  # 1 MiB: pooled
    first = buffers.owned_copy(source)
    address = first.array.ctypes.data
    first.release()
    second = buffers.owned_copy(source * 2)
    assert second.array.ctypes.data == address
    np.testing.assert_array_equal(second.array, source * 2)
    third = buffers.owned_copy(source)  # the second still in use: new memory
    assert third.array.ctypes.data != address


def test_small_arrays_are_plain_copies_and_release_keeps_nothing():
    copy = buffers.owned_copy(np.ones(10))
    copy.release()
    assert buffers._kept_bytes == 0


def test_kept_memory_is_bounded_and_the_least_recently_used_size_goes_first(monkeypatch):
    monkeypatch.setattr(buffers, "MAX_KEPT_BYTES", 3 << 20)
    old = [buffers.owned_copy(np.zeros(1 << 20, np.uint8)) for _ in range(2)]
    new = [buffers.owned_copy(np.zeros(1 << 19, np.uint8)) for _ in range(4)]
    for copy in old + new:
        copy.release()
    assert buffers._kept_bytes <= 3 << 20
    assert len(buffers._kept[1 << 19]) == 4  # the size used last is kept whole
    assert len(buffers._kept.get(1 << 20, [])) == 1


def test_histograms_queued_with_reused_copies_keep_the_values_of_their_call(logdir):
    values = np.random.default_rng(0).normal(size=1 << 18).astype(np.float32)
    expected = []
    with SummaryWriter(logdir) as writer:
        for step in range(12):
            values *= 1.5  # the caller changes its array after each call
            expected.append((float(values.min()), float(values.max())))
            writer.add_histogram("h", values, step)
    got = [(e.summary.value[0].histo.min, e.summary.value[0].histo.max) for e in run_events(logdir)[1:]]
    assert got == expected  # float32 min and max are exact in float64


def test_a_size_whose_buffers_are_all_in_use_is_never_evicted_from_nothing(monkeypatch):
    # Its last buffer taken, a size must not stay behind as an empty entry that eviction
    # would then try to take a buffer from (an IndexError lost the histogram being built).
    monkeypatch.setattr(buffers, "MAX_KEPT_BYTES", 2 << 20)
    buffers.owned_copy(np.zeros(1 << 19, np.uint8)).release()
    in_use = buffers.owned_copy(np.zeros(1 << 19, np.uint8))  # takes that size's only buffer
    for copy in [buffers.owned_copy(np.zeros(1 << 20, np.uint8)) for _ in range(3)]:
        copy.release()  # over the bound: evicts
    in_use.release()
    assert buffers._kept_bytes <= 2 << 20
    assert all(kept for kept in buffers._kept.values())
