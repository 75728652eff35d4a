"""TFRecord framing: how each serialized Event is stored in an event file.

Every record is, in little-endian byte order::

    uint64  length                  len(data)
    uint32  masked_crc32c(length)   CRC of the 8 length bytes
    byte    data[length]            a serialized Event
    uint32  masked_crc32c(data)

CRC-32C is the Castagnoli polynomial (reflected 0x82F63B78), not zlib's CRC-32. The
mask rotates the CRC right by 15 bits and adds ``MASK_DELTA``, so that a CRC stored
inside data does not look like a valid CRC of that data.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from typing import Any

__all__ = [
    "FOOTER_SIZE",
    "HEADER_SIZE",
    "MASK_DELTA",
    "RecordWriter",
    "crc32c",
    "footer",
    "frame",
    "masked_crc32c",
    "record_header",
]

MASK_DELTA = 0xA282EAD8
HEADER_SIZE = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_SIZE = 4  # uint32 masked CRC of the data

_pack_length = struct.Struct("<Q").pack
_pack_crc = struct.Struct("<I").pack


def _python_crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


def _make_python_crc32c() -> Callable[[bytes], int]:
    table = _python_crc32c_table()

    def python_crc32c(data: bytes) -> int:
        crc = 0xFFFFFFFF
        for byte in memoryview(data).cast("B"):
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF

    return python_crc32c


_crc32c: Callable[[bytes], int]
try:
    from crc32c import crc32c as _crc32c_package

    _crc32c = _crc32c_package
except ImportError:  # pragma: no cover - exercised by tests through _make_python_crc32c
    warnings.warn(
        "the 'crc32c' package is not installed; eventwriter falls back to a slow "
        "pure-Python CRC-32C (pip install crc32c)",
        RuntimeWarning,
        stacklevel=2,
    )
    _crc32c = _make_python_crc32c()


crc32c: Callable[[bytes], int] = _crc32c
"""Return the CRC-32C (Castagnoli) of ``data``."""


def footer(data: bytes) -> bytes:
    """The 4 bytes stored after ``data`` (a record's data, or its 8 length bytes): the
    masked CRC-32C, little-endian."""
    crc = _crc32c(data)
    return _pack_crc((((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF)


def masked_crc32c(data: bytes) -> int:
    """Return the masked CRC-32C that TFRecord stores after length and data."""
    return int.from_bytes(footer(data), "little")


# Lengths repeat (every scalar event of a tag has the same length), so the 12 header
# bytes of recent lengths are kept; the cache is cleared when it grows past this size.
_HEADER_CACHE_LIMIT = 4096
_headers: dict[int, bytes] = {}


def record_header(length: int) -> bytes:
    """The 12 bytes in front of a record of ``length`` data bytes."""
    header = _headers.get(length)
    if header is None:
        if len(_headers) >= _HEADER_CACHE_LIMIT:
            _headers.clear()
        encoded = _pack_length(length)
        header = _headers[length] = encoded + footer(encoded)
    return header


def frame(data: bytes) -> bytes:
    """Return ``data`` framed as one record: header, data, footer."""
    return b"".join((record_header(len(data)), data, footer(data)))


class RecordWriter:
    """Frames records into a binary file object: tensorboard's ``RecordWriter`` interface
    (``tensorboard.summary.writer.record_writer``), for code written against it.

    Args:
        writer: a binary file object with ``write``, ``flush`` and ``close`` (an open
            file, ``io.BytesIO``, an fsspec file, ...).

    Unlike eventwriter's own writers this one adds no thread, no queue and no fsync: each
    ``write`` hands one whole record to ``writer.write`` in a single call.
    """

    def __init__(self, writer: Any) -> None:
        for method in ("write", "flush", "close"):
            if not callable(getattr(writer, method, None)):
                raise TypeError(f"RecordWriter needs a binary file object with {method}(), got {type(writer).__name__}")
        self._writer = writer

    def write(self, data: bytes) -> None:
        """Append one record holding ``data`` (bytes-like).

        Raises:
            TypeError: ``data`` is not bytes-like (a str, say).
        """
        if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"RecordWriter.write takes bytes, got {type(data).__name__}")
        self._writer.write(frame(bytes(data)))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    @property
    def closed(self) -> bool:
        return bool(self._writer.closed)
