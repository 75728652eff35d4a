"""Every summary kind beyond scalars and text, read back with eventwriter's own reader,
and the bad input each refuses. Comparisons with torch are in tests/interop."""

from __future__ import annotations

import importlib
import importlib.util
import io
import wave

import numpy as np
import pytest
from helpers import assert_refused_and_writer_keeps_working, run_events, summary_values

from eventwriter import SummaryWriter, summary
from eventwriter.plugins import Deferred, histograms, pr_curves
from eventwriter.plugins.histograms import prepare_histogram
from eventwriter.plugins.images import prepare_image
from eventwriter.proto import hparams_pb2, plugin_data_pb2
from eventwriter.proto.custom_scalar_pb2 import Layout
from eventwriter.proto.mesh_plugin_data_pb2 import MeshPluginData
from eventwriter.tensorflow_buckets import tensorflow_tally

needs_pillow = pytest.mark.skipif(
    importlib.util.find_spec("PIL") is None, reason="images need Pillow (the images extra)"
)


def only_value(logdir):
    ((_, _, value),) = summary_values(logdir)
    return value


PLUGIN_MODULES = ["scalars", "text", "tensor", "histograms", "images", "video", "audio", "pr_curves", "mesh",
                  "hparams", "custom_scalars", "graphs"]  # fmt: skip
NO_METADATA = {"histograms", "images", "video", "audio", "graphs"}  # legacy Summary.Value fields, and events


@pytest.mark.parametrize("name", PLUGIN_MODULES)
def test_plugin_modules_have_one_shape(name):
    module = importlib.import_module(f"eventwriter.plugins.{name}")
    assert "On disk" in module.__doc__
    assert isinstance(module.PLUGIN_NAME, str) and module.PROTO_VERSION == 0
    assert {"PLUGIN_NAME", "PROTO_VERSION"} <= set(module.__all__)
    assert all(hasattr(module, export) for export in module.__all__)
    assert hasattr(module, "create_summary_metadata") == (name not in NO_METADATA)


def test_summary_gathers_the_builders_of_the_plugin_modules():
    for name in summary.__all__:
        builder = getattr(summary, name)
        assert builder.__module__.startswith("eventwriter.plugins."), name
        assert builder.__doc__ and "Returns:" in builder.__doc__ and "Raises:" in builder.__doc__, name


def test_prepared_summaries_own_their_data():
    values = np.arange(10.0)
    deferred = prepare_histogram("h", values, "tensorflow")
    assert isinstance(deferred, Deferred) and deferred.weight == values.nbytes
    values[:] = 99.0
    assert deferred.build() == summary.histogram("h", np.arange(10.0), "tensorflow")
    assert prepare_histogram("h", values, "auto").weight == 0  # built in the call: numpy may refuse the data
    pixels = np.zeros((4, 5, 3), dtype=np.uint8)
    deferred = prepare_image("i", pixels, dataformats="HWC")
    assert deferred.weight == pixels.nbytes
    pixels[:] = 255
    assert deferred.build() == summary.image("i", np.zeros((4, 5, 3), dtype=np.uint8), dataformats="HWC")


def test_tensorflow_bins_are_the_1549_edges():
    edges = histograms.tensorflow_bins()
    assert len(edges) == 1549 and edges[774] == 0.0
    assert edges[775] == 1e-12 and edges[773] == -1e-12
    assert edges[-1] < 1e20 < edges[-1] * 1.1
    assert edges == sorted(edges) and edges[:774] == [-e for e in reversed(edges[775:])]


