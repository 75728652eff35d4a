"""Bad input found by issue 10 and its fuzz test (tests/test_fuzz.py), one regression test each.

A bad input is refused in the call, with TypeError or ValueError naming the tag, what was
expected and what came, and nothing is written for it. An odd but valid input is
written, without a warning and without failing later in the writer thread.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import warnings
import wave

import numpy as np
import pytest
from helpers import assert_refused_and_writer_keeps_working, summary_values

from eventwriter import SummaryWriter

needs_pillow = pytest.mark.skipif(
    importlib.util.find_spec("PIL") is None, reason="images need Pillow (the images extra)"
)
IMAGE = np.zeros((3, 8, 8), dtype=np.float32)


def written(logdir, call):
    """``call(writer)`` with every warning an error (in the writer thread too); the
    summary values written, by tag."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with SummaryWriter(logdir) as writer:
            call(writer)
            writer.flush()  # an error in the writer thread comes back here
    return {tag: value for _, tag, value in summary_values(logdir)}


# -- issue 10, defect 7: box coordinates ---------------------------------------------


@needs_pillow
@pytest.mark.parametrize("labels", [None, ["cat"]])
@pytest.mark.parametrize("box", [[1, 1, np.nan, 4], [np.inf, 1, 3, 4], [1, 1, 3, -np.inf]])
def test_non_finite_box_coordinates_are_refused_in_the_call(logdir, box, labels):
    assert_refused_and_writer_keeps_working(
        logdir,
        lambda w: w.add_image_with_boxes("b", IMAGE, np.array([box]), labels=labels),
        ValueError,
        r"^'b': box_tensor must hold finite coordinates, got 1 NaN or infinite of 4$",
    )


@needs_pillow
def test_boxes_far_outside_the_image_are_drawn_as_far_as_they_show(logdir):
    boxes = np.array([[1, 1, 1e19, 1e300], [-1e300, 2, 5, 1e19]])
    values = written(logdir, lambda w: w.add_image_with_boxes("b", IMAGE, boxes, labels=["a", "b"]))
    assert values["b"].image.width == 8


# -- issue 10, defect 8: only TypeError or ValueError, naming the tag --------------------

