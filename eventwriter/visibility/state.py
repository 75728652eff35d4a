"""What is known of a run while its files are read for both loaders: each tag's view,
each loader's series, and what was lost before a tag's series was made."""

from __future__ import annotations

from dataclasses import dataclass, field

from eventwriter.proto.summary_pb2 import Summary
from eventwriter.visibility.default_loader import DefaultSeries
from eventwriter.visibility.findings import DEFAULT, PYTHON, Finding
from eventwriter.visibility.kinds import IMPLIED, Losses
from eventwriter.visibility.python_loader import PythonRun

__all__ = ["RunState", "TagView"]


@dataclass
class TagView:
    """One tag of one run: its plugin (that of its first value with one), how many values
    its files hold, and how many each loader keeps (``shown``, at most: after drops,
    replacements and sampling)."""

    run: str
    tag: str
    plugin: str
    values: int = 0
    first_step: int | None = None
    last_step: int | None = None
    shown: dict[str, int] = field(default_factory=dict)
    exact: dict[str, bool] = field(default_factory=dict)  # False: ``shown`` is only an upper bound


@dataclass
class RunState:
    name: str
    views: dict[str, TagView] = field(default_factory=dict)
    default: dict[str, DefaultSeries] = field(default_factory=dict)
    python: PythonRun = field(default_factory=PythonRun)
    unread: dict[str, dict[str, Losses]] = field(default_factory=lambda: {DEFAULT: {}, PYTHON: {}})
    python_stopped: tuple[str, str] | None = None  # the Python loader died at a record that is no Event
    findings: list[Finding] = field(default_factory=list)
    listed: bool = False  # the default loader has read an event with a finite wall time
    contents: dict[str, bytes] = field(default_factory=dict)  # an hparams tag's first plugin content
    other_contents: dict[str, list[int]] = field(default_factory=dict)  # tag -> [later other contents, first step]

    def view(self, value: Summary.Value, step: int) -> TagView:
        view = self.views.get(value.tag)
        if view is None:
            view = self.views[value.tag] = TagView(self.name, value.tag, "")
        if not view.plugin:
            view.plugin = IMPLIED.get(value.WhichOneof("value") or "") or value.metadata.plugin_data.plugin_name
        view.values += 1
        view.first_step = step if view.first_step is None else min(view.first_step, step)
        view.last_step = step if view.last_step is None else max(view.last_step, step)
        return view
