"""eventwriter.png: valid PNGs of the exact pixels, with zlib and with isal, and small files."""

from __future__ import annotations

import io

import numpy as np
import pytest

from eventwriter import png

Image = pytest.importorskip("PIL.Image")


def _isal_deflate():
    isal_zlib = pytest.importorskip("isal.isal_zlib", reason="isal is eventwriter[fast]'s extra")
    return lambda data: isal_zlib.compress(data, 1)


DEFLATES = {"zlib": lambda: png.zlib_deflate, "isal": _isal_deflate}


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # Pillow checks every chunk's CRC as it reads
        return np.asarray(image)


def photo() -> np.ndarray:
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:  # pragma: no cover - scikit-learn is in the test extra
        pytest.skip("needs scikit-learn's sample photograph")
    return load_sample_image("china.jpg")


@pytest.mark.parametrize("deflate", DEFLATES)
@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 40, 4), (40, 1, 3), (37, 53, 3), (64, 48, 4)])
def test_pixels_decode_exactly(deflate, shape):
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    pixels[: shape[0] // 2] = 255  # flat areas and wrap-around in the Up filter (0 - 255)
    encoded = png.encode_png(pixels, DEFLATES[deflate]())
    assert encoded.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(decoded(encoded), pixels)


@pytest.mark.parametrize("deflate", DEFLATES)
def test_a_photograph_and_a_strided_view_decode_exactly(deflate):
    pixels = photo()
    view = pixels[::2, ::3]  # not contiguous
    np.testing.assert_array_equal(decoded(png.encode_png(pixels, DEFLATES[deflate]())), pixels)
    np.testing.assert_array_equal(decoded(png.encode_png(view, DEFLATES[deflate]())), view)


@pytest.mark.parametrize("deflate", DEFLATES)
def test_files_are_at_most_a_fifth_larger_than_pillows(deflate):
    # a photograph, and a smooth image with noise (a figure-like and a sensor-like case)
    ramp = np.linspace(0, 200, 300 * 400).reshape(300, 400)
    noisy = np.random.default_rng(0).normal(0, 3, (300, 400))
    synthetic = np.repeat(np.clip(ramp + noisy, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    for pixels in (photo(), synthetic):
        ours = png.encode_png(pixels, DEFLATES[deflate]())
        pillows = io.BytesIO()
        Image.fromarray(pixels).save(pillows, format="PNG")
        assert len(ours) <= 1.2 * len(pillows.getvalue())


def test_the_fastest_installed_library_is_the_default():
    try:
        import isal  # noqa: F401
    except ImportError:
        assert png.DEFLATE == "zlib"
    else:
        assert png.DEFLATE == "isal"


def test_bad_pixels_are_refused():
    with pytest.raises(TypeError, match="uint8"):
        png.encode_png(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="H x W x 3 or 4"):
        png.encode_png(np.zeros((2, 2, 2), np.uint8))
