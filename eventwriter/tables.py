"""Runs read back as tables: pandas DataFrames, or numpy columns without pandas.

Every function takes a log dir (searched recursively) or one event file, local or a URL
(``storage_options`` for its file system), and ``runs`` / ``tags`` to keep only those
names. ``run`` is the directory of a file relative to the path, ``"."`` for the path
itself, as TensorBoard names runs. Rows are in file order within each run and tag.

Files of any writer read the same (torch, tensorboardX, TensorFlow, eventwriter). Damage
is a ``DamagedRecordWarning`` naming the file and byte offset, and reading goes on where
TensorBoard's would (eventwriter.columns); a truncated tail (a run still writing) ends
its file quietly. A file that cannot be read (gone since the listing) is a warning too.

Scalars go through eventwriter.columns (bulk decoding); the other kinds, far fewer
records, through protobuf, skipping scalar events undecoded.
"""

from __future__ import annotations

import importlib
import io
import os
import warnings
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Optional

import numpy as np

from eventwriter.arrays import tensor_to_array
from eventwriter.columns import scalar_columns, summary_events
from eventwriter.errors import DamagedRecordWarning, RecordError
from eventwriter.logdir import SkippedEntry, find_event_files, open_regular
from eventwriter.proto.hparams_pb2 import HParamsPluginData
from eventwriter.proto.summary_pb2 import Summary
from eventwriter.reader import plugin_of

__all__ = [
    "read_histograms",
    "read_hparams",
    "read_images",
    "read_pr_curves",
    "read_scalars",
    "read_tensors",
    "read_text",
    "scalar_arrays",
]

Names = Optional[Collection[str]]


def _runs(path: str | os.PathLike[str], runs: Names, storage_options: Mapping[str, Any] | None) -> dict[str, list[str]]:
    skipped: list[SkippedEntry] = []
    found = find_event_files(path, skipped=skipped, storage_options=storage_options)
    for entry in skipped:
        if not entry.searched:  # a directory named like an event file is searched like any other
            warnings.warn(f"{entry.path}: {entry.reason}; left out", DamagedRecordWarning, stacklevel=4)
    return {run: files for run, files in found.items() if runs is None or run in runs}


def _read(
    path: str, storage_options: Mapping[str, Any] | None, skipped: list[SkippedEntry] | None = None
) -> bytes | None:
    """The file's bytes; None if it cannot be read (gone since the listing, an I/O error),
    which is appended to ``skipped`` if given, else a warning."""
    try:
        with open_regular(path, storage_options) as handle:
            return handle.read()
    except OSError as exc:
        entry = SkippedEntry.from_error(path, exc)
        if skipped is not None:
            skipped.append(entry)
        else:
            warnings.warn(f"{entry.path}: {entry.reason}; left out", DamagedRecordWarning, stacklevel=4)
        return None


def _warn(problems: list[RecordError]) -> None:
    for problem in problems:
        what = "the rest of the file is left out" if problem.reason == "length CRC mismatch" else "record left out"
        warnings.warn(f"{problem}; {what}", DamagedRecordWarning, stacklevel=4)


# -- scalars ------------------------------------------------------------------------------