BAD_CALLS = {
    "audio rate rounding to 0": (
        lambda w: w.add_audio("a", np.zeros(10), sample_rate=0.4),
        ValueError,
        r"^'a': sample_rate must round to at least 1 \(a WAV header holds whole samples a second\), got 0.4$",
    ),
    "stereo audio rate beyond the WAV byte rate": (
        lambda w: w.add_audio("a", np.zeros((2, 10)), sample_rate=1.5e9),
        ValueError,
        r"^'a': sample_rate must be at most 1073741823 for 2 channel\(s\) .* got 1.5e\+09$",
    ),
    "histogram rule over a range beyond float64": (
        lambda w: w.add_histogram("h", [1e308, -1e308], bins="doane"),
        ValueError,
        r"^'h': values range from -1e\+308 to 1e\+308, beyond float64, which numpy's bin rules",
    ),
    "object array as an hparam": (
        lambda w: w.add_hparams({"lr": np.array([0.1], dtype=object)}, {"m": 1.0}),
        TypeError,
        r"^hparam 'lr' must be a bool, str, int, float or None, got an array of dtype object$",
    ),
    "embedding tag beyond 255 bytes": (
        lambda w: w.add_embedding(np.zeros((2, 2)), tag="x" * 300),
        ValueError,
        r"^'x{300}': tag must make a directory name of at most 255 bytes .* got 300 bytes$",
    ),
    "embedding tag beyond 255 bytes once escaped": (
        lambda w: w.add_embedding(np.zeros((2, 2)), tag="/" * 86),
        ValueError,
        r"tag must make a directory name of at most 255 bytes .* got 258 bytes$",
    ),
    "embedding tag with NUL": (
        lambda w: w.add_embedding(np.zeros((2, 2)), tag="a\x00b"),
        ValueError,
        r"^'a\\x00b': tag must not hold a NUL character",
    ),
    # found by the fuzz test
    "text with a lone surrogate": (
        lambda w: w.add_text("t", "a\ud800"),
        ValueError,
        r"^'t': text_string must be valid Unicode text, got a lone surrogate at 1",
    ),
    "hparam with a lone surrogate": (
        lambda w: w.add_hparams({"x": "\ud800"}, {"m": 1.0}),
        ValueError,
        r"^hparam 'x' must be valid Unicode text, got a lone surrogate at 0",
    ),
    "string tensor with a lone surrogate": (
        lambda w: w.add_tensor("t", np.array(["a", "\ud800"])),
        ValueError,
        r"^'t': tensor: strings must be valid Unicode text, got a lone surrogate at 0: str '\\ud800'",
    ),
    "empty object tensor": (
        lambda w: w.add_tensor("t", np.array([], dtype=object)),
        TypeError,
        r"^'t': tensor: expected a numeric, bool or string dtype, got dtype object$",
    ),
    "embedding metadata with a lone surrogate": (
        lambda w: w.add_embedding(np.zeros((2, 2)), metadata=["a", "\ud800"]),
        ValueError,
        r"^'default': metadata must be valid Unicode text, got a lone surrogate",
    ),
    "custom scalars tag with a lone surrogate": (
        lambda w: w.add_custom_scalars({"c": {"t": ["Multiline", ["\ud800"]]}}),
        ValueError,
        r"^layout\['c'\]\['t'\]: the tags must be valid Unicode text, got a lone surrogate",
    ),
    "ragged nested lists (numpy before 1.24 warns)": (
        lambda w: w.add_pr_curve("p", [[], 0.0], [0.5, 0.5]),
        TypeError,
        r"^'p': labels must be array-like, got list \[\[\], 0.0\]",
    ),
    "object array as a step": (
        lambda w: w.add_scalar("s", 1.0, np.array(["3"], dtype=object)),
        TypeError,
        r"^'s': global_step must be an integer, got an array of dtype object$",
    ),
    "rescale beyond float": (
        lambda w: w.add_image_with_boxes("b", IMAGE, np.zeros((0, 4)), rescale=10**400),
        ValueError,
        r"^'b': rescale must be a positive number, got int 1000",
    ),
    "histogram bin count beyond a message": (
        lambda w: w.add_histogram("h", [1.0, 2.0], bins=2**40),
        ValueError,
        r"^'h': bins 1099511627776 make 1.1e\+12 buckets, beyond protobuf's 2 GiB message limit",
    ),
    "histogram rule making more bins than a message holds": (
        lambda w: w.add_histogram("h", np.r_[np.zeros(100), 1e-300 * np.arange(100), 1e300], bins="fd"),
        ValueError,
        r"^'h': bins 'fd' make inf buckets, beyond protobuf's 2 GiB message limit",
    ),
    "histogram edges of complex numbers": (
        lambda w: w.add_histogram("h", [1.0], bins=np.array([0, 2], dtype=np.complex64)),
        TypeError,
        r"^'h': bins must be a str, an int or a sequence of edges, got ndarray",
    ),
    "histogram edges that are infinite": (
        lambda w: w.add_histogram("h", [1.0], bins=[np.inf, np.inf]),
        ValueError,
        r"^'h': bins given as edges must be at least two finite, increasing numbers$",
    ),
    "float16 histogram values outside edges that float16 cannot tell apart": (
        lambda w: w.add_histogram("h", np.array([-0.0], dtype=np.float16), bins=[1e-300, 1.0]),
        ValueError,
        r"^'h': no value lies inside the bins \(from 1e-300 to 1\)$",
    ),
    "mesh faces that are NaN": (
        lambda w: w.add_mesh("m", np.zeros((1, 4, 3)), faces=np.array([[[0, 1, np.nan]]])),
        ValueError,
        r"^'m': faces must be \(B or 1, F, 3\) indices into the 4 vertices$",
    ),
    "PR curve weights that are NaN": (
        lambda w: w.add_pr_curve("p", [0, 1], [0.5, 0.5], weights=[np.nan, 1.0]),
        ValueError,
        r"^'p': weights must be finite, got NaN or infinite weights$",
    ),
    "PR curve beyond a message": (
        lambda w: w.add_pr_curve("p", [0, 1], [0.5, 0.5], num_thresholds=2**40),
        ValueError,
        r"^'p': num_thresholds must be at most 89478314 .* got 1099511627776$",
    ),
}