def test_histogram_is_trimmed_with_one_empty_bucket_on_the_left(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_histogram("h", [1.0, 1.0, 2.0, 10.0], 5, bins=[0, 1.5, 3, 6, 12, 24])
    histo = only_value(logdir).histo
    assert (histo.min, histo.max, histo.num, histo.sum, histo.sum_squares) == (1, 10, 4, 14, 106)
    assert list(histo.bucket_limit) == [0, 1.5, 3, 6, 12]  # right edges; the first bucket is the empty one
    assert list(histo.bucket) == [0, 2, 1, 0, 1]


def test_add_histogram_raw_writes_what_it_is_given(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_histogram_raw("raw", 0, 9, 10, 45, 285, [1.5, 5.5, 9.5], [2, 4, 4], 1)
    histo = only_value(logdir).histo
    assert list(histo.bucket_limit) == [1.5, 5.5, 9.5] and list(histo.bucket) == [2, 4, 4]
    assert (histo.min, histo.max, histo.num) == (0, 9, 10)


def test_audio_is_a_16_bit_wav(logdir):
    samples = np.linspace(-1, 1, 101)
    with SummaryWriter(logdir) as writer:
        writer.add_audio("a", samples, 0, sample_rate=8000)
    audio = only_value(logdir).audio
    assert (audio.sample_rate, audio.num_channels, audio.length_frames, audio.content_type) == (
        8000,
        1,
        101,
        "audio/wav",
    )
    with wave.open(io.BytesIO(audio.encoded_audio_string)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (1, 2, 8000, 101)
        pcm = np.frombuffer(wav.readframes(101), dtype="<i2")
    np.testing.assert_array_equal(pcm, (samples * 32767).astype(np.int16))


def test_pr_curve_layout(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_pr_curve("pr", [0, 1, 1, 0], [0.2, 0.8, 0.6, 0.4], 1, num_thresholds=5)
    value = only_value(logdir)
    content = plugin_data_pb2.PrCurvePluginData.FromString(value.metadata.plugin_data.content)
    assert (value.metadata.plugin_data.plugin_name, content.num_thresholds) == ("pr_curves", 5)
    curve = np.array(value.tensor.float_val).reshape(6, 5)
    assert [d.size for d in value.tensor.tensor_shape.dim] == [6, 5]
    np.testing.assert_allclose(curve[:, 0], [2, 2, 0, 0, 0.5, 1])  # tp, fp, tn, fn, precision, recall at 0


def test_mesh_values(logdir):
    vertices = np.zeros((1, 4, 3))
    with SummaryWriter(logdir) as writer:
        writer.add_mesh("m", vertices, colors=np.full((1, 4, 3), 255), faces=np.array([[[0, 1, 2]]]))
    values = {tag: value for _, tag, value in summary_values(logdir)}
    assert sorted(values) == ["m_COLOR", "m_FACE", "m_VERTEX"]
    data = MeshPluginData.FromString(values["m_FACE"].metadata.plugin_data.content)
    assert (data.name, data.content_type, data.components, list(data.shape)) == (
        "m",
        MeshPluginData.FACE,
        14,
        [1, 1, 3],
    )
    assert data.json_config == "{}"


def test_hparams_summaries_are_metadata_only():
    experiment, start, end = summary.hparams({"lr": 0.1, "name": "x", "flag": True, "skip": None}, {"acc": 0})
    tags = [s.value[0].tag for s in (experiment, start, end)]
    assert tags == ["_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"]
    assert all(s.value[0].WhichOneof("value") is None for s in (experiment, start, end))
    data = hparams_pb2.HParamsPluginData.FromString(start.value[0].metadata.plugin_data.content)
    hparams = data.session_start_info.hparams  # "skip" (None) is left out
    kinds = {name: value.WhichOneof("kind") for name, value in hparams.items()}
    assert kinds == {"lr": "number_value", "name": "string_value", "flag": "bool_value"}
    assert (hparams["lr"].number_value, hparams["name"].string_value, hparams["flag"].bool_value) == (0.1, "x", True)
    end_data = hparams_pb2.HParamsPluginData.FromString(end.value[0].metadata.plugin_data.content)
    assert end_data.session_end_info.status == hparams_pb2.STATUS_SUCCESS


def test_custom_scalars_layout(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_custom_scalars({"A": {"lines": ["Multiline", ["x/.*"]], "band": ["Margin", ["m", "lo", "hi"]]}})
    value = only_value(logdir)
    assert value.tag == "custom_scalars__config__"
    layout = Layout.FromString(value.tensor.string_val[0])
    charts = layout.category[0].chart
    assert [c.title for c in charts] == ["lines", "band"]
    assert list(charts[0].multiline.tag) == ["x/.*"] and charts[1].margin.series[0].upper == "hi"


def with_pillow(*case):
    """A bad call that needs Pillow to get as far as its error."""
    return pytest.param(*case, marks=needs_pillow)


BAD_CALLS = [
    (lambda w: w.add_histogram("h", []), ValueError, r"'h': values is empty"),
    (lambda w: w.add_histogram("h", [1.0, np.inf]), ValueError, r"'h': values must be finite, got 1 NaN or infinite"),
    (lambda w: w.add_histogram("h", [1.0], bins="bogus"), ValueError, r"'h': bins must be 'tensorflow', one of auto"),
    (lambda w: w.add_histogram("h", [1.0], bins=0), ValueError, r"'h': bins must be a positive number"),
    (lambda w: w.add_histogram("h", [1.0], bins=[2, 1]), ValueError, r"'h': bins given as edges must be"),
    (lambda w: w.add_histogram("h", [50.0], bins=[0, 1]), ValueError, r"'h': no value lies inside the bins"),
    (lambda w: w.add_histogram("h", [1e30]), ValueError, r"'h': no value lies inside the bins \(from -9.*e\+19"),
    (lambda w: w.add_histogram("h", [1.0], bins=1.5), TypeError, r"'h': bins must be a str, an int or a sequence"),
    (lambda w: w.add_histogram("h", [1.0], bins=None), TypeError, r"'h': bins must be .* got NoneType"),
    (lambda w: w.add_histogram("h", [1.0], bins=True), TypeError, r"'h': bins must be .* got bool"),
    (lambda w: w.add_histogram("h", [1.0], bins=[0, "a"]), TypeError, r"'h': bins must be .* got list"),
    (lambda w: w.add_histogram("h", [1.0], max_bins=0), ValueError, r"'h': max_bins must be a positive int"),
    (lambda w: w.add_histogram("h", [1.0], max_bins="3"), TypeError, r"'h': max_bins must be a positive int"),
    (lambda w: w.add_histogram("h", ["a"]), TypeError, r"'h': values must hold real numbers"),
    (
        lambda w: w.add_histogram_raw("h", 0, 1, 2, 1, 1, [1, 2], [1]),
        ValueError,
        r"'h': bucket_limits and bucket_counts must have the same length, got 2 and 1",
    ),
    (lambda w: w.add_histogram_raw("h", "0", 1, 2, 1, 1, [1], [1]), TypeError, r"'h': min must be a real number"),
    (lambda w: w.add_histogram_raw("h", 0, 1, [2, 3], 1, 1, [1], [1]), TypeError, r"'h': num must be a real number"),
    (
        lambda w: w.add_histogram_raw("h", 0, 1, 2, 1, np.ones(2), [1], [1]),
        ValueError,
        r"'h': sum_squares must hold exactly one element",
    ),
    (
        lambda w: w.add_image("i", np.zeros((3, 4))),
        ValueError,
        r"'i': img_tensor: dataformats 'CHW' needs a 3-D array, got a 2-D one",
    ),
    (
        lambda w: w.add_image("i", np.zeros((3, 4, 5)), dataformats="CHX"),
        ValueError,
        r"'i': dataformats must be a permutation of NCHW, CHW or HW, got 'CHX'",
    ),
    (lambda w: w.add_image("i", np.zeros((3, 4, 5)), dataformats="CCW"), ValueError, r"permutation of NCHW, CHW or HW"),
    (
        lambda w: w.add_image("i", np.zeros((3, 4, 5)), dataformats=3),
        TypeError,
        r"'i': dataformats must be a str such as 'CHW', got int 3",
    ),
    (
        lambda w: w.add_image("i", np.zeros((2, 4, 5))),
        ValueError,
        r"'i': img_tensor: images need 1, 3 or 4 channels, got 2",
    ),
    (lambda w: w.add_image("i", np.zeros((3, 0, 5))), ValueError, r"'i': img_tensor: the image is empty"),
    (
        lambda w: w.add_images("i", np.zeros((2, 5, 4, 4))),
        ValueError,
        r"'i': img_tensor: images need 1, 3 or 4 channels, got 5",
    ),
    (
        lambda w: w.add_image("i", np.array([["a"]]), dataformats="HW"),
        TypeError,
        r"'i': img_tensor: image pixels must be numeric",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((2, 3))),
        ValueError,
        r"'b': box_tensor must have shape \(N, 4\)",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.array([["a", "b", "c", "d"]])),
        TypeError,
        r"'b': box_tensor must hold numbers",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((2, 4)), labels=["a"]),
        ValueError,
        r"'b': labels must name each of the 2 boxes, got 1",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((1, 4)), labels=[1]),
        TypeError,
        r"'b': labels must be a list of str",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((1, 4)), labels=5),
        TypeError,
        r"'b': labels must be a list of str, got int 5",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((1, 4)), rescale=0),
        ValueError,
        r"'b': rescale must be a positive number",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((1, 4)), rescale="x"),
        TypeError,
        r"'b': rescale must be a positive number, got str 'x'",
    ),
    with_pillow(
        lambda w: w.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((1, 4)), dataformats=None),
        TypeError,
        r"'b': dataformats must be a str",
    ),
    (
        lambda w: w.add_figure("f", "not a figure"),
        TypeError,
        r"'f': figure must be a matplotlib Figure or a list of them, got str",
    ),
    (lambda w: w.add_figure("f", [object()]), TypeError, r"'f': figure must be a matplotlib Figure"),
    (lambda w: w.add_figure("f", []), ValueError, r"'f': the list of figures is empty"),
    with_pillow(
        lambda w: w.add_video("v", np.zeros((2, 3, 8, 8))),
        ValueError,
        r"'v': vid_tensor: a video needs 5 dimensions \(N, T, C, H, W\)",
    ),
    with_pillow(
        lambda w: w.add_video("v", np.zeros((1, 2, 4, 8, 8))),
        ValueError,
        r"'v': vid_tensor: video frames need 1 or 3 channels, got 4",
    ),
    with_pillow(
        lambda w: w.add_video("v", np.zeros((1, 2, 3, 8, 8)), fps=0),
        ValueError,
        r"'v': fps must be a positive number",
    ),
    with_pillow(
        lambda w: w.add_video("v", np.zeros((1, 2, 3, 8, 8)), fps=None),
        TypeError,
        r"'v': fps must be a positive number, got NoneType",
    ),
    (
        lambda w: w.add_audio("a", np.zeros((3, 10))),
        ValueError,
        r"'a': snd_tensor: audio must be mono \(L,\) or stereo",
    ),
    (lambda w: w.add_audio("a", [0.1, np.nan]), ValueError, r"'a': snd_tensor must be finite"),
    (lambda w: w.add_audio("a", [0.1], sample_rate=-5), ValueError, r"'a': sample_rate must be a positive number"),
    (lambda w: w.add_audio("a", [0.1], sample_rate="8000"), TypeError, r"'a': sample_rate must be a positive number"),
    (
        lambda w: w.add_audio("a", [0.1], sample_rate=1e12),
        ValueError,
        r"'a': sample_rate must be at most 2147483647 for 1",
    ),
    (lambda w: w.add_audio("a", []), ValueError, r"'a': snd_tensor is empty"),
    (lambda w: w.add_pr_curve("p", [0, 1], [0.5]), ValueError, r"'p': labels and predictions must have the same shape"),
    (lambda w: w.add_pr_curve("p", [0, 1], [0.5, 1.5]), ValueError, r"'p': predictions must lie in \[0, 1\]"),
    (lambda w: w.add_pr_curve("p", [0, 2], [0.5, 0.5]), ValueError, r"'p': labels must be 0/1, bool, or soft labels"),
    (lambda w: w.add_pr_curve("p", ["a", "b"], [0.5, 0.5]), TypeError, r"'p': labels must hold real numbers"),
    (
        lambda w: w.add_pr_curve("p", [0, 1], [0.5, 0.5], num_thresholds=1),
        ValueError,
        r"'p': num_thresholds must be an int of at least 2",
    ),
    (
        lambda w: w.add_pr_curve("p", [0, 1], [0.5, 0.5], num_thresholds=10.0),
        TypeError,
        r"'p': num_thresholds must be an int of at least 2, got float",
    ),
    (
        lambda w: w.add_pr_curve("p", [0, 1], [0.5, 0.5], weights=[1, 2, 3]),
        ValueError,
        r"'p': weights must be one number or one per label",
    ),
    (
        lambda w: w.add_pr_curve_raw("p", [1, 2], [1], [1, 2], [1, 2], [1, 2], [1, 2], num_thresholds=2),
        ValueError,
        r"'p': the six curves must have the same length",
    ),
    (
        lambda w: w.add_pr_curve_raw("p", [1], [1], [1], [1], [1], [1], num_thresholds="2"),
        TypeError,
        r"'p': num_thresholds must be an int",
    ),
    (
        lambda w: w.add_mesh("m", np.zeros((4, 3))),
        ValueError,
        r"'m': vertices must have shape \(B, N, 3\), got \(4, 3\)",
    ),
    (
        lambda w: w.add_mesh("m", np.zeros((1, 4, 3)), colors=np.zeros((1, 5, 3))),
        ValueError,
        r"'m': colors must match vertices",
    ),
    (
        lambda w: w.add_mesh("m", np.zeros((1, 4, 3)), faces=np.array([[[0, 1, 9]]])),
        ValueError,
        r"'m': faces must be \(B or 1, F, 3\) indices into the 4 vertices",
    ),
    (lambda w: w.add_mesh("m", np.zeros((1, 4, 3)), config_dict="x"), TypeError, r"'m': config_dict must be a dict"),
    (
        lambda w: w.add_mesh("m", np.zeros((1, 4, 3)), config_dict={"a": object()}),
        TypeError,
        r"'m': config_dict: object .* is not JSON",
    ),
    (
        lambda w: w.add_custom_scalars({"c": {"t": ["Pie", ["a"]]}}),
        ValueError,
        r"layout\['c'\]\['t'\]: the chart type must be 'Multiline' or 'Margin', got 'Pie'",
    ),
    (
        lambda w: w.add_custom_scalars({"c": {"t": [None, ["a"]]}}),
        TypeError,
        r"layout\['c'\]\['t'\]: the chart type must be 'Multiline' or 'Margin', got NoneType",
    ),
    (
        lambda w: w.add_custom_scalars_marginchart(["a", "b"]),
        ValueError,
        r"a margin chart needs 3 tags \(value, lower, upper\), got 2",
    ),
    (lambda w: w.add_custom_scalars({"c": ["a"]}), TypeError, r"layout\['c'\] must be a dict of charts"),
    (lambda w: w.add_custom_scalars(["c"]), TypeError, r"layout must be a dict of categories, got list"),
    (lambda w: w.add_custom_scalars({1: {}}), TypeError, r"layout's category names must be str, got int 1"),
    (
        lambda w: w.add_custom_scalars({"c": {2: ["Multiline", ["a"]]}}),
        TypeError,
        r"layout\['c'\]: chart titles must be str, got int 2",
    ),
    (lambda w: w.add_custom_scalars_multilinechart("loss"), TypeError, r"the tags must be a list of str"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_CALLS, ids=[str(i) for i in range(len(BAD_CALLS))])
