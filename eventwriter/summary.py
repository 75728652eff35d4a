"""Summary builders under torch.utils.tensorboard.summary's names and signatures.

``from eventwriter.summary import hparams`` replaces
``from torch.utils.tensorboard.summary import hparams``. Each function checks and
converts its inputs (torch tensors on any device, numpy arrays, Python numbers and
sequences), then calls the pure builder of its plugin module in eventwriter.plugins.
Results are eventwriter ``Summary`` protos, for ``FileWriter.add_summary``. Errors are
TypeError or ValueError and start with the tag. The builders of histograms, images, video
and audio live in eventwriter.summary_media and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eventwriter.convert import (
    about_tag,
    check_tag,
    describe,
    is_torch_tensor,
    real_array,
    to_float,
    to_numpy,
)
from eventwriter.plugins import custom_scalars as _custom_scalars
from eventwriter.plugins import hparams as _hparams
from eventwriter.plugins import mesh as _mesh
from eventwriter.plugins import pr_curves as _pr_curves
from eventwriter.plugins import scalars as _scalars
from eventwriter.plugins import tensor as _tensor
from eventwriter.plugins import text as _text
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.summary_media import (
    audio,
    histogram,
    histogram_raw,
    image,
    image_boxes,
    make_histogram,
    video,
)

__all__ = [
    "audio",
    "compute_curve",
    "custom_scalars",
    "histogram",
    "histogram_raw",
    "hparams",
    "image",
    "image_boxes",
    "make_histogram",
    "mesh",
    "pr_curve",
    "pr_curve_raw",
    "scalar",
    "tensor_proto",
    "text",
    "video",
]


# -- scalars, text, tensors --------------------------------------------------------


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
    array = to_numpy(tensor, tag, "tensor")
    with about_tag(tag):
        return _tensor.tensor_pb(tag, array, bfloat16=bfloat16)


# -- PR curves ---------------------------------------------------------------------


def _num_thresholds(tag: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"{tag!r}: num_thresholds must be an int of at least 2, got {describe(value)}")
    return int(value)


def compute_curve(labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None) -> np.ndarray:
    """The ``[6, num_thresholds]`` PR curve (torch's ``compute_curve``)."""
    return _pr_curves.compute_curve(np.asarray(labels), np.asarray(predictions), num_thresholds, weights)


def pr_curve(tag: str, labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None) -> Summary:
    """A Summary with the precision-recall curve of ``predictions`` against 0/1 ``labels``.

    Raises:
        ValueError: shapes differ, or predictions or labels lie outside [0, 1] (torch
            drops such predictions silently).
    """
    check_tag(tag)
    label_array = real_array(tag, "labels", labels)
    prediction_array = real_array(tag, "predictions", predictions).astype(np.float64)
    count = _num_thresholds(tag, num_thresholds)
    if label_array.shape != prediction_array.shape:
        shapes = f"{label_array.shape} and {prediction_array.shape}"
        raise ValueError(f"{tag!r}: labels and predictions must have the same shape, got {shapes}")
    if not np.all((prediction_array >= 0) & (prediction_array <= 1)):
        lowest, highest = prediction_array.min(), prediction_array.max()
        raise ValueError(f"{tag!r}: predictions must lie in [0, 1], got values from {lowest} to {highest}")
    if not np.all((label_array >= 0) & (label_array <= 1)):
        raise ValueError(f"{tag!r}: labels must be 0/1, bool, or soft labels in [0, 1]")
    weight_array = None
    if weights is not None:
        weight_array = real_array(tag, "weights", weights).astype(np.float64)
        if weight_array.shape not in ((), (1,), label_array.shape):
            raise ValueError(f"{tag!r}: weights must be one number or one per label, got shape {weight_array.shape}")
    curve = _pr_curves.compute_curve(label_array, prediction_array, count, weight_array)
    return _pr_curves.pr_curve_pb(tag, curve, count)


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

    The metadata records the curves' length as the number of thresholds (TensorBoard
    goes by the data; torch writes ``num_thresholds`` whatever the length).

    Raises:
        ValueError: the six sequences differ in length.
    """
    check_tag(tag)
    names = ("true_positive_counts", "false_positive_counts", "true_negative_counts", "false_negative_counts",
             "precision", "recall")  # fmt: skip
    rows = [
        real_array(tag, n, v).astype(np.float64).reshape(-1) for n, v in zip(names, (tp, fp, tn, fn, precision, recall))
    ]
    lengths = {row.size for row in rows}
    if len(lengths) != 1:
        raise ValueError(f"{tag!r}: the six curves must have the same length, got lengths {[r.size for r in rows]}")
    _num_thresholds(tag, num_thresholds)
    return _pr_curves.pr_curve_pb(tag, np.stack(rows), rows[0].size)


# -- mesh, hparams, custom scalars --------------------------------------------------


def mesh(
    tag: str,
    vertices: Any,
    colors: Any,
    faces: Any,
    config_dict: dict[str, Any] | None,
    display_name: str | None = None,
    description: str | None = None,
) -> Summary:
    """A Summary with a mesh or point cloud: (B, N, 3) vertices, colors, (B, F, 3) faces."""
    check_tag(tag)
    parts = {}
    for name, value in (("vertices", vertices), ("faces", faces), ("colors", colors)):
        if value is None:
            continue
        array = real_array(tag, name, value)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{tag!r}: {name} must have shape (B, N, 3), got {array.shape}")
        parts[name] = array
    if "vertices" not in parts:
        raise ValueError(f"{tag!r}: vertices are required")
    batch, points = parts["vertices"].shape[:2]
    if "colors" in parts and parts["colors"].shape[:2] != (batch, points):
        raise ValueError(f"{tag!r}: colors must match vertices {(batch, points, 3)}, got {parts['colors'].shape}")
    if "faces" in parts:
        faces_array = parts["faces"]
        if faces_array.shape[0] not in (1, batch) or faces_array.min() < 0 or faces_array.max() >= points:
            raise ValueError(f"{tag!r}: faces must be (B or 1, F, 3) indices into the {points} vertices")
    if config_dict is not None and not isinstance(config_dict, Mapping):
        raise TypeError(f"{tag!r}: config_dict must be a dict, got {describe(config_dict)}")
    with about_tag(tag, "config_dict"):
        return _mesh.mesh_pb(tag, parts, config_dict)


def _plain_hparam(name: str, value: Any) -> bool | float | str | None:
    if is_torch_tensor(value) or isinstance(value, np.ndarray):
        array = to_numpy(value, name, "hparam").reshape(-1)
        if array.size == 0:
            raise ValueError(f"hparam {name!r} is an empty tensor")
        value = array[0].item()
    return _hparams.hparam_value(name, value)


def hparams(
    hparam_dict: Mapping[str, Any] | None = None,
    metric_dict: Mapping[str, Any] | None = None,
    hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[Summary, Summary, Summary]:
    """The experiment, session start and session end summaries of one hparams session.

    Raises:
        TypeError: the dicts are not dicts, a value has an unsupported type, or a
            discrete domain lists values of another type than its hyperparameter.
    """
    if not isinstance(hparam_dict, Mapping):
        raise TypeError(f"hparam_dict must be a dict, got {describe(hparam_dict)}")
    if not isinstance(metric_dict, Mapping):
        raise TypeError(f"metric_dict must be a dict, got {describe(metric_dict)}")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, Mapping):
        raise TypeError(f"hparam_domain_discrete must be a dict, got {describe(domains)}")
    values = {check_tag(name, "hparam name"): _plain_hparam(name, value) for name, value in hparam_dict.items()}
    for name, domain in domains.items():
        kind = type(values.get(name))
        if (
            name not in values
            or not isinstance(domain, list)
            or not all(type(_plain_hparam(name, d)) is kind for d in domain)
        ):
            raise TypeError(
                f"hparam_domain_discrete[{name!r}] must be a list of values of the type of hparam_dict[{name!r}]"
            )
    plain_domains = {name: [_plain_hparam(name, d) for d in domain] for name, domain in domains.items()}
    for metric in metric_dict:
        check_tag(metric, "metric name")
    return _hparams.hparams_pb(values, list(metric_dict), plain_domains)  # type: ignore[arg-type]


def custom_scalars(layout: Mapping[str, Mapping[str, Any]]) -> Summary:
    """A Summary with the custom scalars dashboard ``{category: {title: [type, tags]}}``."""
    return _custom_scalars.layout_pb(_custom_scalars.make_layout(layout))