@pytest.mark.parametrize(("call", "error", "message"), BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_input_raises_type_or_value_error_naming_the_tag(logdir, call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_refused_and_writer_keeps_working(logdir, call, error, message)


@needs_pillow
def test_videos_wider_than_a_gif_are_refused_in_the_call(logdir):
    assert_refused_and_writer_keeps_working(
        logdir,
        lambda w: w.add_video("v", np.zeros((1, 1, 1, 1, 70_000), dtype=np.uint8)),
        ValueError,
        r"^'v': vid_tensor: the videos tile to 70000x1 pixels \(shape \(1, 1, 1, 1, 70000\)\), beyond GIF's 65535$",
    )


@needs_pillow
def test_labels_the_default_font_cannot_draw(logdir):
    from PIL import ImageFont

    def call(writer):
        writer.add_image_with_boxes("b", IMAGE, np.array([[1, 1, 4, 4]]), labels=["猫"])

    if not isinstance(ImageFont.load_default(), ImageFont.FreeTypeFont):  # Pillow before 10.1, or no FreeType
        assert_refused_and_writer_keeps_working(logdir, call, ValueError, r"^'b': labels\[0\] must be Latin-1 text")
    else:
        assert "b" in written(logdir, call)


MESSAGE_LIMITS = {
    "image": (
        "images",
        lambda w: w.add_image("i", np.zeros((3, 200, 200))),
        r"^'i': an image of 200x200 pixels and 3 channels could exceed protobuf's 2 GiB message limit as a PNG$",
    ),
    "video": (
        "video",
        lambda w: w.add_video("v", np.zeros((1, 2, 3, 200, 200))),
        r"^'v': vid_tensor: a GIF of shape \(1, 2, 3, 200, 200\) could exceed protobuf's 2 GiB message limit$",
    ),
    "audio": (
        "audio",
        lambda w: w.add_audio("a", np.zeros(100_000)),
        r"^'a': snd_tensor makes a WAV of 200000 bytes, beyond protobuf's 2 GiB message limit$",
    ),
    "mesh": (
        "mesh",
        lambda w: w.add_mesh("m", np.zeros((1, 10_000, 3))),
        r"^'m': the mesh makes 120000 bytes of float32, beyond protobuf's 2 GiB message limit$",
    ),
}


@pytest.mark.parametrize(("module", "call", "message"), MESSAGE_LIMITS.values(), ids=MESSAGE_LIMITS.keys())
def test_media_beyond_a_message_are_refused_in_the_call(logdir, monkeypatch, module, call, message):
    if module in ("images", "video"):
        pytest.importorskip("PIL")
    monkeypatch.setattr(importlib.import_module(f"eventwriter.plugins.{module}"), "MAX_MESSAGE_BYTES", 100_000)
    assert_refused_and_writer_keeps_working(logdir, call, ValueError, message)


# -- odd but valid: written, no warning, no failure in the writer thread -----------------


def test_audio_rates_that_round_into_a_wav_header(logdir):
    def calls(writer):
        writer.add_audio("slow", np.zeros(4), sample_rate=0.6)
        writer.add_audio("fast", np.zeros(4), sample_rate=2**31 - 1)  # mono: 2 bytes a frame still fit 32 bits

    values = written(logdir, calls)
    rates = {}
    for tag in ("slow", "fast"):
        with wave.open(io.BytesIO(values[tag].audio.encoded_audio_string)) as wav:
            rates[tag] = wav.getframerate()
    assert rates == {"slow": 1, "fast": 2**31 - 1}


def test_embedding_tags_up_to_255_bytes(logdir):
    tags = ["x" * 255, "ü" * 127, "%" * 85]  # 255, 254 and 255 bytes as directory names
    written(logdir, lambda w: [w.add_embedding(np.zeros((2, 2)), tag=tag) for tag in tags])
    assert sorted(os.listdir(os.path.join(logdir, "00000"))) == sorted(["x" * 255, "ü" * 127, "%25" * 85])


def test_huge_values_are_written_without_warnings(logdir):
    def calls(writer):
        writer.add_histogram("tensorflow bins", [1e300, 1.0, -1e300])  # values beyond the outer edges left out
        writer.add_histogram("wide edges", [1.0], bins=[-1e308, 1e308])
        writer.add_image("pixels", np.array([[[np.nan, 1e300, -1e300, 0.5]]]))
        writer.add_mesh("mesh", np.full((1, 4, 3), 1e300))  # float32: inf
        writer.add_pr_curve("pr", [0, 1], [0.5, 0.5], weights=[1e308, 1e308])

    values = written(logdir, calls)
    assert values["tensorflow bins"].histo.num == 3
    assert list(values["mesh_VERTEX"].tensor.float_val) == [np.inf] * 12
    assert np.isinf(values["pr"].tensor.float_val[0])


@needs_pillow
def test_pixels_nan_and_beyond_float32_become_0_and_255(logdir):
    from PIL import Image

    values = written(logdir, lambda w: w.add_image("i", np.array([[[np.nan, 1e300, -1e300, 0.5]]]), dataformats="CHW"))
    pixels = np.asarray(Image.open(io.BytesIO(values["i"].image.encoded_image_string)))
    assert pixels[0, :, 0].tolist() == [0, 255, 0, 127]  # grey, stored as RGB


@needs_pillow
@pytest.mark.parametrize(("frames", "fps"), [(3, 1e-9), (100, 0.1)])
def test_long_gif_delays_are_capped_at_gifs_16_bits(logdir, frames, fps):
    from PIL import Image, ImageSequence

    values = written(logdir, lambda w: w.add_video("v", np.zeros((1, frames, 3, 4, 4)), fps=fps))
    gif = Image.open(io.BytesIO(values["v"].image.encoded_image_string))
    durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    assert max(durations) <= 655_350  # ms: 65535 hundredths of a second
