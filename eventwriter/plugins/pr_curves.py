"""PR curves plugin.

On disk: ``Summary.Value.tensor``, a DT_FLOAT tensor of shape ``[6, num_thresholds]``
whose rows are true positives, false positives, true negatives, false negatives,
precision and recall at thresholds ``i / (num_thresholds - 1)``; metadata with plugin
name "pr_curves" and a PrCurvePluginData (version ``PROTO_VERSION``, num_thresholds).
The counts are torch's ``compute_curve``. torch caps ``num_thresholds`` at 127; that is
no limit of the format, and eventwriter keeps what it is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eventwriter.convert import check_tag, describe, real_array, tag_prefix
from eventwriter.encoding import varint
from eventwriter.proto.plugin_data_pb2 import PrCurvePluginData
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto
from eventwriter.proto.types_pb2 import DT_FLOAT
from eventwriter.tensors import MAX_MESSAGE_BYTES

__all__ = [
    "MAX_THRESHOLDS",
    "PLUGIN_NAME",
    "PROTO_VERSION",
    "compute_curve",
    "create_summary_metadata",
    "pr_curve",
    "pr_curve_pb",
    "pr_curve_raw",
]

PLUGIN_NAME = "pr_curves"
PROTO_VERSION = 0
DEFAULT_THRESHOLDS = 127  # torch's default
MAX_THRESHOLDS = (MAX_MESSAGE_BYTES - (1 << 12)) // 24  # six float32 rows in one message
_MINIMUM_COUNT = 1e-7
_CURVE_NAMES = ("true_positive_counts", "false_positive_counts", "true_negative_counts",
                "false_negative_counts", "precision", "recall")  # fmt: skip


def create_summary_metadata(num_thresholds: int) -> SummaryMetadata:
    """Metadata marking a ``[6, num_thresholds]`` tensor as a PR curve."""
    content = PrCurvePluginData(version=PROTO_VERSION, num_thresholds=num_thresholds).SerializeToString()
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def _curve(labels: np.ndarray, predictions: np.ndarray, num_thresholds: int, weights: Any) -> np.ndarray:
    """The ``[6, num_thresholds]`` curve of checked predictions against checked labels."""
    if weights is None:
        weights = 1.0
    with np.errstate(over="ignore", invalid="ignore"):  # sums of huge weights: inf (and NaN precision), as torch's
        return _counts(labels, predictions, num_thresholds, weights)


# numpy.histogram (torch's bucketing) sums weights 65,536 values at a time; so does _bucket_sums.
_HISTOGRAM_BLOCK = 65536


def _counts(labels: np.ndarray, predictions: np.ndarray, num_thresholds: int, weights: Any) -> np.ndarray:
    # floor(p * (T - 1)), by truncation: p is not negative
    bucket_indices = (predictions * (num_thresholds - 1)).astype(np.intp).reshape(-1)
    unweighted = isinstance(weights, float) and weights == 1.0
    if unweighted and labels.dtype.kind in "biu":  # 0/1 labels: whole counts, one bincount
        counts = np.bincount(bucket_indices * 2 + labels.reshape(-1), minlength=2 * num_thresholds)
        tp_buckets, fp_buckets = counts[1::2].astype(np.float64), counts[0::2].astype(np.float64)
    else:  # soft labels or weights: float sums, rounded as numpy.histogram rounds them
        positive = labels.astype(np.float64).reshape(-1)
        negative = 1.0 - positive
        if not unweighted:
            weights = np.broadcast_to(weights, labels.shape).reshape(-1)
            positive *= weights
            negative *= weights
        tp_buckets = _bucket_sums(bucket_indices, positive, num_thresholds)
        fp_buckets = _bucket_sums(bucket_indices, negative, num_thresholds)
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def _bucket_sums(indices: np.ndarray, weights: np.ndarray, num_thresholds: int) -> np.ndarray:
    """For flat ``indices`` and ``weights``, what torch's bucketing gives:
    ``numpy.histogram(indices, bins=T, range=(0, T - 1), weights=weights)[0]``.

    That histogram's bins are (T - 1) / T wide, so each integer index from 0 to T - 1
    falls in the bin of its own number; the sums are bincount's, taken in numpy's blocks
    (the same rounding) and an order of magnitude faster than numpy.histogram.
    """
    sums = np.zeros(num_thresholds)
    for start in range(0, indices.size, _HISTOGRAM_BLOCK):
        end = start + _HISTOGRAM_BLOCK
        sums += np.bincount(indices[start:end], weights=weights[start:end], minlength=num_thresholds)
    return sums


def pr_curve_pb(tag: str, curve: np.ndarray, num_thresholds: int) -> Summary:
    """A Summary holding a ``[6, T]`` curve; the metadata records ``num_thresholds``."""
    return Summary(
        value=[Summary.Value(tag=tag, metadata=create_summary_metadata(num_thresholds), tensor=_float_tensor(curve))]
    )


def _float_tensor(values: np.ndarray) -> TensorProto:
    """A DT_FLOAT TensorProto of ``values`` in ``float_val``: the message
    ``TensorProto(dtype=DT_FLOAT, tensor_shape=..., float_val=values.ravel().tolist())``,
    parsed from its bytes (packed float32s, numpy's) instead of built from Python floats,
    ten times faster for a curve of 127 thresholds (tests/test_summary_kinds.py)."""
    dims = b"".join(_field(0x12, b"\x08" + varint(size)) for size in values.shape)
    with np.errstate(over="ignore"):  # beyond float32: infinity, as protobuf stores it
        data = values.astype("<f4").tobytes()
    encoded = bytes((0x08, DT_FLOAT)) + _field(0x12, dims) + _field(0x2A, data)
    return TensorProto.FromString(encoded)


def _field(key: int, payload: bytes) -> bytes:
    return bytes((key,)) + varint(len(payload)) + payload


# -- torch's builders --------------------------------------------------------------


def _num_thresholds(tag: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{tag_prefix(tag)}num_thresholds must be an int of at least 2, got {describe(value)}")
    if value < 2:
        raise ValueError(f"{tag_prefix(tag)}num_thresholds must be an int of at least 2, got {describe(value)}")
    return int(value)


def _check_length(tag: str, what: str, thresholds: int) -> None:
    if thresholds > MAX_THRESHOLDS:
        raise ValueError(
            f"{tag_prefix(tag)}{what} must be at most {MAX_THRESHOLDS} (a [6, T] float32 curve within protobuf's "
            f"2 GiB message limit), got {thresholds}"
        )


def _check_inputs(
    tag: str, labels: Any, predictions: Any, num_thresholds: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None]:
    """``compute_curve``'s arguments as arrays (predictions in their own dtype) and an int."""
    about = tag_prefix(tag)
    label_array = real_array(tag, "labels", labels)
    prediction_array = real_array(tag, "predictions", predictions)
    count = _num_thresholds(tag, num_thresholds)
    _check_length(tag, "num_thresholds", count)
    if label_array.shape != prediction_array.shape:
        shapes = f"{label_array.shape} and {prediction_array.shape}"
        raise ValueError(f"{about}labels and predictions must have the same shape, got {shapes}")
    lowest, highest = prediction_array.min(), prediction_array.max()  # NaN if any is NaN
    if not (lowest >= 0 and highest <= 1):
        raise ValueError(f"{about}predictions must lie in [0, 1], got values from {lowest} to {highest}")
    if not (label_array.min() >= 0 and label_array.max() <= 1):
        raise ValueError(f"{about}labels must be 0/1, bool, or soft labels in [0, 1]")
    weight_array = None
    if weights is not None:
        weight_array = real_array(tag, "weights", weights).astype(np.float64)
        if weight_array.shape not in ((), (1,), label_array.shape):
            raise ValueError(f"{about}weights must be one number or one per label, got shape {weight_array.shape}")
        if not np.isfinite(weight_array).all():
            raise ValueError(f"{about}weights must be finite, got NaN or infinite weights")
    return label_array, prediction_array, count, weight_array


def compute_curve(labels: Any, predictions: Any, num_thresholds: int | None = None, weights: Any = None) -> np.ndarray:
    """The ``[6, num_thresholds]`` PR curve (torch's ``summary.compute_curve``).

    Args:
        labels: 0/1, bool, or soft labels in [0, 1].
        predictions: probabilities in [0, 1], the shape of ``labels``.
        num_thresholds: at least 2; None means 127, ``pr_curve``'s default (torch
            fails on None).
        weights: one number, or one per label.

    Returns:
        Rows: true positives, false positives, true negatives, false negatives,
        precision, recall.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: shapes differ, values lie outside [0, 1], weights are not finite,
            ``num_thresholds`` is beyond MAX_THRESHOLDS, or float16 predictions with
            more than 65,505 thresholds (torch's product overflows to an empty curve).
    """
    count = DEFAULT_THRESHOLDS if num_thresholds is None else num_thresholds
    # in the predictions' dtype, as torch computes it
    label_array, prediction_array, count, weight_array = _check_inputs("", labels, predictions, count, weights)
    kind = prediction_array.dtype
    if kind.kind == "f" and count - 1 > float(np.finfo(kind).max):  # torch's product overflows: an empty curve
        raise ValueError(
            f"{kind} predictions cannot be bucketed into {count} thresholds (p * {count - 1} overflows {kind}); "
            "give float32 predictions"
        )
    return _curve(label_array, prediction_array, count, weight_array)


def pr_curve(tag: str, labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None) -> Summary:
    """A Summary with the precision-recall curve of ``predictions`` against ``labels``.

    Torch's ``summary.pr_curve``, without its cap of 127 thresholds.

    Args:
        tag: the tag.
        labels: 0/1, bool, or soft labels in [0, 1] (which act as weights, as in torch).
        predictions: probabilities in [0, 1], the shape of ``labels``.
        num_thresholds: the number of thresholds, at least 2.
        weights: one number, or one per label.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: shapes differ, predictions or labels lie outside [0, 1] (torch
            drops such predictions silently), weights are not finite, or
            ``num_thresholds`` is beyond MAX_THRESHOLDS (the curve would not fit in a
            protobuf message).
    """
    check_tag(tag)
    label_array, prediction_array, count, weight_array = _check_inputs(
        tag, labels, predictions, num_thresholds, weights
    )
    # float64: there p * (num_thresholds - 1) is exact for float32 predictions, so each falls
    # in its true bucket (torch multiplies in the predictions' dtype, compute_curve too)
    curve = _curve(label_array, prediction_array.astype(np.float64, copy=False), count, weight_array)
    return pr_curve_pb(tag, curve, count)


def pr_curve_raw(
    tag: str,
    tp: Any,
    fp: Any,
    tn: Any,
    fn: Any,
    precision: Any,
    recall: Any,
    num_thresholds: int = 127,
    weights: Any = None,
) -> Summary:
    """A Summary with a PR curve given as counts, precision and recall per threshold.

    Torch's ``summary.pr_curve_raw``. The metadata records the curves' length as the
    number of thresholds (TensorBoard goes by the data; torch writes ``num_thresholds``
    whatever the length). ``weights`` is accepted and ignored, as in torch.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: a curve is not real numbers, or ``num_thresholds`` not an int.
        ValueError: the six curves differ in length or are longer than MAX_THRESHOLDS,
            or ``num_thresholds`` is below 2.
    """
    check_tag(tag)
    curves = (tp, fp, tn, fn, precision, recall)
    rows = [real_array(tag, name, value).astype(np.float64).reshape(-1) for name, value in zip(_CURVE_NAMES, curves)]
    if len({row.size for row in rows}) != 1:
        raise ValueError(f"{tag!r}: the six curves must have the same length, got lengths {[r.size for r in rows]}")
    _check_length(tag, "the curves' length", rows[0].size)
    _num_thresholds(tag, num_thresholds)
    return pr_curve_pb(tag, np.stack(rows), rows[0].size)
