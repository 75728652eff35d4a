"""Audio plugin.

On disk a clip is ``Summary.Value.audio``: a ``Summary.Audio`` with ``sample_rate``,
``num_channels``, ``length_frames`` and ``encoded_audio_string``, a 16-bit PCM WAV
(``content_type`` "audio/wav"), without plugin metadata. Samples in [-1, 1] become
``int(x * 32767)``, as in torch. Mono is what torch writes; stereo (two channels,
interleaved in the WAV) is eventwriter's addition, and TensorBoard plays it.
"""

from __future__ import annotations

import io
import wave

import numpy as np

from eventwriter.proto.summary_pb2 import Summary

__all__ = ["PLUGIN_NAME", "audio_pb", "encode_wav", "to_frames"]

PLUGIN_NAME = "audio"


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
