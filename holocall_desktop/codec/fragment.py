"""Fragmentation of one encoded frame into data-channel messages, and reassembly.

Every message starts with a 12-byte header (little-endian), whose first two bytes are the
version/type pair every message of the data-channel protocol starts with (``docs/protocol.md``)::

    0  1  version (1)
    1  1  type 0x56 ('V': volumetric fragment)
    2  2  data fragments k: 0 = no parity, every fragment is needed; else any k of them do
    4  4  frame id (uint32, wraps)
    8  2  fragment index (0 .. count-1)
    10 2  fragment count (1 .. MAX_FRAGMENTS, or .. MAX_FEC_FRAGMENTS with parity)
    12 .. fragment data

The data channel is unordered and only partially reliable (a lost fragment is retransmitted
for 150 ms, then given up), so fragments arrive in any order, twice, or never. With
``parity``, :func:`fragment` cuts the frame into k messages that each fit one SCTP packet and
adds parity messages (a Reed-Solomon erasure code, PyPI ``zfec``): any k of the count messages
rebuild the frame, so a lost packet no longer costs the frame. The :class:`Reassembler` keeps a
few frames in flight, returns a frame as soon as it can be rebuilt, and drops every older
incomplete frame at that moment (the newest frame wins).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import zfec

from holocall_desktop.codec.base import MAX_MESSAGE_BYTES, CodecError

VERSION = 1
TYPE = 0x56
HEADER = struct.Struct("<BBHIHH")
HEADER_BYTES = HEADER.size
#: at most this many fragments per frame (4 MiB): bounds the reassembly memory
MAX_FRAGMENTS = 64
#: a fragment this many ids or more behind the last completed frame means the sender restarted
RESTART_DISTANCE = 1024
#: with parity, every message fits one SCTP DATA chunk (aiortc: 1,200 bytes of user data), so
#: that one lost packet is one lost fragment, which the parity makes up for
FEC_MESSAGE_BYTES = 1200
FEC_SHARD_BYTES = FEC_MESSAGE_BYTES - HEADER_BYTES
#: at most this many fragments of a frame with parity (the erasure code's limit; 300 KB)
MAX_FEC_FRAGMENTS = 256
_LENGTH = struct.Struct("<I")  # the payload's length, first in the data of a frame with parity


def fragment(
    payload: bytes, frame_id: int, max_message: int = MAX_MESSAGE_BYTES, parity: float = 0.0
) -> list[bytes]:
    """Split ``payload`` into messages of at most ``max_message`` bytes, header included.

    ``parity`` > 0: messages of :data:`FEC_MESSAGE_BYTES` instead, and ``ceil(k * parity)``
    parity messages after the k data ones (at least one), any k of which rebuild the frame.
    """
    fid = frame_id & 0xFFFFFFFF
    if parity > 0:
        return _fragment_with_parity(payload, fid, parity)
    chunk = max_message - HEADER_BYTES
    if chunk <= 0:
        raise ValueError(f"max_message must exceed the {HEADER_BYTES}-byte header")
    count = max(1, -(-len(payload) // chunk))
    if count > MAX_FRAGMENTS:
        raise CodecError(
            f"encoded frame of {len(payload)} bytes needs {count} fragments (max {MAX_FRAGMENTS})"
        )
    view = memoryview(payload)
    return [
        HEADER.pack(VERSION, TYPE, 0, fid, i, count) + view[i * chunk : (i + 1) * chunk]
        for i in range(count)
    ]


def _fragment_with_parity(payload: bytes, fid: int, parity: float) -> list[bytes]:
    data = _LENGTH.pack(len(payload)) + payload
    k = max(1, -(-len(data) // FEC_SHARD_BYTES))
    shard = -(-len(data) // k)  # as even as possible: less than k bytes of padding
    count = k + max(1, math.ceil(k * parity))
    if count > MAX_FEC_FRAGMENTS:
        count = MAX_FEC_FRAGMENTS  # a large frame gets the parity that fits
        if k >= count:
            raise CodecError(
                f"encoded frame of {len(payload)} bytes needs {k} fragments with parity "
                f"(max {MAX_FEC_FRAGMENTS - 1})"
            )
    data += bytes(k * shard - len(data))
    view = memoryview(data)
    shards = [bytes(view[i * shard : (i + 1) * shard]) for i in range(k)]
    shares = zfec.Encoder(k, count).encode(shards)
    return [HEADER.pack(VERSION, TYPE, k, fid, i, count) + share for i, share in enumerate(shares)]


def parse_header(message: bytes) -> tuple[int, int, int]:
    """``(frame_id, index, count)`` of one message; :class:`CodecError` if it is not ours."""
    fid, index, count, _k = parse_header_k(message)
    return fid, index, count


def parse_header_k(message: bytes) -> tuple[int, int, int, int]:
    """``(frame_id, index, count, k)``: ``k`` data fragments rebuild the frame (0: all)."""
    if len(message) < HEADER_BYTES:
        raise CodecError(f"message of {len(message)} bytes is shorter than the fragment header")
    if len(message) > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE_BYTES}")
    version, kind, k, fid, index, count = HEADER.unpack_from(message)
    if version != VERSION:
        raise CodecError(f"unsupported fragment version {version} (this build reads {VERSION})")
    if kind != TYPE:
        raise CodecError(f"not a volumetric fragment (message type {kind:#04x})")
    if k == 0:
        if not 1 <= count <= MAX_FRAGMENTS or index >= count:
            raise CodecError(f"bad fragment {index} of {count}")
    elif not (k <= count <= MAX_FEC_FRAGMENTS and index < count):
        raise CodecError(f"bad fragment {index} of {count} ({k} of them rebuild the frame)")
    elif len(message) > FEC_MESSAGE_BYTES:
        raise CodecError(
            f"a fragment with parity of {len(message)} bytes exceeds {FEC_MESSAGE_BYTES}"
        )
    return fid, index, count, k


def _newer(a: int, b: int) -> bool:
    """Serial-number order on uint32 ids (RFC 1982): is ``a`` after ``b``?"""
    return a != b and ((a - b) & 0xFFFFFFFF) < 0x80000000


@dataclass
class _Pending:
    count: int
    k: int  # fragments that rebuild the frame (0: all `count`)
    parts: dict[int, bytes] = field(default_factory=dict)

    @property
    def needed(self) -> int:
        return self.k or self.count


@dataclass
class ReassemblyStats:
    completed: int = 0
    rebuilt: int = 0  # of the completed: frames that lost fragments and were rebuilt by parity
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
        fid, index, count, k = parse_header_k(message)
        if self._last_done is not None and not _newer(fid, self._last_done):
            if (self._last_done - fid) & 0xFFFFFFFF <= RESTART_DISTANCE:
                self.stats.stale_fragments += 1
                return None
            self.reset()  # far behind: the sender restarted its frame ids
        pending = self._pending.get(fid)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                oldest = max(self._pending, key=lambda key: (fid - key) & 0xFFFFFFFF)
                del self._pending[oldest]
                self.stats.dropped_incomplete += 1
            pending = self._pending[fid] = _Pending(count, k)
        elif (pending.count, pending.k) != (count, k):
            raise CodecError(f"frame {fid}: fragment count changed from {pending.count} to {count}")
        if index in pending.parts:
            self.stats.duplicate_fragments += 1
            return None
        part = bytes(message[HEADER_BYTES:])
        if k and pending.parts and len(part) != len(next(iter(pending.parts.values()))):
            raise CodecError(f"frame {fid}: fragments with parity of different sizes")
        pending.parts[index] = part
        if len(pending.parts) < pending.needed:
            return None
        del self._pending[fid]
        older = [key for key in self._pending if _newer(fid, key)]
        for key in older:
            del self._pending[key]
        self.stats.dropped_incomplete += len(older)
        self.stats.completed += 1
        self._last_done = fid
        if not k:
            return b"".join(pending.parts[i] for i in range(count))
        return self._rebuild(fid, pending)

    def _rebuild(self, fid: int, pending: _Pending) -> bytes:
        k, count = pending.k, pending.count
        numbers = sorted(pending.parts)[:k]
        if numbers == list(range(k)):
            shards = [pending.parts[i] for i in numbers]  # the data fragments all came
        else:
            self.stats.rebuilt += 1
            shards = zfec.Decoder(k, count).decode([pending.parts[i] for i in numbers], numbers)
        data = b"".join(shards)
        (length,) = _LENGTH.unpack_from(data)
        if length > len(data) - _LENGTH.size:
            raise CodecError(f"frame {fid}: payload length {length} exceeds its fragments")
        return data[_LENGTH.size : _LENGTH.size + length]

    @property
    def pending(self) -> int:
        """Frames of which some fragments are in, not yet complete nor given up."""
        return len(self._pending)

    def reset(self) -> None:
        self._pending.clear()
        self._last_done = None
