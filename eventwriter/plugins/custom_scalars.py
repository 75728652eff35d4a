"""Custom scalars plugin: dashboards of charts that combine scalar tags.

On disk the layout is one value with tag ``custom_scalars__config__``: a DT_STRING
tensor of rank 0 whose one string is a serialized Layout proto (categories of charts;
a chart is multiline, a list of tag regular expressions, or margin, series of value,
lower and upper tags), with metadata of plugin name "custom_scalars".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventwriter.proto.custom_scalar_pb2 import Category, Chart, Layout, MarginChartContent, MultilineChartContent
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_STRING

__all__ = ["CONFIG_TAG", "PLUGIN_NAME", "layout_pb", "make_layout"]

PLUGIN_NAME = "custom_scalars"
CONFIG_TAG = "custom_scalars__config__"


def _chart(category: str, title: str, spec: Any) -> Chart:
    where = f"layout[{category!r}][{title!r}]"
    if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) != 2:
        raise TypeError(f"{where} must be ['Multiline' or 'Margin', [tags]], got {spec!r}")
    kind, tags = spec
    kind = kind.capitalize() if isinstance(kind, str) else kind
    if isinstance(tags, str) or not isinstance(tags, Sequence) or not all(isinstance(t, str) for t in tags):
        raise TypeError(f"{where}: the tags must be a list of str, got {tags!r}")
    if kind == "Margin":
        if len(tags) != 3:
            raise ValueError(f"{where}: a margin chart needs 3 tags (value, lower, upper), got {len(tags)}")
        series = MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])
        return Chart(title=title, margin=MarginChartContent(series=[series]))
    if kind == "Multiline":
        return Chart(title=title, multiline=MultilineChartContent(tag=list(tags)))
    raise ValueError(f"{where}: the chart type must be 'Multiline' or 'Margin', got {spec[0]!r}")


def make_layout(layout: Mapping[str, Mapping[str, Any]]) -> Layout:
    """torch's layout dict ``{category: {title: [type, tags]}}`` as a Layout proto."""
    if not isinstance(layout, Mapping):
        raise TypeError(f"layout must be a dict of categories, got {type(layout).__name__}")
    categories = []
    for category, charts in layout.items():
        if not isinstance(charts, Mapping):
            raise TypeError(f"layout[{category!r}] must be a dict of charts, got {type(charts).__name__}")
        chart_list = [_chart(category, title, spec) for title, spec in charts.items()]
        categories.append(Category(title=category, chart=chart_list))
    return Layout(category=categories)


def layout_pb(layout: Layout) -> Summary:
    """A Summary holding the dashboard layout."""
    tensor = TensorProto(dtype=DT_STRING, string_val=[layout.SerializeToString()], tensor_shape=TensorShapeProto())
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME))
    return Summary(value=[Summary.Value(tag=CONFIG_TAG, tensor=tensor, metadata=metadata)])
