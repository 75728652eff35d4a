"""Reading runs back with tensorboard's own readers, for comparisons value by value."""

from __future__ import annotations

import io
import os

import numpy as np
from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader, LegacyEventFileLoader
from tensorboard.util import tensor_util

KEEP_ALL = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
KEEP_ALL_TENSORS = {kind: 0 for kind in plugin_event_accumulator.DEFAULT_SIZE_GUIDANCE}


def run_dirs(logdir: str) -> dict[str, str]:
    """Run name (relative path, "." for the root) -> directory, for dirs with event files."""
    runs = {}
    for directory, subdirs, files in os.walk(logdir):
        subdirs.sort()
        if any("tfevents" in name for name in files):
            runs[os.path.relpath(directory, logdir)] = directory
    return runs


def event_paths(run_dir: str) -> list[str]:
    return sorted(os.path.join(run_dir, n) for n in os.listdir(run_dir) if "tfevents" in n)


def loaded_run(run_dir: str) -> dict[str, dict]:
    """What TensorBoard's loading path (data_compat + dataclass_compat) makes of a run.

    tag -> {"metadata": (plugin_name, content, data_class) of the first value,
            "points": [(step, wall_time, ndarray)]}
    """
    tags: dict[str, dict] = {}
    for path in event_paths(run_dir):
        for event in EventFileLoader(path).Load():
            if event.WhichOneof("what") != "summary":
                continue
            for value in event.summary.value:
                entry = tags.get(value.tag)
                if entry is None:
                    metadata = value.metadata
                    entry = tags[value.tag] = {
                        "metadata": (
                            metadata.plugin_data.plugin_name,
                            _content(metadata.plugin_data),
                            metadata.data_class,
                        ),
                        "points": [],
                    }
                entry["points"].append((event.step, event.wall_time, tensor_util.make_ndarray(value.tensor)))
    return tags


def _content(plugin_data) -> object:
    """The plugin's content, decoded where it holds a map (whose order on the wire is free:
    eventwriter writes hparams in key order, torch in insertion order)."""
    if plugin_data.plugin_name == "hparams":
        from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

        return HParamsPluginData.FromString(plugin_data.content)
    return plugin_data.content


def other_events(run_dir: str) -> list[tuple]:
    """Non-summary events after each file's first: (kind, step, detail)."""
    out = []
    for path in event_paths(run_dir):
        events = list(LegacyEventFileLoader(path).Load())
        assert events[0].file_version == "brain.Event:2"
        for event in events[1:]:
            what = event.WhichOneof("what")
            if what != "summary":
                detail = event.session_log.status if what == "session_log" else getattr(event, what)
                out.append((what, event.step, detail))
    return out


def assert_same_loaded_runs(torch_logdir: str, our_logdir: str, check_wall_time: bool = True) -> None:
    """Both log dirs hold the same runs, tags, metadata and values, as TensorBoard loads them."""
    torch_runs, our_runs = run_dirs(torch_logdir), run_dirs(our_logdir)
    assert sorted(torch_runs) == sorted(our_runs)
    for run in torch_runs:
        theirs, ours = loaded_run(torch_runs[run]), loaded_run(our_runs[run])
        assert sorted(theirs) == sorted(ours), run
        for tag in theirs:
            assert theirs[tag]["metadata"] == ours[tag]["metadata"], (run, tag)
            their_points, our_points = theirs[tag]["points"], ours[tag]["points"]
            assert [p[0] for p in their_points] == [p[0] for p in our_points], (run, tag)
            if check_wall_time:
                assert [p[1] for p in their_points] == [p[1] for p in our_points], (run, tag)
            for (step, _, their_array), (_, _, our_array) in zip(their_points, our_points):
                assert their_array.dtype == our_array.dtype, (run, tag, step)
                if theirs[tag]["metadata"][0] in ("images", "audio"):
                    assert_same_blobs(their_array, our_array, f"{run} {tag} step {step}")
                else:
                    np.testing.assert_array_equal(their_array, our_array, err_msg=f"{run} {tag} step {step}")
        assert other_events(torch_runs[run]) == other_events(our_runs[run]), run


def decode_blob(blob: bytes) -> np.ndarray:
    """Pixels of a PNG or GIF, or samples of a WAV."""
    if blob.startswith(b"RIFF"):
        import wave

        with wave.open(io.BytesIO(blob)) as wav:
            frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            return frames.reshape(-1, wav.getnchannels())
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(blob)))


def assert_same_blobs(theirs: np.ndarray, ours: np.ndarray, where: str) -> None:
    """Image and audio blob sequences: same sizes/labels, same decoded pixels or samples."""
    assert theirs.shape == ours.shape, where
    their_items, our_items = theirs.reshape(-1), ours.reshape(-1)
    header = 2 if their_items[0].isdigit() else 0  # images: width, height, then the blobs
    assert list(their_items[:header]) == list(our_items[:header]), where
    for their_blob, our_blob in zip(their_items[header:], our_items[header:]):
        their_data, our_data = decode_blob(their_blob), decode_blob(our_blob)
        assert their_data.shape == our_data.shape, where
        assert np.array_equal(their_data, our_data), f"{where}: decoded contents differ"


def accumulate(run_dir: str) -> event_accumulator.EventAccumulator:
    accumulator = event_accumulator.EventAccumulator(run_dir, size_guidance=KEEP_ALL)
    accumulator.Reload()
    return accumulator


def accumulate_tensors(run_dir: str) -> plugin_event_accumulator.EventAccumulator:
    accumulator = plugin_event_accumulator.EventAccumulator(run_dir, size_guidance=KEEP_ALL_TENSORS)
    accumulator.Reload()
    return accumulator


def plugin_routes(plugin_class, logdir: str):
    """``get(route, **params) -> bytes`` over a TensorBoard plugin's routes for ``logdir``,
    with the plugin built as the TensorBoard server builds it."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, logdir)
    apps = plugin_class(base_plugin.TBContext(logdir=logdir, data_provider=provider)).get_plugin_apps()

    def get(route: str, **params: str) -> bytes:
        response = Client(apps[route]).get("/", query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return bytes(response.get_data())

    return get
