"""Fragmentation of one encoded frame into data-channel messages, and reassembly.

Every message starts with a 12-byte header (little-endian), whose first two bytes are the
version/type pair every message of the data-channel protocol starts with (``docs/protocol.md``)::

    0  1  version (1)
    1  1  type 0x56 ('V': volumetric fragment)
    2  2  reserved, 0
    4  4  frame id (uint32, wraps)
    8  2  fragment index (0 .. count-1)
    10 2  fragment count (1 .. MAX_FRAGMENTS)
    12 .. fragment data

The data channel is unordered and unreliable (``maxRetransmits=0``), so fragments arrive in any
order, twice, or never. The :class:`Reassembler` keeps a few frames in flight, returns a frame
as soon as all its fragments are in, and drops every older incomplete frame at that moment (a
newer frame makes them useless: the newest frame wins).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from holocall_desktop.codec.base import MAX_MESSAGE_BYTES, CodecError

VERSION = 1
TYPE = 0x56
HEADER = struct.Struct("<BBHIHH")
HEADER_BYTES = HEADER.size
#: at most this many fragments per frame (4 MiB): bounds the reassembly memory
MAX_FRAGMENTS = 64
#: a fragment this many ids or more behind the last completed frame means the sender restarted
RESTART_DISTANCE = 1024


def fragment(payload: bytes, frame_id: int, max_message: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """Split ``payload`` into messages of at most ``max_message`` bytes, header included."""
    chunk = max_message - HEADER_BYTES
    if chunk <= 0:
        raise ValueError(f"max_message must exceed the {HEADER_BYTES}-byte header")
    count = max(1, -(-len(payload) // chunk))
    if count > MAX_FRAGMENTS:
        raise CodecError(
            f"encoded frame of {len(payload)} bytes needs {count} fragments (max {MAX_FRAGMENTS})"
        )
    fid = frame_id & 0xFFFFFFFF
    view = memoryview(payload)
    return [
        HEADER.pack(VERSION, TYPE, 0, fid, i, count) + view[i * chunk : (i + 1) * chunk]
        for i in range(count)
    ]


def parse_header(message: bytes) -> tuple[int, int, int]:
    """``(frame_id, index, count)`` of one message; :class:`CodecError` if it is not ours."""
    if len(message) < HEADER_BYTES:
        raise CodecError(f"message of {len(message)} bytes is shorter than the fragment header")
    if len(message) > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE_BYTES}")
    version, kind, _reserved, fid, index, count = HEADER.unpack_from(message)
    if version != VERSION:
        raise CodecError(f"unsupported fragment version {version} (this build reads {VERSION})")
    if kind != TYPE:
        raise CodecError(f"not a volumetric fragment (message type {kind:#04x})")
    if not 1 <= count <= MAX_FRAGMENTS or index >= count:
        raise CodecError(f"bad fragment {index} of {count}")
    return fid, index, count


def _newer(a: int, b: int) -> bool:
    """Serial-number order on uint32 ids (RFC 1982): is ``a`` after ``b``?"""
    return a != b and ((a - b) & 0xFFFFFFFF) < 0x80000000


@dataclass
class _Pending:
    count: int
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class ReassemblyStats:
    completed: int = 0
    dropped_incomplete: int = 0
    stale_fragments: int = 0
    duplicate_fragments: int = 0


class Reassembler:
    """Collects fragments into frames. Feed every message to :meth:`push`."""

    def __init__(self, max_pending: int = 4) -> None:
        self.max_pending = max_pending
        self._pending: dict[int, _Pending] = {}
        self._last_done: int | None = None
        self.stats = ReassemblyStats()

    def push(self, message: bytes) -> bytes | None:
        """Add one message; the whole frame payload once its last fragment is in, else ``None``.

        Raises :class:`CodecError` for a message that is not a valid fragment; late fragments of
        frames older than the last completed one are ignored (counted in :attr:`stats`).
        """
        fid, index, count = parse_header(message)
        if self._last_done is not None and not _newer(fid, self._last_done):
            if (self._last_done - fid) & 0xFFFFFFFF <= RESTART_DISTANCE:
                self.stats.stale_fragments += 1
                return None
            self.reset()  # far behind: the sender restarted its frame ids
        pending = self._pending.get(fid)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                oldest = max(self._pending, key=lambda k: (fid - k) & 0xFFFFFFFF)
                del self._pending[oldest]
                self.stats.dropped_incomplete += 1
            pending = self._pending[fid] = _Pending(count)
        elif pending.count != count:
            raise CodecError(f"frame {fid}: fragment count changed from {pending.count} to {count}")
        if index in pending.parts:
            self.stats.duplicate_fragments += 1
            return None
        pending.parts[index] = bytes(message[HEADER_BYTES:])
        if len(pending.parts) < count:
            return None
        del self._pending[fid]
        older = [k for k in self._pending if _newer(fid, k)]
        for k in older:
            del self._pending[k]
        self.stats.dropped_incomplete += len(older)
        self.stats.completed += 1
        self._last_done = fid
        return b"".join(pending.parts[i] for i in range(count))

    def reset(self) -> None:
        self._pending.clear()
        self._last_done = None