def test_bad_input_is_refused_clearly_and_the_writer_keeps_working(logdir, call, error, message):
    assert_refused_and_writer_keeps_working(logdir, call, error, message)


BAD_BUILDER_CALLS = [
    (lambda: summary.scalar("x", "1.0"), TypeError, r"'x': tensor must be a real number"),
    (lambda: summary.make_histogram([1.0, np.nan], "tensorflow"), ValueError, r"^values must be finite, got 1 NaN"),
    (lambda: summary.make_histogram([50.0], [0, 1]), ValueError, r"^no value lies inside the bins"),
    (lambda: summary.make_histogram([1.0], "fd", max_bins="3"), TypeError, r"^max_bins must be a positive int"),
    (lambda: summary.make_histogram([1.0], 2.5), TypeError, r"^bins must be a str, an int or a sequence"),
    (lambda: summary.compute_curve([0, 1], [0.5, 2.0]), ValueError, r"^predictions must lie in \[0, 1\]"),
    (lambda: summary.compute_curve([0, 1], [0.5, 0.5], "9"), TypeError, r"^num_thresholds must be an int"),
    (
        lambda: summary.compute_curve([0, 1], np.float16([0.5, 0.5]), 70_000),
        ValueError,
        r"^float16 predictions cannot be bucketed into 70000 thresholds",
    ),
    (lambda: summary.image("i", np.zeros((1, 3, 4, 4)), rescale="2"), TypeError, r"'i': rescale must be a positive"),
    (lambda: summary.text("t", 5), TypeError, r"'t': text_string must be a str, got int"),
]


