"""Histograms, images, figures, video, audio and meshes: torch and eventwriter side by side.

Compared as TensorBoard loads them (tbread.assert_same_loaded_runs: histograms as [k, 3]
tensors, images and audio as blob sequences whose PNG pixels and WAV samples are decoded),
and through the legacy EventAccumulator.
"""

from __future__ import annotations

import io
import itertools
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from helpers import summary_values
from tbread import accumulate, assert_same_loaded_runs, decode_blob, loaded_run
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

from eventwriter import SummaryWriter

matplotlib.use("Agg")
import matplotlib.pyplot as plt

WALL = 1_790_000_000.0


def both(tmp_path, calls):
    """Run ``calls(writer)`` with each writer, from the same random state."""
    dirs = []
    for name, cls in [("torch", TorchSummaryWriter), ("ours", SummaryWriter)]:
        torch.manual_seed(0)
        logdir = str(tmp_path / name)
        with cls(logdir) as writer:
            calls(writer, np.random.default_rng(0))
        dirs.append(logdir)
    return dirs[0], dirs[1]


# -- histograms -------------------------------------------------------------------


def assert_same_histograms(theirs, ours):
    """Buckets, min, max and count exact; sum and sum of squares (which TensorBoard does not
    show) to 12 digits: eventwriter sums them chunk by chunk."""
    assert len(theirs) == len(ours)
    for their_event, our_event in zip(theirs, ours):
        their, our = their_event.histogram_value, our_event.histogram_value
        assert (their.min, their.max, their.num, their.bucket_limit, their.bucket) == (
            our.min, our.max, our.num, our.bucket_limit, our.bucket,
        )  # fmt: skip
        assert our.sum == pytest.approx(their.sum, rel=1e-12, abs=1e-300)
        assert our.sum_squares == pytest.approx(their.sum_squares, rel=1e-12)


HISTOGRAM_VALUES = {
    "normal": lambda rng: rng.normal(size=10_000),
    "uniform_plus_step": lambda rng: rng.random(1000) + 3,
    "ints": lambda rng: np.arange(-50, 300),
    "torch_float32": lambda rng: torch.randn(2000) * 1e-3,
    "torch_float16": lambda rng: torch.randn(2000).half(),
    "torch_float64_2d": lambda rng: torch.randn(40, 50, dtype=torch.float64),
    "single_value": lambda rng: np.array([0.5]),
    "zeros": lambda rng: np.zeros(10),
    "huge": lambda rng: np.array([1e19, -1e19, 3.0]),
}


@pytest.mark.parametrize("kind", list(HISTOGRAM_VALUES))
def test_add_histogram_default_bins(tmp_path, kind):
    def calls(writer, rng):
        writer.add_histogram("h", HISTOGRAM_VALUES[kind](rng), 3, walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)
    theirs, ours = accumulate(torch_dir).Histograms("h"), accumulate(our_dir).Histograms("h")
    assert_same_histograms(theirs, ours)
    (point,) = loaded_run(our_dir)["h"]["points"]
    assert point[2].ndim == 2 and point[2].shape[1] == 3  # TensorBoard's [k, 3] tensor


@pytest.mark.filterwarnings("ignore:The number of bins estimated may be suboptimal")
@pytest.mark.parametrize(
    "bins", ["auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt", 1, 7, [0, 0.3, 1.0, 2.5]]
)
@pytest.mark.parametrize("max_bins", [None, 3])
def test_add_histogram_bins_and_max_bins(tmp_path, bins, max_bins):
    def calls(writer, rng):
        writer.add_histogram("h", rng.random(997) ** 2 * 2, 0, bins=bins, walltime=WALL, max_bins=max_bins)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_histogram_default_bins_with_max_bins(tmp_path):
    torch_dir, our_dir = both(tmp_path, lambda w, rng: w.add_histogram("h", rng.normal(size=5000), 0, max_bins=20))
    assert_same_loaded_runs(torch_dir, our_dir, check_wall_time=False)


