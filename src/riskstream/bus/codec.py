"""Wire format of an event batch: a 16-byte header, then the raw bytes of the structured array.

No per-event encoding: the payload *is* the numpy buffer (``EVENT_DTYPE``, 64 bytes per
event), so encoding is one ``tobytes`` and decoding one ``np.frombuffer`` (zero-copy when the
buffer is aligned). The header guards against reading a batch written with another schema::

    magic  b"RSEV"   4 bytes
    version uint16   WIRE_VERSION
    itemsize uint16  EVENT_DTYPE.itemsize
    count  uint32    number of events
    schema uint32    CRC-32 of EVENT_DTYPE's description (changes whenever the dtype does)
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE

WIRE_VERSION = 1
MAGIC = b"RSEV"
HEADER = struct.Struct("<4sHHII")
HEADER_BYTES = HEADER.size  # 16: keeps the array 16-byte aligned after the header
SCHEMA_CRC = zlib.crc32(repr(EVENT_DTYPE.descr).encode()) & 0xFFFFFFFF


def _padding_mask() -> np.ndarray:
    """One record as 8 uint64 words, with every bit that belongs to a field set."""
    covered = np.zeros(EVENT_DTYPE.itemsize, dtype=np.uint8)
    for name in EVENT_DTYPE.names:
        field_dtype, offset = EVENT_DTYPE.fields[name][:2]
        covered[offset : offset + field_dtype.itemsize] = 0xFF
    return covered.view(np.uint64)


FIELD_MASK = _padding_mask()
"""AND-ing a record's words with this zeroes its alignment padding (and nothing else)."""
WORDS = EVENT_DTYPE.itemsize // 8


def encode(events: np.ndarray) -> bytes:
    """The wire bytes of an event batch (header + raw array bytes, padding zeroed).

    The alignment padding of ``EVENT_DTYPE`` is not initialised by numpy's field-wise
    copies (fancy indexing, ``np.empty``), so it is zeroed here, in the same pass that
    copies the records (a bitwise AND with :data:`FIELD_MASK`): the same events always
    give the same bytes, which makes message ids and stored payloads deterministic.
    """
    if events.dtype != EVENT_DTYPE:
        raise InputError("events.dtype", str(events.dtype), "EVENT_DTYPE")
    n = len(events)
    out = np.empty(HEADER_BYTES + n * EVENT_DTYPE.itemsize, dtype=np.uint8)
    HEADER.pack_into(out, 0, MAGIC, WIRE_VERSION, EVENT_DTYPE.itemsize, n, SCHEMA_CRC)
    words = np.ascontiguousarray(events).view(np.uint64).reshape(n, WORDS)
    np.bitwise_and(words, FIELD_MASK, out=out[HEADER_BYTES:].view(np.uint64).reshape(n, WORDS))
    return out.tobytes()


def decode(payload: bytes | memoryview) -> np.ndarray:
    """The event batch held by ``payload`` (read-only; zero-copy when aligned).

    Raises
    ------
    InputError
        The payload is not an event batch of this schema version.
    """
    if len(payload) < HEADER_BYTES:
        raise InputError("payload", f"{len(payload)} bytes", f"at least {HEADER_BYTES} bytes")
    magic, version, itemsize, count, crc = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise InputError("payload.magic", magic, repr(MAGIC))
    if version != WIRE_VERSION:
        raise InputError("payload.version", version, f"wire version {WIRE_VERSION}")
    if itemsize != EVENT_DTYPE.itemsize or crc != SCHEMA_CRC:
        raise InputError("payload.schema", (itemsize, crc), "this build's EVENT_DTYPE")
    expected = HEADER_BYTES + count * itemsize
    if len(payload) != expected:
        raise InputError("payload.length", len(payload), f"{expected} bytes for {count} events")
    events = np.frombuffer(payload, dtype=EVENT_DTYPE, count=count, offset=HEADER_BYTES)
    if not events.flags.aligned:  # numba kernels want aligned records
        events = events.copy()
    return events


def rows_per_message(max_payload_bytes: int) -> int:
    """How many events fit in one message of at most ``max_payload_bytes`` (headers aside)."""
    rows = (max_payload_bytes - HEADER_BYTES) // EVENT_DTYPE.itemsize
    if rows < 1:
        raise InputError("max_payload_bytes", max_payload_bytes, "room for at least one event")
    return rows
