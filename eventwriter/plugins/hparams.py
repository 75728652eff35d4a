"""HParams plugin.

On disk a session is three values without data, only metadata of plugin name
"hparams" whose content is an HParamsPluginData (version 0):

* ``_hparams_/experiment``: the Experiment, listing each hyperparameter (name, type,
  optional discrete domain) and each metric tag;
* ``_hparams_/session_start_info``: the hyperparameter values of this session;
* ``_hparams_/session_end_info``: status STATUS_SUCCESS.

The metrics themselves are ordinary scalars of the same run. Types are torch's, except
that booleans are DATA_TYPE_BOOL with ``bool_value`` (torch writes them as numbers).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2

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
    "SESSION_END_INFO_TAG",
    "SESSION_START_INFO_TAG",
    "hparam_value",
    "hparams_pb",
]

PLUGIN_NAME = "hparams"
PLUGIN_DATA_VERSION = 0
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_INFO_TAG = "_hparams_/session_start_info"
SESSION_END_INFO_TAG = "_hparams_/session_end_info"


def hparam_value(name: str, value: Any) -> bool | float | str | None:
    """A hyperparameter as a plain bool, float, str or None (skipped).

    Raises:
        ValueError: any other type (ValueError, as torch raises).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"hparam {name!r} must fit in a float, got a number of {len(str(value))} digits") from None
    raise ValueError(f"hparam {name!r} must be a bool, str, int, float or None, got {type(value).__name__} {value!r}")


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


def _summary(tag: str, content: HParamsPluginData) -> Summary:
    plugin_data = SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content.SerializeToString())
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin_data))])


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
        _summary(EXPERIMENT_TAG, HParamsPluginData(experiment=experiment, version=PLUGIN_DATA_VERSION)),
        _summary(SESSION_START_INFO_TAG, HParamsPluginData(session_start_info=start, version=PLUGIN_DATA_VERSION)),
        _summary(
            SESSION_END_INFO_TAG,
            HParamsPluginData(session_end_info=SessionEndInfo(status=STATUS_SUCCESS), version=PLUGIN_DATA_VERSION),
        ),
    )
