"""PR curves plugin.

On disk: ``Summary.Value.tensor``, a DT_FLOAT tensor of shape ``[6, num_thresholds]``
whose rows are true positives, false positives, true negatives, false negatives,
precision and recall at thresholds ``i / (num_thresholds - 1)``; metadata with plugin
name "pr_curves" and PrCurvePluginData(version 0, num_thresholds). The counts come from
torch's ``compute_curve``. torch caps ``num_thresholds`` at 127; that is no limit of the
format, and eventwriter keeps what it is given.
"""

from __future__ import annotations

import numpy as np

from eventwriter.proto.plugin_data_pb2 import PrCurvePluginData
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_FLOAT

__all__ = ["PLUGIN_NAME", "compute_curve", "create_summary_metadata", "pr_curve_pb"]

PLUGIN_NAME = "pr_curves"
_MINIMUM_COUNT = 1e-7


def create_summary_metadata(num_thresholds: int) -> SummaryMetadata:
    content = PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def compute_curve(
    labels: np.ndarray, predictions: np.ndarray, num_thresholds: int, weights: np.ndarray | float | None = None
) -> np.ndarray:
    """The ``[6, num_thresholds]`` curve of predictions in [0, 1] against 0/1 labels."""
    if weights is None:
        weights = 1.0
    bucket_indices = np.int32(np.floor(predictions * (num_thresholds - 1)))
    float_labels = labels.astype(np.float64)
    histogram_range = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(
        bucket_indices, bins=num_thresholds, range=histogram_range, weights=float_labels * weights
    )
    fp_buckets, _ = np.histogram(
        bucket_indices, bins=num_thresholds, range=histogram_range, weights=(1.0 - float_labels) * weights
    )
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def pr_curve_pb(tag: str, curve: np.ndarray, num_thresholds: int) -> Summary:
    """A Summary holding a ``[6, T]`` curve."""
    tensor = TensorProto(
        dtype=DT_FLOAT,
        float_val=curve.reshape(-1).tolist(),
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in curve.shape]),
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=create_summary_metadata(num_thresholds), tensor=tensor)])