def test_distribution_centers_example(tmp_path):
    def calls(writer, rng):
        for step in range(10):
            writer.add_histogram("distribution centers", rng.random(1000) + step, step, walltime=WALL + step)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_histogram_raw(tmp_path):
    def calls(writer, rng):
        dummy = []
        for idx, value in enumerate(range(50)):
            dummy += [idx + 0.001] * value
        values = np.array(dummy).astype(float).reshape(-1)
        counts, limits = np.histogram(values, bins=10)
        writer.add_histogram_raw(
            "histogram_with_raw_data", values.min(), values.max(), len(values), values.sum(),
            values.dot(values), limits[1:].tolist(), counts.tolist(), 0, WALL,
        )  # fmt: skip

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_difference_histogram_of_bfloat16_keeps_its_values(tmp_path):
    values = torch.tensor([1.0e5, 3.0e38, -2.5], dtype=torch.bfloat16)  # beyond float16's range
    torch_dir, our_dir = both(tmp_path, lambda w, rng: w.add_histogram("h", values, 0, walltime=WALL))
    (ours,) = accumulate(our_dir).Histograms("h")
    assert ours.histogram_value.max == pytest.approx(3.0e38, rel=1e-2)
    (theirs,) = accumulate(torch_dir).Histograms("h")
    assert theirs.histogram_value.max == float("inf")  # torch converts bfloat16 to float16


def test_difference_histogram_with_nan_is_refused(tmp_path):
    values = np.array([1.0, np.nan, 2.0])
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        writer.add_histogram("h", values, 0)  # torch writes a histogram with min/max NaN
    (theirs,) = accumulate(str(tmp_path / "torch")).Histograms("h")
    assert np.isnan(theirs.histogram_value.min)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        with pytest.raises(ValueError, match=r"'h': values must be finite, got 1 NaN or infinite of 3"):
            writer.add_histogram("h", values, 0)


# -- images -----------------------------------------------------------------------

THREE_D = ["".join(p) for p in itertools.permutations("CHW")]
FOUR_D = ["".join(p) for p in itertools.permutations("NCHW")]


def _array_for(dataformats, channels, rng, dtype):
    sizes = {"N": 5, "C": channels, "H": 9, "W": 13}
    values = rng.random([sizes[c] for c in dataformats]) * 1.2 - 0.1
    return (values * 255).astype(np.uint8) if dtype == "uint8" else values.astype(dtype)


IMAGE_FORMATS = [(f, c) for f in THREE_D for c in (1, 3, 4)] + [("HW", 1), ("WH", 1)]


@pytest.mark.parametrize(("dataformats", "channels"), IMAGE_FORMATS)
@pytest.mark.parametrize("dtype", ["float32", "uint8", "float64"])
def test_add_image_every_dataformat(tmp_path, dataformats, channels, dtype):
    def calls(writer, rng):
        writer.add_image("img", _array_for(dataformats, channels, rng, dtype), 1, WALL, dataformats=dataformats)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


@pytest.mark.parametrize("dataformats", FOUR_D)
@pytest.mark.parametrize("channels", [1, 3])
def test_add_images_every_dataformat(tmp_path, dataformats, channels):
    def calls(writer, rng):
        writer.add_images("batch", _array_for(dataformats, channels, rng, "float32"), 1, WALL, dataformats=dataformats)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)
    (point,) = loaded_run(our_dir)["batch"]["points"]
    assert point[2][:2].tolist() == [b"65", b"9"]  # five 13x9 images in one row: TensorBoard's blob header


def test_difference_add_images_rgba_batch(tmp_path):
    batch = np.random.default_rng(0).random((3, 4, 6, 7)).astype(np.float32)
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        with pytest.raises(AssertionError):
            writer.add_images("rgba", batch)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_images("rgba", batch, 0)
    (image,) = accumulate(str(tmp_path / "ours")).Images("rgba")
    pixels = decode_blob(image.encoded_image_string)
    assert pixels.shape == (6, 21, 4)
    np.testing.assert_array_equal(pixels[:, 7:14], (batch[1].transpose(1, 2, 0) * 255).astype(np.uint8))


