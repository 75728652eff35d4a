"""HParams plugin.

On disk a session is three values without data, only metadata of plugin name
"hparams" whose content is an HParamsPluginData (version ``PROTO_VERSION``):

* ``_hparams_/experiment``: the Experiment, listing each hyperparameter (name, type,
  optional discrete domain) and each metric tag;
* ``_hparams_/session_start_info``: the hyperparameter values of this session;
* ``_hparams_/session_end_info``: status STATUS_SUCCESS.

The metrics themselves are ordinary scalars of the same run. Types are torch's, except
that booleans are DATA_TYPE_BOOL with ``bool_value`` (torch writes them as numbers), and
a value of another type is a TypeError (torch raises ValueError).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import struct_pb2

from eventwriter.convert import check_tag, check_text, describe, is_torch_tensor, to_numpy
from eventwriter.proto.hparams_pb2 import (
    DATA_TYPE_BOOL,
    DATA_TYPE_FLOAT64,
    DATA_TYPE_STRING,
    STATUS_SUCCESS,
    DataType,
    Experiment,
    HParamInfo,
    HParamsPluginData,
    MetricInfo,
    MetricName,
    SessionEndInfo,
    SessionStartInfo,
)
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata

__all__ = [
    "EXPERIMENT_TAG",
    "PLUGIN_NAME",
    "PROTO_VERSION",
    "SESSION_END_INFO_TAG",
    "SESSION_START_INFO_TAG",
    "create_summary_metadata",
    "hparam_value",
    "hparams",
    "hparams_pb",
]

PLUGIN_NAME = "hparams"
PROTO_VERSION = 0
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_INFO_TAG = "_hparams_/session_start_info"
SESSION_END_INFO_TAG = "_hparams_/session_end_info"


def hparam_value(name: str, value: Any) -> bool | float | str | None:
    """A hyperparameter as a plain bool, float, str or None (skipped).

    Raises:
        TypeError: any other type (torch raises ValueError).
        ValueError: an int too large for a float, or a str with a lone surrogate.
    """
    if isinstance(value, str):
        return check_text("", f"hparam {name!r}", value)
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"hparam {name!r} must fit in a float, got a number of {len(str(value))} digits") from None
    raise TypeError(f"hparam {name!r} must be a bool, str, int, float or None, got {describe(value)}")


def _struct_value(value: bool | float | str) -> struct_pb2.Value:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=value)


def _data_type(value: bool | float | str) -> DataType:
    if isinstance(value, bool):
        return DATA_TYPE_BOOL
    if isinstance(value, str):
        return DATA_TYPE_STRING
    return DATA_TYPE_FLOAT64


def create_summary_metadata(
    *,
    experiment: Experiment | None = None,
    session_start_info: SessionStartInfo | None = None,
    session_end_info: SessionEndInfo | None = None,
) -> SummaryMetadata:
    """Metadata holding one part of a session (give exactly one), at PROTO_VERSION."""
    data = HParamsPluginData(  # a part given as None is left unset
        version=PROTO_VERSION,
        experiment=experiment,
        session_start_info=session_start_info,
        session_end_info=session_end_info,
    )
    content = data.SerializeToString(deterministic=True)  # the hparams map in key order: the same bytes every run
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content))


def _summary(tag: str, metadata: SummaryMetadata) -> Summary:
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])


def hparams_pb(
    hparams: Mapping[str, bool | float | str | None],
    metric_names: Sequence[str],
    domain_discrete: Mapping[str, Sequence[bool | float | str]] | None = None,
) -> tuple[Summary, Summary, Summary]:
    """The experiment, session start and session end summaries of one session.

    ``hparams`` holds values already passed through ``hparam_value``; None is skipped.
    """
    domain_discrete = domain_discrete or {}
    infos = []
    start = SessionStartInfo()
    for name, value in hparams.items():
        if value is None:
            continue
        start.hparams[name].CopyFrom(_struct_value(value))
        info = HParamInfo(name=name, type=_data_type(value))
        if name in domain_discrete:
            info.domain_discrete.CopyFrom(
                struct_pb2.ListValue(values=[_struct_value(v) for v in domain_discrete[name]])
            )
        infos.append(info)
    experiment = Experiment(hparam_infos=infos, metric_infos=[MetricInfo(name=MetricName(tag=m)) for m in metric_names])
    return (
        _summary(EXPERIMENT_TAG, create_summary_metadata(experiment=experiment)),
        _summary(SESSION_START_INFO_TAG, create_summary_metadata(session_start_info=start)),
        _summary(SESSION_END_INFO_TAG, create_summary_metadata(session_end_info=SessionEndInfo(status=STATUS_SUCCESS))),
    )


# -- torch's builder -----------------------------------------------------------------


def _plain_hparam(name: str, value: Any) -> bool | float | str | None:
    if is_torch_tensor(value) or isinstance(value, np.ndarray):
        array = to_numpy(value, name, "hparam").reshape(-1)
        if array.size == 0:
            raise ValueError(f"hparam {name!r} is an empty tensor")
        if array.dtype == object:  # .item() would give the element, of any type
            raise TypeError(f"hparam {name!r} must be a bool, str, int, float or None, got an array of dtype object")
        value = array[0].item()
    return hparam_value(name, value)


def hparams(
    hparam_dict: Mapping[str, Any] | None = None,
    metric_dict: Mapping[str, Any] | None = None,
    hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[Summary, Summary, Summary]:
    """The experiment, session start and session end summaries of one hparams session.

    Torch's ``summary.hparams``; write the three to one run, with the metrics as scalars.

    Args:
        hparam_dict: name -> bool, str, int, float, one-element tensor or array, or
            None (left out).
        metric_dict: metric tag -> value; only the tags are recorded here.
        hparam_domain_discrete: name -> every value that hyperparameter can take.

    Returns:
        The three summaries, in that order.

    Raises:
        TypeError: an argument is not a dict, a name not a str, a value of an
            unsupported type (torch raises ValueError), or a discrete domain not a list
            of values of its hyperparameter's type.
        ValueError: a name is empty, a tensor empty, or an int too large for a float.
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
    return hparams_pb(values, list(metric_dict), plain_domains)  # type: ignore[arg-type]
