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
from eventwriter.tensors import MAX_MESSAGE_BYTES

__all__ = ["PLUGIN_NAME", "PROTO_VERSION", "audio", "audio_pb", "encode_wav", "to_frames"]

PLUGIN_NAME = "audio"
# Nothing carries it: the ``audio`` field has no metadata, so torch writes no content.
PROTO_VERSION = 0
_SAMPLE_BYTES = 2  # 16-bit PCM
_MAX_UINT32 = 0xFFFFFFFF  # the WAV header's sizes and rates are 32-bit fields
_WAV_HEADER_BYTES = 1024  # the WAV header (44 bytes) and the Event and Summary around the clip, generously


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
        ValueError: the clip is empty, not finite, of another shape or too long for
            a message, or ``sample_rate`` is not positive or beyond a WAV header's
            fields (it must round to at least 1, and times channels times 2 fit 32 bits).
    """
    check_tag(tag)
    samples = real_array(tag, "snd_tensor", tensor)
    if samples.dtype.kind != "f":
        samples = samples.astype(np.float64)
    elif samples.dtype.itemsize < 4:  # float16: 1.0 * 32767 would round to 32768 and wrap
        samples = samples.astype(np.float32)
    with about_tag(tag, "snd_tensor"):
        frames = to_frames(samples)
    rate = positive(tag, "sample_rate", sample_rate)
    _check_wav_header(tag, rate, frames)
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{tag!r}: snd_tensor must be finite, got NaN or infinite samples")
    peak = float(np.abs(frames).max())
    if peak > 1:
        warnings.warn(f"{tag!r}: audio samples reach {peak:g}, beyond [-1, 1]; clipped", UserWarning, stacklevel=3)
        frames = frames.clip(-1, 1)
    return audio_pb(tag, frames, rate)


def _check_wav_header(tag: str, rate: float, frames: np.ndarray) -> None:
    """ValueError unless the WAV header's 32-bit fields hold the clip and the rate (whole
    samples a second, and bytes a second: rate x channels x 2), and the clip fits a message."""
    whole, channels = round(rate), frames.shape[1]
    if whole < 1:
        raise ValueError(
            f"{tag!r}: sample_rate must round to at least 1 (a WAV header holds whole samples a second), got {rate:g}"
        )
    if whole * channels * _SAMPLE_BYTES > _MAX_UINT32:
        most = _MAX_UINT32 // (channels * _SAMPLE_BYTES)
        raise ValueError(
            f"{tag!r}: sample_rate must be at most {most} for {channels} channel(s) (the WAV header's bytes a "
            f"second, sample_rate x channels x 2, are 32 bits), got {rate:g}"
        )
    size = frames.size * _SAMPLE_BYTES
    if size > MAX_MESSAGE_BYTES - _WAV_HEADER_BYTES - len(tag.encode("utf-8")):
        raise ValueError(f"{tag!r}: snd_tensor makes a WAV of {size} bytes, beyond protobuf's 2 GiB message limit")