def scalar_arrays(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Every scalar under ``path`` as numpy columns ``run``, ``tag`` (arrays of str),
    ``step`` (int64), ``wall_time`` and ``value`` (float64); no pandas needed.

    Values are ``simple_value``, one-element float32/float64/float16 tensors of tags
    whose first value names the scalars plugin (torch's ``new_style=True``, TensorFlow 2's
    ``tf.summary.scalar``); NaN and infinities are kept.
    """
    return scalar_arrays_of(_runs(path, runs, storage_options), tags, storage_options)


def scalar_arrays_of(
    found: Mapping[str, list[str]],
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
    *,
    skipped: list[SkippedEntry] | None = None,
) -> dict[str, np.ndarray]:
    """``scalar_arrays`` of runs already found (run name -> its event files, in order);
    files that cannot be read go to ``skipped`` if given, else are warned about."""
    run_codes, tag_codes, steps, walls, values = [], [], [], [], []
    run_names: list[str] = []
    tag_index: dict[str, int] = {}
    for run, files in found.items():
        plugins: dict[str, str] = {}
        read = []
        for file in files:
            data = _read(file, storage_options, skipped)
            if data is not None:
                columns = scalar_columns(data, file, plugins)
                _warn(columns.problems)
                read.append(columns)
        kept = 0
        for columns in read:  # the run is read: every tag's plugin is known
            scalar_tag = np.array([plugins.get(name) == "scalars" for name in columns.tags] + [False])
            keep = scalar_tag[columns.tag]  # a simple_value of a tag of another plugin is no scalar either
            if tags is not None:
                keep &= np.array([name in tags for name in columns.tags] + [False])[columns.tag]
            if not keep.any():
                continue
            local = np.array([tag_index.setdefault(name, len(tag_index)) for name in columns.tags], dtype=np.int64)
            tag_codes.append(local[columns.tag[keep]])
            steps.append(columns.step[keep])
            walls.append(columns.wall_time[keep])
            values.append(columns.value[keep])
            run_codes.append(np.full(int(keep.sum()), len(run_names), dtype=np.int64))
            kept += 1
        if kept:
            run_names.append(run)
    tag_names = list(tag_index)
    run_code = np.concatenate(run_codes) if run_codes else np.zeros(0, dtype=np.int64)
    tag_code = np.concatenate(tag_codes) if tag_codes else np.zeros(0, dtype=np.int64)
    return {
        "run": np.array(run_names or [""], dtype=object)[run_code],  # object: str arrays drop trailing NULs
        "tag": np.array(tag_names or [""], dtype=object)[tag_code],
        "step": np.concatenate(steps) if steps else np.zeros(0, dtype=np.int64),
        "wall_time": np.concatenate(walls) if walls else np.zeros(0),
        "value": np.concatenate(values) if values else np.zeros(0),
        "_run_code": run_code,
        "_run_names": np.array(run_names, dtype=object),
        "_tag_code": tag_code,
        "_tag_names": np.array(tag_names, dtype=object),
    }


def read_scalars(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Every scalar under ``path`` as a pandas DataFrame with the columns ``run``, ``tag``
    (categorical), ``step``, ``wall_time``, ``value`` (see ``scalar_arrays``)."""
    pandas = _pandas()
    columns = scalar_arrays(path, runs=runs, tags=tags, storage_options=storage_options)
    return pandas.DataFrame(
        {
            "run": pandas.Categorical.from_codes(columns["_run_code"], categories=_categories(columns["_run_names"])),
            "tag": pandas.Categorical.from_codes(columns["_tag_code"], categories=_categories(columns["_tag_names"])),
            "step": columns["step"],
            "wall_time": columns["wall_time"],
            "value": columns["value"],
        }
    )


def _categories(names: np.ndarray) -> list[str]:
    return list(names) if len(names) else []


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ImportError(
            "reading into DataFrames needs pandas: pip install 'eventwriter[pandas]' "
            "(eventwriter.tables.scalar_arrays gives numpy columns without it)"
        ) from None


# -- the other kinds ----------------------------------------------------------------------


def _values(
    path: str | os.PathLike[str], runs: Names, tags: Names, storage_options: Mapping[str, Any] | None
) -> Iterator[tuple[str, str, int, float, Summary.Value, str]]:
    """(run, tag, step, wall_time, value, plugin of the tag's first value in the run) of
    every summary value but single simple_value scalars, in file order."""
    for run, files in _runs(path, runs, storage_options).items():
        plugins: dict[str, str] = {}
        for file in files:
            data = _read(file, storage_options)
            if data is None:
                continue
            problems: list[RecordError] = []
            events = summary_events(data, file, problems)
            _warn(problems)
            seen: set[str] = set()  # tags met in this file (see eventwriter.columns._decide_plugins)
            for event in events:
                if isinstance(event, str):  # a simple_value, left undecoded: a scalars value of this tag
                    plugins.setdefault(event, "scalars" if event not in seen else "")
                    seen.add(event)
                    continue
                for value in event.summary.value:
                    given = plugin_of(value)
                    if given is not None and value.tag not in plugins:
                        plugins[value.tag] = given if value.tag not in seen else ""
                    seen.add(value.tag)
                    plugin = plugins.get(value.tag, "")
                    if tags is None or value.tag in tags:
                        yield run, value.tag, event.step, event.wall_time, value, plugin


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    pandas = _pandas()
    return pandas.DataFrame(rows, columns=columns)


_BASE = ["run", "tag", "step", "wall_time"]


def read_histograms(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Histograms as a DataFrame: ``run, tag, step, wall_time, edges, counts``, where
    ``edges`` (float64, one more than ``counts``) bound the buckets as TensorBoard draws
    them. Old-style ``histo`` values (torch, tensorboardX) are converted as TensorBoard's
    loader converts them: the empty buckets at both ends dropped, the first bucket from
    ``min``, the last to ``max`` (kept in float64 here, where TensorBoard rounds to
    float32); new-style ``[k, 3]`` tensors (TensorFlow 2) give their own."""
    rows = []
    for run, tag, step, wall_time, value, plugin in _values(path, runs, tags, storage_options):
        if plugin != "histograms":
            continue
        if value.HasField("histo"):
            edges, counts = _histo_buckets(value.histo)
        elif value.HasField("tensor"):
            array = tensor_to_array(value.tensor).astype(np.float64)
            if array.ndim != 2 or array.shape[1] != 3:
                continue
            edges = np.append(array[:, 0], array[-1, 1]) if len(array) else np.zeros(0)
            counts = array[:, 2]
        else:
            continue
        rows.append({"run": run, "tag": tag, "step": step, "wall_time": wall_time, "edges": edges, "counts": counts})
    return _frame(rows, [*_BASE, "edges", "counts"])


def _below(run: str, group: str) -> str:
    """The run of a metric group of a session run (for the log dir's own session "." no
    run: TensorBoard looks for "./group")."""
    return run if not group else f"{run}/{group}"


def _session_of(run: str, sessions: Mapping[str, object]) -> str | None:
    """The session run that is ``run`` or the nearest directory above it (the log dir's
    own session "." is nobody's parent, as in TensorBoard)."""
    while True:
        if run in sessions:
            return run
        if "/" not in run:
            return None
        run = run.rsplit("/", 1)[0]


def _histo_buckets(histo: Any) -> tuple[np.ndarray, np.ndarray]:
    counts = list(histo.bucket)
    filled = [index for index, count in enumerate(counts) if count > 0]
    if not filled:
        return np.zeros(0), np.zeros(0)
    start, end = filled[0], filled[-1]
    edges = np.array([histo.min, *histo.bucket_limit[start:end], histo.max], dtype=np.float64)
    return edges, np.array(counts[start : end + 1], dtype=np.float64)


def read_images(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    decode: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Images as a DataFrame: ``run, tag, step, wall_time, index, width, height, image``
    (the encoded bytes, PNG as torch writes them); ``index`` counts the images of one
    value (new-style image tensors hold several). With ``decode``, a ``pixels`` column
    of uint8 arrays (H, W, C), decoded by Pillow."""
    rows = []
    for run, tag, step, wall_time, value, plugin in _values(path, runs, tags, storage_options):
        if plugin != "images":
            continue
        if value.HasField("image"):
            images = [(value.image.width, value.image.height, value.image.encoded_image_string)]
        elif value.HasField("tensor"):
            strings = list(value.tensor.string_val)
            if len(strings) < 2:
                continue
            width, height = int(strings[0] or 0), int(strings[1] or 0)
            images = [(width, height, blob) for blob in strings[2:]]
        else:
            continue
        for index, (width, height, blob) in enumerate(images):
            row = {"run": run, "tag": tag, "step": step, "wall_time": wall_time, "index": index}
            row.update(width=width, height=height, image=blob)
            if decode:
                row["pixels"] = _decode_image(blob)
            rows.append(row)
    return _frame(rows, [*_BASE, "index", "width", "height", "image", *(["pixels"] if decode else [])])


def _decode_image(blob: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as image:
        pixels = np.asarray(image)
    return pixels if pixels.ndim == 3 else pixels[:, :, None]


def read_text(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Text (the text plugin's string tensors) as a DataFrame: ``run, tag, step,
    wall_time, text``; a single string as ``str``, a table of strings as an array of str."""
    rows = []
    for run, tag, step, wall_time, value, plugin in _values(path, runs, tags, storage_options):
        if plugin != "text" or not value.HasField("tensor"):
            continue
        array = tensor_to_array(value.tensor)
        texts = (
            np.vectorize(lambda item: item.decode("utf-8", "replace"), otypes=[object])(array) if array.size else array
        )
        text = texts.item() if texts.size == 1 else texts.astype(str)
        rows.append({"run": run, "tag": tag, "step": step, "wall_time": wall_time, "text": text})
    return _frame(rows, [*_BASE, "text"])


def read_tensors(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Every tensor value as a DataFrame: ``run, tag, step, wall_time, plugin, tensor``
    (a numpy array, as TensorBoard's ``tensor_util.make_ndarray`` gives it)."""
    rows = []
    for run, tag, step, wall_time, value, plugin in _values(path, runs, tags, storage_options):
        if value.HasField("tensor"):
            row = {"run": run, "tag": tag, "step": step, "wall_time": wall_time, "plugin": plugin}
            row["tensor"] = tensor_to_array(value.tensor)
            rows.append(row)
    return _frame(rows, [*_BASE, "plugin", "tensor"])


_PR_ROWS = ("true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall")


def read_pr_curves(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    tags: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """PR curves as a DataFrame: ``run, tag, step, wall_time, thresholds`` and the six
    arrays of the curve (``true_positives`` ... ``recall``), one entry per threshold."""
    rows = []
    for run, tag, step, wall_time, value, plugin in _values(path, runs, tags, storage_options):
        if plugin != "pr_curves" or not value.HasField("tensor"):
            continue
        array = tensor_to_array(value.tensor).astype(np.float64)
        if array.ndim != 2 or array.shape[0] != 6:
            continue
        count = array.shape[1]
        row: dict[str, Any] = {"run": run, "tag": tag, "step": step, "wall_time": wall_time}
        row["thresholds"] = np.linspace(0.0, 1.0, count)  # as TensorBoard's PR curve plugin
        row.update(zip(_PR_ROWS, array))
        rows.append(row)
    return _frame(rows, [*_BASE, "thresholds", *_PR_ROWS])


def read_hparams(
    path: str | os.PathLike[str],
    *,
    runs: Names = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """One row per hparams session: ``run`` (the session's run), a column per
    hyperparameter (in name order), and a column per metric, holding the metric's last
    value in the session (its tag in the session's run, or in ``run/group``) — the table
    TensorBoard's HParams dashboard shows. The metrics are those the experiments name; if
    none does, every scalar tag in a session's run or below it, as TensorBoard infers
    them. Missing values are NaN (None for text)."""
    sessions: dict[str, dict[str, Any]] = {}
    metrics: dict[tuple[str, str], None] = {}  # (group, tag), in the order first named
    for run, _tag, _step, _wall, value, plugin in _values(path, runs, None, storage_options):
        if plugin != "hparams":
            continue
        data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
        if data.HasField("experiment"):
            for info in data.experiment.metric_infos:
                metrics.setdefault((info.name.group, info.name.tag), None)
        if data.HasField("session_start_info"):
            hparams = sessions.setdefault(run, {})
            for name, item in data.session_start_info.hparams.items():
                kind = item.WhichOneof("kind")
                hparams[name] = None if kind in (None, "null_value") else getattr(item, kind)
    if not sessions:
        return _frame([], ["run"])
    if metrics:  # the metrics the experiments name, in their sessions' runs or groups
        wanted_runs = {_below(run, group) for run in sessions for group, _ in metrics}
        tags_wanted: set[str] | None = {tag for _, tag in metrics}
    else:  # none named (TensorFlow 2 without hparams_config): every scalar tag at or below a session
        wanted_runs, tags_wanted = None, None
    scalars = scalar_arrays(path, runs=wanted_runs, tags=tags_wanted, storage_options=storage_options)
    last: dict[tuple[str, str], float] = {}
    for run, tag, value in zip(scalars["run"].tolist(), scalars["tag"].tolist(), scalars["value"].tolist()):
        last[run, tag] = value
    if not metrics:
        for run, tag in last:
            session = _session_of(run, sessions)
            if session is not None:
                group = "" if run == session else run[len(session) + 1 :]
                metrics.setdefault((group, tag), None)
    rows = []
    for run, hparams in sessions.items():
        row: dict[str, Any] = {"run": run, **hparams}
        for group, tag in metrics:
            row[tag if not group else f"{group}/{tag}"] = last.get((_below(run, group), tag), np.nan)
        rows.append(row)
    names = sorted({name for hparams in sessions.values() for name in hparams})  # map order on the wire is free
    metric_columns = [tag if not group else f"{group}/{tag}" for group, tag in metrics]
    return _frame(rows, ["run", *names, *[m for m in metric_columns if m not in names]])
