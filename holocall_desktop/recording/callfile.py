"""Call files: a whole call in one MCAP file (``docs/recording.md``).

MCAP (PyPI ``mcap``) is a container made for timestamped multi-stream logs: chunks (zstd)
with a message index for seeking, readable while incomplete, and open in the MCAP ecosystem's
viewers. A call file has the profile ``holocall`` and one channel per stream:

- ``/room`` (``json``): who is in the call, under which name, at which seat, what they allow;
- ``/chat`` (``json``): each chat message;
- ``/hologram/<user>`` (``holocall-frame``): each volumetric frame's payload as it arrived,
  before decoding (the codec is in the channel's metadata);
- ``/avatar/<user>`` (``holocall-avatar``): each avatar frame (``0x41``) as it arrived;
- ``/voice/<user>`` (``holocall-opus``): each Opus packet as it arrived, after the RTP
  sequence number and timestamp (``uint16``, ``uint32``, little-endian).

Every message's log time is when it arrived (or was sent, for the recorder's own streams), in
ns of the recorder's wall clock. :class:`CallWriter` writes on a thread of its own (the taps
that feed it run on the network loop and never wait for the disk) and flushes a chunk every
second, so a crash loses at most that second and the file stays readable; a full disk stops
the recording with :attr:`CallWriter.error` saying so. :func:`read_call` reads a file back,
to its last whole chunk if it was cut short, and raises :class:`CallFileError` with a one-line
reason for anything that is not a call file.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import logging
import queue
import struct
import threading
import time
from pathlib import Path
from typing import IO, Any

import zstandard
from mcap.exceptions import McapError
from mcap.records import Channel, Header, Message, Metadata
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

from holocall_desktop import __version__

log = logging.getLogger(__name__)

PROFILE = "holocall"
MAGIC = b"\x89MCAP0\r\n"  # how every MCAP file starts
FLUSH_INTERVAL_S = 1.0
#: items the writer thread may fall behind by before new ones are dropped (and counted)
QUEUE_LIMIT = 4096
VOICE_HEADER = struct.Struct("<HI")  # RTP sequence number, RTP timestamp

ENCODINGS = {
    "room": "json",
    "chat": "json",
    "hologram": "holocall-frame",
    "avatar": "holocall-avatar",
    "voice": "holocall-opus",
}


class CallFileError(Exception):
    """A file that cannot be read as a call (the message is one line)."""


@dataclasses.dataclass(frozen=True)
class Record:
    """One message of a call file: its stream (``kind``: room, chat, hologram, avatar,
    voice), whose it is (``None`` for room and chat), when (s, recorder's wall clock), what."""

    kind: str
    user_id: str | None
    time: float
    data: bytes
    metadata: dict[str, str]

    def json(self) -> dict[str, Any]:
        value = json.loads(self.data)
        if not isinstance(value, dict):
            raise CallFileError(f"a {self.kind} message is not a JSON object")
        return value


def voice_packet(seq: int, timestamp: int, opus: bytes) -> bytes:
    """A ``/voice`` message: the RTP numbers and the Opus packet."""
    return VOICE_HEADER.pack(seq & 0xFFFF, timestamp & 0xFFFFFFFF) + opus


def split_voice(data: bytes) -> tuple[int, int, bytes]:
    if len(data) < VOICE_HEADER.size:
        raise CallFileError("a voice message is shorter than its header")
    seq, timestamp = VOICE_HEADER.unpack_from(data)
    return seq, timestamp, data[VOICE_HEADER.size :]


class CallWriter:
    """Appends a call's streams to ``path`` (see the module doc); any thread may call
    :meth:`put`. ``OSError`` with a one-line message if the file cannot be created."""

    def __init__(self, path: Path, metadata: dict[str, str]) -> None:
        self.path = path
        try:
            self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise OSError(f"cannot write the recording {path}: {exc.strerror or exc}") from None
        self._writer = Writer(self._file, chunk_size=4 << 20, compression=CompressionType.ZSTD)
        self._writer.start(profile=PROFILE, library=f"holocall {__version__}")
        self._writer.add_metadata("call", {k: str(v) for k, v in metadata.items()})
        self._channels: dict[tuple[str, str | None], int] = {}
        self._queue: queue.Queue[tuple[str, str | None, float, bytes, dict[str, str]] | None] = (
            queue.Queue(QUEUE_LIMIT)
        )
        self.error: str | None = None  # why the recording stopped early (a full disk)
        self.dropped = 0  # messages not written: the disk fell behind
        self.written = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="call-writer", daemon=True)
        self._thread.start()

    def put(
        self,
        kind: str,
        user_id: str | None,
        data: bytes,
        when: float | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Queue one message (``kind`` as in :data:`ENCODINGS`); never blocks."""
        if self._closed or self.error is not None:
            return
        try:
            self._queue.put_nowait(
                (kind, user_id, time.time() if when is None else when, data, metadata or {})
            )
        except queue.Full:
            self.dropped += 1

    def put_json(self, kind: str, value: dict[str, Any], when: float | None = None) -> None:
        self.put(kind, None, json.dumps(value, ensure_ascii=False).encode(), when)

    def close(self) -> None:
        """Write what is queued, the index and the summary; close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        try:
            if self.error is None:
                self._writer.finish()
        except OSError as exc:
            self._failed(exc)
        try:
            self._file.close()
        except OSError as exc:  # the last buffered bytes did not fit
            self._failed(exc)

    def _run(self) -> None:
        next_flush = time.monotonic() + FLUSH_INTERVAL_S
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_flush - time.monotonic()))
            except queue.Empty:
                item = ()  # type: ignore[assignment]
            if item is None:
                return
            if self.error is not None:
                continue
            try:
                if item:
                    self._write(*item)
                if time.monotonic() >= next_flush:
                    next_flush = time.monotonic() + FLUSH_INTERVAL_S
                    self._writer.flush()
            except OSError as exc:
                self._failed(exc)

    def _write(
        self, kind: str, user_id: str | None, when: float, data: bytes, meta: dict[str, str]
    ) -> None:
        key = (kind, user_id)
        channel = self._channels.get(key)
        if channel is None:
            topic = f"/{kind}" if user_id is None else f"/{kind}/{user_id}"
            channel = self._writer.register_channel(topic, ENCODINGS[kind], 0, meta)
            self._channels[key] = channel
        ns = int(when * 1e9)
        self._writer.add_message(channel, ns, data, ns)
        self.written += 1

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            self.error = f"the recording stopped: cannot write {self.path} ({exc.strerror or exc})"
            log.warning("%s", self.error)