def test_add_images_torch_tensor_on_bfloat16(tmp_path):
    def calls(writer, rng):
        writer.add_images("b", torch.rand(2, 3, 8, 8).to(torch.bfloat16).float(), 0, WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def _boxes_calls(labels, rescale=1):
    def calls(writer, rng):
        image = torch.rand(3, 64, 96)
        boxes = torch.tensor([[5, 5, 40, 30], [30, 20, 90, 60]])
        writer.add_image_with_boxes("boxes", image, boxes, 2, WALL, rescale=rescale, labels=labels)

    return calls


@pytest.mark.parametrize("labels", [None, ["cat", "a dog"]])
def test_add_image_with_boxes(tmp_path, labels):
    torch_dir, our_dir = both(tmp_path, _boxes_calls(labels))
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_image_with_boxes_hwc_uint8_and_a_single_label(tmp_path):
    def calls(writer, rng):
        image = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
        writer.add_image_with_boxes("b", image, np.array([[1, 2, 30, 35]]), 0, WALL, dataformats="HWC", labels="one")

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_difference_image_with_boxes_records_the_rescaled_size(tmp_path):
    torch_dir, our_dir = both(tmp_path, _boxes_calls(["x", "y"], rescale=2))
    (theirs,), (ours,) = accumulate(torch_dir).Images("boxes"), accumulate(our_dir).Images("boxes")
    their_pixels, our_pixels = decode_blob(theirs.encoded_image_string), decode_blob(ours.encoded_image_string)
    np.testing.assert_array_equal(their_pixels, our_pixels)
    assert our_pixels.shape[:2] == (128, 192)
    assert (ours.height, ours.width) == (128, 192)
    assert (theirs.height, theirs.width) == (64, 96)  # torch records the size before rescaling


def test_difference_boxes_and_labels_of_different_counts_are_refused(tmp_path):
    labels = ["only one"]
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError, match=r"'boxes': labels must name each of the 2 boxes, got 1 labels"):
            _boxes_calls(labels)(writer, None)


def test_add_figure_and_a_list_of_figures(tmp_path):
    def calls(writer, rng):
        figure = plt.figure(figsize=(3, 2), dpi=50)
        plt.plot([1, 3, 2])
        writer.add_figure("figure", figure, 0, walltime=WALL)
        figures = []
        for index in range(3):
            figures.append(plt.figure(figsize=(2, 2), dpi=40))
            plt.scatter([index], [index])
        writer.add_figure("figures", figures, 1, walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_figure_close_false_keeps_the_figure_open(tmp_path):
    figure = plt.figure(figsize=(2, 2), dpi=30)
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_figure("open", figure, close=False)
        assert plt.fignum_exists(figure.number)
        writer.add_figure("closed", figure)
        assert not plt.fignum_exists(figure.number)


# -- video ------------------------------------------------------------------------


def _gif_frames(blob):
    from PIL import Image, ImageSequence

    image = Image.open(io.BytesIO(blob))
    return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)], image.info


def test_difference_add_video_writes_a_gif_without_moviepy(tmp_path):
    # Three videos of four frames; each frame one flat colour (so the GIF palette is exact).
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], dtype=np.uint8)
    videos = np.zeros((3, 4, 3, 6, 8), dtype=np.uint8)
    for video in range(3):
        for frame in range(4):
            videos[video, frame] = colours[(video + frame) % 4][:, None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_dir, our_dir = both(tmp_path, lambda w, rng: w.add_video("video", torch.from_numpy(videos), 0, fps=5))
    # torch wrote a value without data (its loader then fails on it: tensorboard's data_compat
    # cannot convert an empty value)
    (their_value,) = [value for _, tag, value in summary_values(torch_dir) if tag == "video"]
    assert their_value.WhichOneof("value") is None
    (ours,) = accumulate(our_dir).Images("video")
    frames, info = _gif_frames(ours.encoded_image_string)
    assert (ours.width, ours.height) == (32, 6)  # 3 videos padded to 4, one row as torch lays them out
    assert len(frames) == 4 and info["duration"] == 200 and info["loop"] == 0
    for index, frame in enumerate(frames):
        expected = np.zeros((6, 32, 3), dtype=np.uint8)
        for video in range(3):
            expected[:, video * 8 : video * 8 + 8] = colours[(video + index) % 4]
        np.testing.assert_array_equal(frame, expected)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9, 16])
