"""Input conversion: user values (Python, numpy, torch) to what the builders take.

torch is never imported here. A torch tensor is recognised by duck typing (it has
``detach`` and ``numel``), so code that never passes tensors never loads torch.
Every error names the tag (builders without a tag, such as ``make_histogram``, pass an
empty one and their messages start with the argument), the argument, and says what was
expected and what came: TypeError for a value of the wrong type, ValueError for a value
of the right type that is out of range.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = [
    "about_tag",
    "check_tag",
    "check_text",
    "describe",
    "is_torch_tensor",
    "positive",
    "real_array",
    "tag_prefix",
    "to_float",
    "to_numpy",
    "to_step",
    "to_walltime",
]


def describe(value: Any) -> str:
    """A short description of a value for error messages: its type and a preview."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def tag_prefix(tag: str) -> str:
    """The start of an error message about ``tag``: ``'tag': ``, or nothing for no tag."""
    return f"{tag!r}: " if tag else ""


def check_tag(tag: Any, what: str = "tag") -> str:
    """Return ``tag`` if it is a non-empty string, else raise TypeError/ValueError."""
    if not isinstance(tag, str):
        raise TypeError(f"{what} must be a non-empty str, got {describe(tag)}")
    if not tag:
        raise ValueError(f"{what} must be a non-empty str, got an empty string")
    return check_text("", what, tag)


def check_text(tag: str, what: str, text: str) -> str:
    """Return ``text`` (argument ``what``, a str) if UTF-8 can encode it, else ValueError."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        preview = describe(text[max(0, exc.start - 10) : exc.start + 10])
        raise ValueError(
            f"{tag_prefix(tag)}{what} must be valid Unicode text, got a lone surrogate at {exc.start}: {preview}"
        ) from None
    return text


def is_torch_tensor(value: Any) -> bool:
    """True for a torch.Tensor (subclasses too), found without importing torch: a tensor
    can only exist once torch has been imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _torch_to_numpy(tensor: Any) -> np.ndarray:
    tensor = tensor.detach()
    if tensor.device.type == "meta":
        raise ValueError("a tensor on the 'meta' device holds no data")
    dtype = str(tensor.dtype)
    if dtype == "torch.bfloat16":  # numpy has no bfloat16; float32 holds it exactly
        tensor = tensor.float()
    return np.asarray(tensor.cpu().numpy())


# numpy before 1.24 warns about ragged nested sequences (and makes an object array of
# them); later versions raise ValueError. Only there the warning is turned into an error.
_RAGGED_WARNING: type[Warning] | None = None
if np.lib.NumpyVersion(np.__version__) < "1.24.0":
    _RAGGED_WARNING = np.VisibleDeprecationWarning  # type: ignore[attr-defined]  # numpy 2 moved it
_NOT_ARRAY_LIKE = (TypeError, ValueError) if _RAGGED_WARNING is None else (TypeError, ValueError, _RAGGED_WARNING)