@dataclasses.dataclass
class CallFile:
    """What :func:`read_call` found: the call's metadata, its records in order, and whether
    the file was cut short (a crash or a kill while recording)."""

    metadata: dict[str, str]
    records: list[Record]
    truncated: bool = False


def read_call(path: Path) -> CallFile:
    """Every record of the call file at ``path``, in the order they were written;
    :class:`CallFileError` (one line) if it is not one."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CallFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    with stream:
        if stream.read(len(MAGIC)) != MAGIC:
            raise CallFileError(f"{path} is not a HoloCall call file (not an MCAP file)")
        stream.seek(0)
        return _read(path, stream)


def is_call_file(path: Path) -> bool:
    """Whether ``path`` starts like an MCAP file (a call file, or a foreign MCAP file that
    :func:`read_call` will name as such)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _read(path: Path, stream: IO[bytes]) -> CallFile:
    out = CallFile(metadata={}, records=[])
    channels: dict[int, Channel] = {}
    try:
        for record in StreamReader(stream, validate_crcs=True).records:
            if isinstance(record, Header) and record.profile != PROFILE:
                raise CallFileError(
                    f"{path} is an MCAP file but not a HoloCall call (profile {record.profile!r})"
                )
            if isinstance(record, Metadata) and record.name == "call":
                out.metadata = dict(record.metadata)
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message) and record.channel_id in channels:
                channel = channels[record.channel_id]
                kind, _, user = channel.topic.lstrip("/").partition("/")
                if ENCODINGS.get(kind) != channel.message_encoding:
                    continue  # a stream of a later version, or someone else's
                out.records.append(
                    Record(
                        kind,
                        user or None,
                        record.log_time / 1e9,
                        bytes(record.data),
                        dict(channel.metadata),
                    )
                )
    except CallFileError:
        raise
    except (McapError, EOFError, struct.error, ValueError, zstandard.ZstdError) as exc:
        if not out.records:
            raise CallFileError(f"{path} is damaged before its first message ({exc})") from None
        out.truncated = True  # cut short: what came before is whole
    return out


def iter_kind(records: collections.abc.Iterable[Record], kind: str) -> list[Record]:
    return [r for r in records if r.kind == kind]
