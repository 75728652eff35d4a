"""Summary builders under torch.utils.tensorboard.summary's names and signatures.

``from eventwriter.summary import scalar`` replaces
``from torch.utils.tensorboard.summary import scalar``. Each function checks and
converts its inputs, then calls the pure builder of its plugin module; the result is an
eventwriter ``Summary`` proto for ``FileWriter.add_summary``.
"""

from __future__ import annotations

from typing import Any

from eventwriter.convert import check_tag, describe, is_torch_tensor, to_float, to_numpy
from eventwriter.plugins import scalars as _scalars
from eventwriter.plugins import tensor as _tensor
from eventwriter.plugins import text as _text
from eventwriter.proto.summary_pb2 import Summary

__all__ = ["scalar", "tensor_proto", "text"]


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
    try:
        return _tensor.tensor_pb(tag, to_numpy(tensor, tag, "tensor"), bfloat16=bfloat16)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(repr(tag)):
            raise
        raise type(exc)(f"{tag!r}: {exc}") from None
