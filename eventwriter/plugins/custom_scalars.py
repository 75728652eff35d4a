"""Custom scalars plugin: dashboards of charts that combine scalar tags.

On disk the layout is one value with tag ``custom_scalars__config__``: a DT_STRING
tensor of rank 0 whose one string is a serialized Layout proto (categories of charts;
a chart is multiline, a list of tag regular expressions, or margin, series of value,
lower and upper tags), with metadata of plugin name "custom_scalars" and no content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventwriter.convert import check_text, describe
from eventwriter.proto.custom_scalar_pb2 import Category, Chart, Layout, MarginChartContent, MultilineChartContent
from eventwriter.proto.summary_pb2 import Summary, SummaryMetadata
from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
from eventwriter.proto.types_pb2 import DT_STRING

__all__ = [
    "CONFIG_TAG",
    "PLUGIN_NAME",
    "PROTO_VERSION",
    "create_summary_metadata",
    "custom_scalars",
    "custom_scalars_pb",
]

PLUGIN_NAME = "custom_scalars"
PROTO_VERSION = 0  # torch writes no content: the layout is the tensor itself
CONFIG_TAG = "custom_scalars__config__"
_CHART_TYPES = ("Multiline", "Margin")


def create_summary_metadata() -> SummaryMetadata:
    """Metadata marking a string tensor as a dashboard layout."""
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME))


def custom_scalars_pb(layout: Layout) -> Summary:
    """A Summary holding the dashboard layout, under CONFIG_TAG."""
    tensor = TensorProto(dtype=DT_STRING, string_val=[layout.SerializeToString()], tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag=CONFIG_TAG, tensor=tensor, metadata=create_summary_metadata())])


# -- torch's builder -----------------------------------------------------------------


def _chart(category: str, title: Any, spec: Any) -> Chart:
    where = f"layout[{category!r}][{title!r}]"
    if not isinstance(title, str):
        raise TypeError(f"layout[{category!r}]: chart titles must be str, got {describe(title)}")
    if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) != 2:
        raise TypeError(f"{where} must be ['Multiline' or 'Margin', [tags]], got {spec!r}")
    kind, tags = spec
    if not isinstance(kind, str):
        raise TypeError(f"{where}: the chart type must be 'Multiline' or 'Margin', got {describe(kind)}")
    if isinstance(tags, str) or not isinstance(tags, Sequence) or not all(isinstance(t, str) for t in tags):
        raise TypeError(f"{where}: the tags must be a list of str, got {tags!r}")
    check_text("", f"layout[{category!r}]: chart titles", title)
    for tag in tags:
        check_text("", f"{where}: the tags", tag)
    kind = kind.capitalize()
    if kind not in _CHART_TYPES:
        raise ValueError(f"{where}: the chart type must be 'Multiline' or 'Margin', got {spec[0]!r}")
    if kind == "Margin":
        if len(tags) != 3:
            raise ValueError(f"{where}: a margin chart needs 3 tags (value, lower, upper), got {len(tags)}")
        series = MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])
        return Chart(title=title, margin=MarginChartContent(series=[series]))
    return Chart(title=title, multiline=MultilineChartContent(tag=list(tags)))


def custom_scalars(layout: Mapping[str, Mapping[str, Any]]) -> Summary:
    """A Summary with the custom scalars dashboard (torch's ``summary.custom_scalars``).

    Args:
        layout: ``{category: {chart title: [chart type, tags]}}``; the type is
            "Multiline" (tags are regular expressions) or "Margin" (three tags: value,
            lower, upper), in any letter case.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: the layout, a category or a chart is not shaped as above, or a name,
            a chart type or a tag is not a str.
        ValueError: an unknown chart type (torch draws anything but "Margin" as
            multiline), a margin chart without exactly three tags, or a name or tag
            that UTF-8 cannot encode (a lone surrogate).
    """
    if not isinstance(layout, Mapping):
        raise TypeError(f"layout must be a dict of categories, got {describe(layout)}")
    categories = []
    for category, charts in layout.items():
        if not isinstance(category, str):
            raise TypeError(f"layout's category names must be str, got {describe(category)}")
        check_text("", "layout's category names", category)
        if not isinstance(charts, Mapping):
            raise TypeError(f"layout[{category!r}] must be a dict of charts, got {describe(charts)}")
        chart_list = [_chart(category, title, spec) for title, spec in charts.items()]
        categories.append(Category(title=category, chart=chart_list))
    return custom_scalars_pb(Layout(category=categories))
