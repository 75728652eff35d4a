"""Audio plugin.

On disk a clip is ``Summary.Value.audio``: a ``Summary.Audio`` with ``sample_rate``,
``num_channels``, ``length_frames`` and ``encoded_audio_string``, a 16-bit PCM WAV
(``content_type`` "audio/wav"). That legacy field carries no plugin metadata
(TensorBoard knows it by the field), so this module has no ``create_summary_metadata``.
Samples in [-1, 1] become ``int(x * 32767)``, as in torch; samples beyond are clipped
with a warning. Mono is what torch writes; stereo (two channels, interleaved in the
WAV) is eventwriter's addition, and TensorBoard plays it.
"""

from __future__ import annotations

import io
import warnings
import wave
from typing import Any

import numpy as np

from eventwriter.convert import about_tag, check_tag, positive, real_array
from eventwriter.proto.summary_pb2 import Summary

__all__ = ["PLUGIN_NAME", "PROTO_VERSION", "audio", "audio_pb", "encode_wav", "to_frames"]

PLUGIN_NAME = "audio"
# Nothing carries it: the ``audio`` field has no metadata, so torch writes no content.
PROTO_VERSION = 0
_MAX_SAMPLE_RATE = 2**31  # the WAV header's field is 32 bits


def to_frames(samples: np.ndarray) -> np.ndarray:
    """Shape samples as (frames, channels): (L,), (1, L) and (L, 1) are mono; (2, L) and
    (L, 2) are stereo (channels first when both readings fit)."""
    array: np.ndarray = samples.squeeze()
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim == 2 and array.shape[0] == 2:
        return np.ascontiguousarray(array.T)
    if array.ndim == 2 and array.shape[1] == 2:
        return array
    raise ValueError(f"audio must be mono (L,) or stereo (2, L) or (L, 2), got shape {samples.shape}")


def encode_wav(frames: np.ndarray, sample_rate: int) -> bytes:
    """A 16-bit PCM WAV of (frames, channels) int16 samples."""
    output = io.BytesIO()
    with wave.open(output, "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.ascontiguousarray(frames, dtype="<i2").tobytes())
    return output.getvalue()


def audio_pb(tag: str, frames: np.ndarray, sample_rate: float) -> Summary:
    """A Summary holding a clip of (frames, channels) samples in [-1, 1]."""
    pcm = (frames * np.iinfo(np.int16).max).astype("<i2")
    audio = Summary.Audio(
        sample_rate=sample_rate,
        num_channels=frames.shape[1],
        length_frames=frames.shape[0],
        encoded_audio_string=encode_wav(pcm, round(sample_rate)),
        content_type="audio/wav",
    )
    return Summary(value=[Summary.Value(tag=tag, audio=audio)])


# -- torch's builder -----------------------------------------------------------------


def audio(tag: str, tensor: Any, sample_rate: float = 44100) -> Summary:
    """A Summary with a WAV clip (torch's ``summary.audio``).

    Args:
        tag: the tag.
        tensor: samples in [-1, 1], mono (L,) or stereo (2, L) or (L, 2); samples
            beyond are clipped, with a warning, as torch does.
        sample_rate: samples a second.

    Returns:
        The Summary, for ``FileWriter.add_summary``.

    Raises:
        TypeError: ``tensor`` is not real numbers, or ``sample_rate`` not a number.
        ValueError: the clip is empty, not finite or of another shape, or
            ``sample_rate`` is not positive or beyond a WAV header's range.
    """
    check_tag(tag)
    samples = real_array(tag, "snd_tensor", tensor)
    if samples.dtype.kind != "f":
        samples = samples.astype(np.float64)
    elif samples.dtype.itemsize < 4:  # float16: 1.0 * 32767 would round to 32768 and wrap
        samples = samples.astype(np.float32)
    rate = positive(tag, "sample_rate", sample_rate)
    if rate >= _MAX_SAMPLE_RATE:
        raise ValueError(f"{tag!r}: sample_rate must be below 2**31 (a WAV header field), got {rate:g}")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{tag!r}: snd_tensor must be finite, got NaN or infinite samples")
    peak = float(np.abs(samples).max())
    if peak > 1:
        warnings.warn(f"{tag!r}: audio samples reach {peak:g}, beyond [-1, 1]; clipped", UserWarning, stacklevel=3)
        samples = samples.clip(-1, 1)
    with about_tag(tag, "snd_tensor"):
        frames = to_frames(samples)
    return audio_pb(tag, frames, rate)