@pytest.mark.parametrize(
    ("call", "error", "message"), BAD_BUILDER_CALLS, ids=[str(i) for i in range(len(BAD_BUILDER_CALLS))]
)
def test_bad_input_to_torchs_builders(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("size", [10, 70_000, 200_000])  # one block of numpy.histogram's, and several
@pytest.mark.parametrize("thresholds", [2, 127, 1000])
def test_pr_bucket_sums_equal_numpy_histogram_as_torch_buckets(size, thresholds):
    rng = np.random.default_rng(size + thresholds)
    predictions = rng.random(size)
    predictions[:3] = [0.0, 1.0, np.nextafter(1.0, 0.0)]
    indices = np.int32(np.floor(predictions * (thresholds - 1)))
    weights = rng.random(size) * rng.random(size) * 1e3  # soft labels times weights: rounding matters
    expected, _ = np.histogram(indices, bins=thresholds, range=(0, thresholds - 1), weights=weights)
    got = pr_curves._bucket_sums(indices.astype(np.intp), weights, thresholds)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).random((6, 127)),
        np.array([[1e300, -1e300, np.nan, np.inf, -0.0, 1e-300, 3.4e38, 1e-46]] * 6),
        np.zeros((6, 2)),
        np.arange(6.0 * 70_000).reshape(6, 70_000),
    ],
    ids=["random", "special", "two-thresholds", "long"],
)
def test_pr_curve_tensors_are_the_messages_float_val_builds(values):
    from eventwriter.proto.tensor_pb2 import TensorProto, TensorShapeProto
    from eventwriter.proto.types_pb2 import DT_FLOAT

    expected = TensorProto(
        dtype=DT_FLOAT,
        float_val=values.reshape(-1).tolist(),
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in values.shape]),
    )
    assert pr_curves._float_tensor(values).SerializeToString() == expected.SerializeToString()


