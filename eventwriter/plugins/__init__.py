"""One module per TensorBoard plugin: its on-disk format and torch's builders for it.

Every module has the same shape:

* its docstring states the on-disk contract (which ``Summary.Value`` field, which tensor
  shape and dtype, which metadata);
* ``PLUGIN_NAME`` and ``PROTO_VERSION`` (the version written into the plugin's content
  proto; a comment says where torch writes no content);
* ``create_summary_metadata(...)``, where the on-disk form carries metadata (kinds stored
  in a legacy field of ``Summary.Value``, ``histo``, ``image`` and ``audio``, carry none);
* a pure builder ``<kind>_pb(tag, ...)`` from already checked values to a ``Summary``,
  without file system or clock;
* torch's builders under torch's names and signatures (``eventwriter.summary``
  re-exports them): the one place where the kind's user input (torch tensors on any
  device, numpy arrays, Python numbers and sequences) is checked and converted;
* for kinds whose costly part runs in the writer thread (histograms, images, video),
  ``prepare_<kind>(...)``: the same arguments as the builder, checked and copied now,
  returning a ``Deferred``; the builder is ``prepare_<kind>(...).build()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from eventwriter.proto.summary_pb2 import Summary

__all__ = ["Deferred"]


class Deferred(NamedTuple):
    """A summary whose inputs are checked, to be built later (in the writer thread).

    Attributes:
        build: makes the Summary. It owns its data (copies, never the caller's arrays,
            so changing those after the call changes nothing), cannot fail for the
            checked inputs, and returns a Summary without plugin metadata.
        weight: the bytes ``build`` holds while it waits in the queue.
    """

    build: Callable[[], Summary]
    weight: int