def test_video_grid_is_torchs(count):
    from torch.utils.tensorboard._utils import _prepare_video

    from eventwriter.plugins.video import tile_videos

    videos = np.random.default_rng(count).random((count, 2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(tile_videos(videos), _prepare_video(videos))


# -- audio ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "clip",
    [
        lambda: torch.sin(torch.linspace(0, 200, 8000)) * 0.8,
        lambda: np.sin(np.linspace(0, 50, 3000))[None, :],
        lambda: torch.linspace(-1, 1, 999, dtype=torch.float64)[:, None],
    ],
    ids=["torch_float32", "numpy_1xL", "torch_Lx1_float64"],
)
def test_add_audio_mono(tmp_path, clip):
    torch_dir, our_dir = both(
        tmp_path, lambda w, rng: w.add_audio("sound", clip(), 3, sample_rate=16000, walltime=WALL)
    )
    assert_same_loaded_runs(torch_dir, our_dir)
    (ours,) = accumulate(our_dir).Audio("sound")
    assert (ours.sample_rate, ours.content_type, ours.length_frames) == (16000, "audio/wav", ours.length_frames)


def test_add_audio_out_of_range_is_clipped_with_a_warning(tmp_path):
    clip = np.linspace(-2, 2, 500)
    torch_dir, our_dir = None, None
    with pytest.warns(UserWarning, match=r"'loud': audio samples reach 2, beyond \[-1, 1\]; clipped"):
        torch_dir, our_dir = both(tmp_path, lambda w, rng: w.add_audio("loud", clip, 0, walltime=WALL))
    assert_same_loaded_runs(torch_dir, our_dir)


def test_difference_add_audio_stereo(tmp_path):
    left, right = np.linspace(-1, 1, 400), np.linspace(1, -1, 400) * 0.5
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        with pytest.raises(AssertionError):
            writer.add_audio("stereo", np.stack([left, right]))
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_audio("stereo", np.stack([left, right]), 0, sample_rate=8000)
        writer.add_audio("stereo_last", np.stack([left, right], axis=1), 0, sample_rate=8000)
    for tag in ("stereo", "stereo_last"):
        (clip,) = accumulate(str(tmp_path / "ours")).Audio(tag)
        samples = decode_blob(clip.encoded_audio_string)
        assert samples.shape == (400, 2) and clip.sample_rate == 8000
        np.testing.assert_array_equal(samples[:, 0], (left * 32767).astype(np.int16))
        np.testing.assert_array_equal(samples[:, 1], (right * 32767).astype(np.int16))


# -- mesh -------------------------------------------------------------------------


def test_add_mesh(tmp_path):
    vertices = torch.tensor([[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]], dtype=torch.float).unsqueeze(0)
    colors = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]], dtype=torch.int).unsqueeze(0)
    faces = torch.tensor([[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]], dtype=torch.int).unsqueeze(0)
    config = {"camera": {"cls": "PerspectiveCamera", "fov": 75}, "lights": [{"cls": "AmbientLight"}]}

    def calls(writer, rng):
        writer.add_mesh("my_mesh", vertices=vertices, colors=colors, faces=faces, global_step=1, walltime=WALL)
        writer.add_mesh("cloud", np.random.default_rng(0).random((2, 100, 3)), config_dict=config, walltime=WALL)
        writer.add_mesh("colored", vertices, colors=colors.numpy(), walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)
    assert sorted(loaded_run(our_dir)) == [
        "cloud_VERTEX", "colored_COLOR", "colored_VERTEX", "my_mesh_COLOR", "my_mesh_FACE", "my_mesh_VERTEX",
    ]  # fmt: skip


class MetaTensor(torch.Tensor):
    """A tensor subclass from outside the torch package, like MONAI's MetaTensor."""


def test_tensor_subclasses_and_tensors_that_require_grad(tmp_path):
    linear = torch.nn.Linear(4, 3)

    def calls(writer, rng):
        weight = linear.weight.as_subclass(MetaTensor)
        writer.add_histogram("h", weight, 0, walltime=WALL)
        writer.add_image("i", torch.sigmoid(linear.weight)[None], 0, WALL)  # requires grad
        writer.add_scalar("s", weight.sum(), 0, WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_figure_subclass(tmp_path):
    class MyFigure(matplotlib.figure.Figure):
        pass

    def calls(writer, rng):
        figure = plt.figure(FigureClass=MyFigure, figsize=(2, 2), dpi=30)
        writer.add_figure("f", figure, 0, walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_empty_boxes_from_a_detector_that_found_nothing(tmp_path):
    def calls(writer, rng):
        writer.add_image_with_boxes("b", torch.rand(3, 16, 16), torch.zeros((0, 4)), 0, WALL, labels=[])

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_difference_float16_audio_at_full_scale(tmp_path):
    clip = torch.tensor([0.0, 1.0, -1.0, 0.5], dtype=torch.float16)
    torch_dir, our_dir = both(tmp_path, lambda w, rng: w.add_audio("t", clip, 0, walltime=WALL))
    (theirs,), (ours,) = accumulate(torch_dir).Audio("t"), accumulate(our_dir).Audio("t")
    assert decode_blob(theirs.encoded_audio_string).ravel().tolist() == [0, -32768, -32768, 16384]  # wrapped
    assert decode_blob(ours.encoded_audio_string).ravel().tolist() == [0, 32767, -32767, 16383]