def test_compute_curve_defaults_to_127_thresholds():
    assert summary.compute_curve([0, 1, 1], [0.1, 0.7, 0.9]).shape == (6, 127)


def test_audio_beyond_one_warns_and_clips(logdir):
    with SummaryWriter(logdir) as writer:
        with pytest.warns(UserWarning, match=r"'a': audio samples reach 3, beyond \[-1, 1\]; clipped"):
            writer.add_audio("a", [0.5, -3.0, 1.5])
    with wave.open(io.BytesIO(only_value(logdir).audio.encoded_audio_string)) as wav:
        assert np.frombuffer(wav.readframes(3), dtype="<i2").tolist() == [16383, -32767, 32767]


@needs_pillow
def test_empty_box_tensor(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_image_with_boxes("b", np.zeros((3, 8, 8)), np.zeros((0, 4)), labels=[])
    assert only_value(logdir).image.width == 8


@needs_pillow
def test_labelled_boxes_are_drawn_with_every_supported_pillow(logdir):
    from PIL import Image

    with SummaryWriter(logdir) as writer:  # Pillow's default font: a bitmap one before 10.1
        writer.add_image_with_boxes("b", np.zeros((3, 40, 40)), np.array([[2, 2, 37, 37]]), labels=["cat"])
    pixels = np.asarray(Image.open(io.BytesIO(only_value(logdir).image.encoded_image_string)))
    assert pixels.shape == (40, 40, 3)
    assert tuple(pixels[2, 20]) == (255, 0, 0)  # the box's top edge
    label_area = pixels[28:37, 3:20]
    assert (label_area == (255, 0, 0)).all(axis=2).any() and (label_area == 0).all(axis=2).any()  # text on red


def test_config_with_numpy_numbers_and_chart_type_in_lower_case(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_mesh("m", np.zeros((1, 4, 3)), config_dict={"camera": {"fov": np.float32(75)}})
        writer.add_custom_scalars({"c": {"t": ["multiline", ["a"]]}})
    values = {tag: value for _, tag, value in summary_values(logdir)}
    assert b'"fov": 75.0' in values["m_VERTEX"].metadata.plugin_data.content
    (chart,) = Layout.FromString(values["custom_scalars__config__"].tensor.string_val[0]).category[0].chart
    assert list(chart.multiline.tag) == ["a"]


def test_pr_curve_raw_of_any_length_records_its_length(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_pr_curve_raw("p", [3, 2, 1], [3, 1, 0], [0, 2, 3], [0, 1, 2], [0.5, 0.6, 1], [1, 0.6, 0.3])
    value = only_value(logdir)
    assert [d.size for d in value.tensor.tensor_shape.dim] == [6, 3]
    assert plugin_data_pb2.PrCurvePluginData.FromString(value.metadata.plugin_data.content).num_thresholds == 3


def test_float16_audio_at_full_scale_does_not_wrap(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_audio("a", np.array([0.0, 1.0, -1.0, 0.5], dtype=np.float16))
    with wave.open(io.BytesIO(only_value(logdir).audio.encoded_audio_string)) as wav:
        assert np.frombuffer(wav.readframes(4), dtype="<i2").tolist() == [0, 32767, -32767, 16383]


@pytest.mark.parametrize(
    ("fps", "stride", "delay_ms"),
    [(4, 1, 250), (24, 1, 40), (30, 1, 30), (50, 1, 20), (60, 2, 30), (100, 2, 20), (240, 5, 20)],
)
def test_gif_timing_plays_in_real_time(fps, stride, delay_ms):
    from eventwriter.plugins.video import frame_plan

    assert frame_plan(1000, fps) == (stride, delay_ms)
    assert abs(stride / fps - delay_ms / 1000) <= 0.005 + 1e-9


@needs_pillow
def test_video_frames_and_delay_in_the_gif(logdir):
    from PIL import Image, ImageSequence

    frames = np.zeros((1, 12, 1, 4, 4), dtype=np.uint8)
    for index in range(12):
        frames[0, index] = index * 20
    with SummaryWriter(logdir) as writer:
        writer.add_video("v", frames, fps=100)
    gif = Image.open(io.BytesIO(only_value(logdir).image.encoded_image_string))
    kept = [np.asarray(frame.convert("L"))[0, 0] for frame in ImageSequence.Iterator(gif)]
    assert kept == [0, 40, 80, 120, 160, 200] and gif.info["duration"] == 20


@needs_pillow
def test_arrays_changed_after_the_call_do_not_change_what_is_logged(logdir):
    from PIL import Image

    pixels = np.zeros((4, 5, 3), dtype=np.uint8)  # already what PNG needs: no conversion copies it
    values = np.zeros(10)
    videos = np.zeros((1, 2, 3, 4, 4), dtype=np.uint8)
    with SummaryWriter(logdir, max_queue=1000) as writer:
        writer.add_image("i", pixels, 0, dataformats="HWC")
        writer.add_histogram("h", values, 0)
        writer.add_video("v", videos, 0)
        pixels[:] = 255
        values[:] = 7.0
        videos[:] = 255
    logged = {tag: value for _, tag, value in summary_values(logdir)}
    assert np.asarray(Image.open(io.BytesIO(logged["i"].image.encoded_image_string))).max() == 0
    assert logged["h"].histo.max == 0.0
    assert np.asarray(Image.open(io.BytesIO(logged["v"].image.encoded_image_string)).convert("RGB")).max() == 0


def test_deferred_summaries_keep_their_place_among_other_events(logdir):
    with SummaryWriter(logdir) as writer:
        for step in range(20):
            writer.add_scalar("before", 1.0, step)
            writer.add_image("image", np.zeros((3, 8, 8)), step)
            writer.add_histogram("histogram", np.arange(10), step)
            writer.add_scalar("after", 1.0, step)
    order = [(step, tag) for step, tag, _ in summary_values(logdir)]
    assert order == [(s, t) for s in range(20) for t in ("before", "image", "histogram", "after")]


def test_a_failing_deferred_build_is_reported_on_the_next_call(logdir):
    from eventwriter.errors import EventWriterError
    from eventwriter.event_file import EventFileWriter

    writer = EventFileWriter(logdir)

    def build():
        raise MemoryError("no room to encode")

    writer.write_later(build, 0, 1.0, 100)
    with pytest.raises(EventWriterError, match=r"could not be built and was not written.*no room to encode"):
        writer.flush()
    writer.write_scalar("still", 1.0, 1, 1.0)  # the writer keeps working
    writer.close()
    assert [(e.step, e.summary.value[0].tag) for e in run_events(logdir) if e.HasField("summary")] == [(1, "still")]


@pytest.mark.parametrize("seed", range(8))
def test_fast_tensorflow_bucketing_equals_numpy_histogram(seed):
    rng = np.random.default_rng(seed)
    edges = np.asarray(histograms.tensorflow_bins())
    values = rng.normal(size=20_000) * 10.0 ** rng.integers(-16, 19, 20_000)
    values[::5] = 0.0
    values[1::50] = -0.0
    values[2::100] = edges[rng.integers(0, len(edges), values[2::100].size)]  # values exactly on edges
    values[3::100] = np.nextafter(values[2::100], np.inf)
    values = np.clip(values, edges[0], edges[-1])
    np.testing.assert_array_equal(tensorflow_tally(values)[0], np.histogram(values, bins=edges)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.float64])  # 300,000: two chunks
def test_fast_tensorflow_bucketing_of_other_dtypes(dtype):
    rng = np.random.default_rng(1)
    edges = np.asarray(histograms.tensorflow_bins())
    values = (rng.normal(size=300_000) * 10.0 ** rng.integers(-3, 4, 300_000)).astype(dtype)
    values[::7] = 0
    if dtype is np.float32:
        values[1::100] = edges[rng.integers(200, 1300, values[1::100].size)].astype(np.float32)
    np.testing.assert_array_equal(tensorflow_tally(values)[0], np.histogram(values.astype(np.float64), bins=edges)[0])


@pytest.mark.parametrize("seed", range(4))
def test_float32_bucketing_by_bits_equals_numpy_histogram_at_every_edge(seed):
    # float32 values are bucketed by a table over their bits: the float32 values next to
    # every edge (on both sides, both signs), zeros of both signs, subnormals and the
    # largest values inside the outer edges land where numpy.histogram puts them.
    rng = np.random.default_rng(seed)
    edges = np.asarray(histograms.tensorflow_bins())
    nearest = edges.astype(np.float32)
    around = np.concatenate(
        [nearest, np.nextafter(nearest, np.float32(np.inf)), np.nextafter(nearest, np.float32(-np.inf))]
    )
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1.2e-38, -1.2e-38], dtype=np.float32)
    spread = (rng.normal(size=50_000) * 10.0 ** rng.integers(-40, 20, 50_000)).astype(np.float32)
    values = np.concatenate([around, special, spread])
    values = values[(values >= edges[0]) & (values <= edges[-1])]
    rng.shuffle(values)
    expected = np.histogram(values.astype(np.float64), bins=edges)[0]
    np.testing.assert_array_equal(tensorflow_tally(values)[0], expected)
    halves = values[np.abs(values) < 60_000].astype(np.float16)  # float16 is bucketed as float32
    np.testing.assert_array_equal(tensorflow_tally(halves)[0], np.histogram(halves.astype(np.float64), bins=edges)[0])


def test_numpy_bin_rules_that_refuse_the_data_fail_in_the_call(logdir):
    # numpy 2 refuses 10 bins over so small a range; numpy 1 makes edges that coincide
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError, match=r"^'h': bins 10 cannot bucket values from 1 to 1"):
            writer.add_histogram("h", [1.0, 1.0 + 2**-50], bins=10)
        writer.add_scalar("after", 1.0, 0)
    assert [tag for _, tag, _ in summary_values(logdir)] == ["after"]


def test_walltime_too_large_for_a_float(logdir):
    with SummaryWriter(logdir) as writer, pytest.raises(ValueError, match=r"'x': walltime must fit in a float"):
        writer.add_scalar("x", 1.0, 0, walltime=10**400)