def _asarray(value: Any) -> np.ndarray:
    if _RAGGED_WARNING is None:
        return np.asarray(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", _RAGGED_WARNING)
        return np.asarray(value)


def to_numpy(value: Any, tag: str, what: str = "value") -> np.ndarray:
    """Convert a torch tensor, numpy array, Python scalar or sequence to an ndarray."""
    if isinstance(value, np.ndarray):
        return value
    about = tag_prefix(tag)
    if is_torch_tensor(value):
        try:
            return _torch_to_numpy(value)
        except ValueError as exc:
            raise ValueError(f"{about}{what}: {exc}") from None
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{about}{what} must be numeric (a tensor, an array or a number), got {describe(value)}")
    try:
        array = _asarray(value)
    except _NOT_ARRAY_LIKE as exc:
        raise TypeError(f"{about}{what} must be array-like, got {describe(value)} ({exc})") from None
    if array.dtype == object:
        raise TypeError(f"{about}{what} must be numeric, got {describe(value)}")
    return array


def to_float(tag: str, value: Any, what: str = "scalar_value") -> float:
    """Convert a one-element scalar-like value (argument ``what``) to a Python float.

    NaN and ±Inf are kept.
    """
    if isinstance(value, float):
        return value
    about = f"{tag_prefix(tag)}{what}"
    if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{about} must fit in a float, got {describe(value)}") from None
    if is_torch_tensor(value):
        if value.numel() != 1:
            raise ValueError(f"{about} must hold exactly one element, got a tensor of shape {tuple(value.shape)}")
        if value.is_complex():
            raise TypeError(f"{about} must be real, got a complex tensor")
        if value.device.type == "meta":
            raise ValueError(f"{about} is a tensor on the 'meta' device, which holds no data")
        return float(value.detach().reshape(()).item())
    if isinstance(value, (np.ndarray, np.generic)):
        if value.size != 1:
            raise ValueError(f"{about} must hold exactly one element, got an array of shape {value.shape}")
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{about} must be a real number, got an array of dtype {value.dtype}")
        return float(value.reshape(()))
    raise TypeError(f"{about} must be a real number or a one-element tensor or array, got {describe(value)}")


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def to_step(tag: str, step: Any) -> int | None:
    """Convert a global step to an int64 (None stays None); reject non-integral values."""
    if step is None:
        return None
    if isinstance(step, bool):
        raise TypeError(f"{tag!r}: global_step must be an integer, got {describe(step)}")
    if isinstance(step, numbers.Integral):
        value = int(step)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{tag!r}: global_step must fit in int64, got {value}")
        return value
    if isinstance(step, (float, np.floating)):
        if math.isfinite(step) and float(step).is_integer():
            return to_step(tag, int(step))
        raise ValueError(f"{tag!r}: global_step must be an integer, got {describe(step)}")
    if is_torch_tensor(step) or isinstance(step, np.ndarray):
        if is_torch_tensor(step) and step.device.type == "meta":
            raise ValueError(f"{tag!r}: global_step is a tensor on the 'meta' device, which holds no data")
        size = step.numel() if is_torch_tensor(step) else step.size
        if size != 1:
            raise ValueError(f"{tag!r}: global_step must be a single integer, got {describe(step)}")
        if isinstance(step, np.ndarray) and step.dtype.kind not in "biuf":  # object arrays hold anything
            raise TypeError(f"{tag!r}: global_step must be an integer, got an array of dtype {step.dtype}")
        return to_step(tag, step.reshape(-1)[0].item())
    raise TypeError(f"{tag!r}: global_step must be an integer, got {describe(step)}")


def to_walltime(tag: str, walltime: Any) -> float:
    """Convert an explicit walltime (seconds since the epoch) to a float."""
    if isinstance(walltime, float):
        return walltime
    if isinstance(walltime, numbers.Real) and not isinstance(walltime, bool):
        try:
            return float(walltime)
        except OverflowError:
            raise ValueError(f"{tag!r}: walltime must fit in a float, got {describe(walltime)}") from None
    raise TypeError(f"{tag!r}: walltime must be a number of seconds since the epoch, got {describe(walltime)}")


@contextmanager
def about_tag(tag: str, what: str = "") -> Iterator[None]:
    """Prefix TypeError/ValueError messages with the tag (and the argument)."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if message.startswith(repr(tag)):
            raise
        kind = TypeError if isinstance(exc, TypeError) else ValueError  # a subclass may need more than a message
        raise kind(f"{tag!r}: {what + ': ' if what else ''}{message}") from None


def positive(tag: str, name: str, value: Any) -> float:
    """``value`` (argument ``name``) as a finite float above 0.

    Raises:
        TypeError: not a real number (bool included).
        ValueError: zero, negative, infinite or NaN.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{tag_prefix(tag)}{name} must be a positive number, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf
    if not 0 < number < math.inf:
        raise ValueError(f"{tag_prefix(tag)}{name} must be a positive number, got {describe(value)}")
    return number


def real_array(tag: str, name: str, value: Any) -> np.ndarray:
    """``value`` (argument ``name``) as a non-empty array of bool, int or float.

    Raises:
        TypeError: not array-like, or of another dtype (complex, strings, ...).
        ValueError: empty.
    """
    array = to_numpy(value, tag, name)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{tag_prefix(tag)}{name} must hold real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{tag_prefix(tag)}{name} is empty (shape {array.shape})")
    return array
