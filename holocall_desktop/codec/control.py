"""Call messages of the data-channel protocol besides frames: anchor sync and control messages.

Every message starts with the protocol's version/type pair (``docs/protocol.md``). This module
encodes and decodes:

- on the ``hologram`` channel: ``anchor_sync`` (``0x53``); volumetric fragments (``0x56``,
  :mod:`.fragment`) and avatar frames (``0x41``, :mod:`.avatar_frame`) have their own modules;
- on the ``control`` channel: ``hello`` (``0x48``), ``ping`` (``0x50``), ``pong`` (``0x51``),
  ``quality`` feedback (``0x46``), ``arrivals`` of hologram frames (``0x52``, for the sender's
  bandwidth estimate), ``consent`` (``0x43``), ``mode`` change (``0x4D``), ``chat``
  (``0x54``), ``screen`` share state (``0x44``) and ``bye`` (``0x42``).

:func:`decode_control` / :func:`decode_anchor` raise :class:`WireError` (a :class:`CodecError`)
with a one-line reason for anything malformed: wrong version, unknown type, truncation, trailing
bytes, reserved bits set, non-finite numbers, out-of-range values, bad UTF-8. Nothing is partially
decoded.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from holocall_desktop.codec.base import CodecError

VERSION = 1

TYPE_AVATAR = 0x41  # 'A' (codec.avatar_frame)
TYPE_BYE = 0x42  # 'B'
TYPE_CONSENT = 0x43  # 'C'
TYPE_SCREEN = 0x44  # 'D' (display: a shared screen)
TYPE_QUALITY = 0x46  # 'F' (feedback)
TYPE_HELLO = 0x48  # 'H'
TYPE_MODE = 0x4D  # 'M'
TYPE_PING = 0x50  # 'P'
TYPE_PONG = 0x51  # 'Q'
TYPE_ARRIVALS = 0x52  # 'R' (arrival report)
TYPE_ANCHOR = 0x53  # 'S' (anchor sync)
TYPE_CHAT = 0x54  # 'T' (text chat)
TYPE_VOLUMETRIC = 0x56  # 'V' (codec.fragment)

#: the longest display name in bytes (UTF-8)
MAX_NAME_BYTES = 128
#: the longest chat text on the wire, in bytes (UTF-8), and the most characters a sender writes
MAX_CHAT_BYTES = 2000
MAX_CHAT_CHARS = 500
#: the longest title of a shared screen in bytes (UTF-8), and its size and rate limits
MAX_SCREEN_TITLE_BYTES = 100
SCREEN_SIZE_RANGE = (16, 4096)
SCREEN_FPS_RANGE = (1, 60)
#: participant ids follow the signaling server's rule
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class WireError(CodecError):
    """A control or anchor message that cannot be accepted (the reason is one line)."""


class Mode(IntEnum):
    """What a participant sends (the wire values of ``transport.api.MediaMode``)."""

    NONE = 0
    VOLUMETRIC = 1
    AVATAR = 2
    VIDEO = 3  # a plain camera picture on the first video track (the web client)


class Capability(IntFlag):
    """What a participant can receive and send (``hello.capabilities``)."""

    VOLUMETRIC_DC = 1 << 0  # volumetric fragments on the hologram channel
    HUE_VIDEO = 1 << 1  # hue-coded depth on a video track
    AVATAR = 1 << 2  # avatar frames
    ANCHOR_SYNC = 1 << 3  # anchor_sync messages
    AUDIO = 1 << 4  # an Opus audio track
    QUALITY_FEEDBACK = 1 << 5  # reads quality feedback
    ARRIVAL_REPORTS = 1 << 6  # reads arrival reports (and estimates the bandwidth from them)
    CHAT = 1 << 7  # reads chat messages
    SCREEN = 1 << 8  # receives a shared screen (the second video track) and reads ``screen``
    LATE_ARRIVALS = 1 << 9  # reads the "late" flag of arrival reports


ALL_CAPABILITIES = Capability(0x3FF)


class Codec(IntEnum):
    """The volumetric codec a participant sends with (``hello.codec``); which codec each number
    names is in :mod:`holocall_desktop.codec.registry`'s table."""

    NONE = 0
    VOLUMETRIC_DC = 1
    HUE_VIDEO = 2


class ByeReason(IntEnum):
    LEAVING = 0  # the user left the call
    APP_EXIT = 1  # the app is closing
    ERROR = 2  # leaving because of an error


class Consent(IntFlag):
    """Recording consent flags (``consent.flags``)."""

    RECORD_AUDIO = 1 << 0  # the sender allows others to record its audio
    RECORD_HOLOGRAM = 1 << 1  # … its hologram / avatar
    RECORDING = 1 << 2  # the sender is recording the call now

    @classmethod
    def of(cls, audio: bool, hologram: bool, recording: bool = False) -> Consent:
        """The flags for: others may record our audio, our hologram; we are recording."""
        flags = cls(0)
        if audio:
            flags |= cls.RECORD_AUDIO
        if hologram:
            flags |= cls.RECORD_HOLOGRAM
        if recording:
            flags |= cls.RECORDING
        return flags


# ---- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """First message on the control channel, both ways."""

    display_name: str
    mode: Mode
    codec: Codec = Codec.VOLUMETRIC_DC
    capabilities: Capability = ALL_CAPABILITIES
    max_version: int = VERSION  # highest protocol version the sender reads


@dataclass(frozen=True)
class Ping:
    """Clock probe: ``t1`` is the sender's ``time.time()`` when sent."""

    seq: int
    t1: float


@dataclass(frozen=True)
class Pong:
    """Answer to :class:`Ping`: ``t1`` echoed, ``t2`` = receive time, ``t3`` = send time, both
    on the answerer's ``time.time()`` (NTP's four timestamps, the fourth taken on arrival)."""

    seq: int
    t1: float
    t2: float
    t3: float


@dataclass(frozen=True)
class QualityFeedback:
    """What the receiver measured over the last second, and the bitrate it asks for.

    ``None`` = not known. ``max_bitrate_kbps`` 0 = no limit.
    """

    loss: float | None  # 0..1
    fps: float  # 0..655.35
    latency_ms: float | None  # 0..65534
    max_bitrate_kbps: int = 0


@dataclass(frozen=True)
class FrameArrival:
    """How one volumetric frame arrived: fragments and bytes received, and when it became whole
    (or, incomplete, when its last fragment came), in µs after the report's ``base_time``."""

    frame_id: int
    fragments: int
    size: int
    arrival_us: int
    complete: bool
    #: the receiver's event loop stalled while it arrived: its time is the receiver's, not the
    #: network's (flag bit 1, sent only to senders whose hello has ``LATE_ARRIVALS``)
    late: bool = False


@dataclass(frozen=True)
class ArrivalReport:
    """The receiver's account of the hologram frames that arrived since its last report
    (transport-wide-feedback style); ``base_time`` is on the receiver's monotonic clock, of
    which the sender uses only differences."""

    base_time: float
    frames: tuple[FrameArrival, ...]


#: at most this many frames in one arrival report
MAX_ARRIVALS = 255


@dataclass(frozen=True)
class ConsentMessage:
    flags: Consent


@dataclass(frozen=True)
class ModeChange:
    mode: Mode


@dataclass(frozen=True)
class Bye:
    reason: ByeReason = ByeReason.LEAVING


@dataclass(frozen=True)
class Chat:
    """A chat message: the sender's ``seq`` (from 1, one series for everyone it writes to),
    when it was sent (its ``time.time()``) and the text: plain text, 1 to
    :data:`MAX_CHAT_BYTES` bytes of UTF-8, no control characters but tab and line feed."""

    seq: int
    sent: float
    text: str


def is_control_char(c: str) -> bool:
    """A C0 or C1 control character or DEL, except tab and line feed (not allowed in chat)."""
    o = ord(c)
    return (o < 0x20 and c not in "\t\n") or 0x7F <= o <= 0x9F


@dataclass(frozen=True)
class ScreenState:
    """The sender shares its screen (``width`` × ``height`` pixels at most ``fps`` frames a
    second on the screen video track, showing ``title``), or stopped sharing (all zero)."""

    width: int = 0
    height: int = 0
    fps: int = 0
    title: str = ""

    @property
    def sharing(self) -> bool:
        return self.width > 0


SCREEN_STOPPED = ScreenState()


@dataclass(frozen=True)
class AnchorSync:
    """The seed's ``anchor_sync``: where a participant's shared anchor is (metres, unit
    quaternion x, y, z, w), with an optional cloud anchor id."""

    participant_id: str
    position: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    cloud_anchor_id: str | None = None


ControlMessage = (
    Hello
    | Ping
    | Pong
    | QualityFeedback
    | ArrivalReport
    | ConsentMessage
    | ModeChange
    | Chat
    | ScreenState
    | Bye
)

# ---- layouts ----------------------------------------------------------------------------------

_HEAD = struct.Struct("<BB")
_HELLO = struct.Struct("<BBBBHBB")  # ver, type, mode, codec, caps, max_version, name_len
_PING = struct.Struct("<BBId")
_PONG = struct.Struct("<BBIddd")
_QUALITY = struct.Struct("<BBHHHI")
_ARRIVALS_HEAD = struct.Struct("<BBdB")  # ver, type, base time, count
_ARRIVAL = struct.Struct("<IHBIi")  # frame id, fragments, flags (1: complete, 2: late), bytes, µs
_CHAT = struct.Struct("<BBIdH")  # ver, type, seq, sent, text length
_SCREEN = struct.Struct("<BBHHBB")  # ver, type, width, height, fps, title length
_FLAGS = struct.Struct("<BBB")  # consent, mode, bye: one byte after the header
_ANCHOR_HEAD = struct.Struct("<BBBB")  # ver, type, flags, id_len
_ANCHOR_POSE = struct.Struct("<7f")

_UNKNOWN_U16 = 0xFFFF


def _check_float(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise WireError(f"{what} is not a finite number")
    return value


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{what} is not valid UTF-8") from None


def _decode_arrivals(view: memoryview) -> ArrivalReport:
    if len(view) < _ARRIVALS_HEAD.size:
        raise WireError(f"truncated arrival report: {len(view)} of {_ARRIVALS_HEAD.size} bytes")
    _, _, base, count = _ARRIVALS_HEAD.unpack_from(view)
    _exact(view, _ARRIVALS_HEAD.size + count * _ARRIVAL.size, "arrival report")
    _check_float(base, "arrival report base time")
    frames = []
    for i in range(count):
        fid, fragments, flags, size, offset = _ARRIVAL.unpack_from(
            view, _ARRIVALS_HEAD.size + i * _ARRIVAL.size
        )
        if flags & ~3:
            raise WireError(f"arrival report: reserved flag bits set ({flags:#04x})")
        if fragments == 0:
            raise WireError("arrival report: a frame with no fragments received")
        frames.append(FrameArrival(fid, fragments, size, offset, bool(flags & 1), bool(flags & 2)))
    return ArrivalReport(base, tuple(frames))


def _decode_chat(view: memoryview) -> Chat:
    if len(view) < _CHAT.size:
        raise WireError(f"truncated chat: {len(view)} of at least {_CHAT.size} bytes")
    _, _, seq, sent, n = _CHAT.unpack_from(view)
    _exact(view, _CHAT.size + n, "chat")
    if not 1 <= n <= MAX_CHAT_BYTES:
        raise WireError(f"chat: {n} bytes of text (1 to {MAX_CHAT_BYTES})")
    text = _utf8(bytes(view[_CHAT.size :]), "chat text")
    if any(is_control_char(c) for c in text):
        raise WireError("chat: the text holds control characters")
    return Chat(seq, _check_float(sent, "chat time"), text)


def _encode_chat(message: Chat) -> bytes:
    text = message.text.encode("utf-8")
    if not 1 <= len(text) <= MAX_CHAT_BYTES:
        raise ValueError(f"chat text must be 1 to {MAX_CHAT_BYTES} bytes in UTF-8")
    if any(is_control_char(c) for c in message.text):
        raise ValueError("chat text must not hold control characters (but tab and line feed)")
    if not math.isfinite(message.sent):
        raise ValueError("chat time must be finite")
    return _CHAT.pack(VERSION, TYPE_CHAT, message.seq & 0xFFFFFFFF, message.sent, len(text)) + text


def _screen_problem(width: int, height: int, fps: int, title: bytes) -> str | None:
    if width == height == fps == 0:
        return "screen: a stop with a title" if title else None
    lo, hi = SCREEN_SIZE_RANGE
    if not (lo <= width <= hi and lo <= height <= hi):
        return f"screen: {width}x{height} pixels (each side {lo} to {hi}, or 0x0 to stop)"
    if not SCREEN_FPS_RANGE[0] <= fps <= SCREEN_FPS_RANGE[1]:
        return f"screen: {fps} fps (1 to {SCREEN_FPS_RANGE[1]})"
    if len(title) > MAX_SCREEN_TITLE_BYTES:
        return f"screen: a title of {len(title)} bytes (max {MAX_SCREEN_TITLE_BYTES})"
    return None


def _decode_screen(view: memoryview) -> ScreenState:
    if len(view) < _SCREEN.size:
        raise WireError(f"truncated screen: {len(view)} of at least {_SCREEN.size} bytes")
    _, _, width, height, fps, n = _SCREEN.unpack_from(view)
    _exact(view, _SCREEN.size + n, "screen")
    raw = bytes(view[_SCREEN.size :])
    problem = _screen_problem(width, height, fps, raw)
    if problem is not None:
        raise WireError(problem)
    title = _utf8(raw, "screen title")
    if any(is_control_char(c) or c in "\t\n" for c in title):
        raise WireError("screen: the title holds control characters")
    return ScreenState(width, height, fps, title)


def _encode_screen(message: ScreenState) -> bytes:
    title = message.title.encode("utf-8")
    problem = _screen_problem(message.width, message.height, message.fps, title)
    if problem is not None:
        raise ValueError(problem)
    if any(is_control_char(c) or c in "\t\n" for c in message.title):
        raise ValueError("screen title must not hold control characters")
    head = _SCREEN.pack(
        VERSION, TYPE_SCREEN, message.width, message.height, message.fps, len(title)
    )
    return head + title


def encode_control(message: ControlMessage) -> bytes:
    """The bytes of one control-channel message (``ValueError`` for values that do not fit)."""
    if isinstance(message, Hello):
        name = message.display_name.encode("utf-8")
        if len(name) > MAX_NAME_BYTES:
            raise ValueError(f"display name is longer than {MAX_NAME_BYTES} bytes in UTF-8")
        return (
            _HELLO.pack(
                VERSION,
                TYPE_HELLO,
                int(message.mode),
                int(message.codec),
                int(message.capabilities),
                message.max_version,
                len(name),
            )
            + name
        )
    if isinstance(message, Ping):
        return _PING.pack(VERSION, TYPE_PING, message.seq & 0xFFFFFFFF, message.t1)
    if isinstance(message, Pong):
        return _PONG.pack(
            VERSION, TYPE_PONG, message.seq & 0xFFFFFFFF, message.t1, message.t2, message.t3
        )
    if isinstance(message, QualityFeedback):
        loss = (
            _UNKNOWN_U16
            if message.loss is None
            else round(min(max(message.loss, 0.0), 1.0) * 10000)
        )
        fps = round(min(max(message.fps, 0.0), 655.35) * 100)
        latency = (
            _UNKNOWN_U16
            if message.latency_ms is None
            else round(min(max(message.latency_ms, 0.0), 65534.0))
        )
        if not 0 <= message.max_bitrate_kbps <= 0xFFFFFFFF:
            raise ValueError("max_bitrate_kbps must fit in 32 bits")
        return _QUALITY.pack(VERSION, TYPE_QUALITY, loss, fps, latency, message.max_bitrate_kbps)
    if isinstance(message, ArrivalReport):
        if len(message.frames) > MAX_ARRIVALS:
            raise ValueError(f"an arrival report holds at most {MAX_ARRIVALS} frames")
        return _ARRIVALS_HEAD.pack(
            VERSION, TYPE_ARRIVALS, message.base_time, len(message.frames)
        ) + b"".join(
            _ARRIVAL.pack(
                a.frame_id & 0xFFFFFFFF,
                min(a.fragments, 0xFFFF),
                (1 if a.complete else 0) | (2 if a.late else 0),
                min(a.size, 0xFFFFFFFF),
                max(-(2**31), min(a.arrival_us, 2**31 - 1)),
            )
            for a in message.frames
        )
    if isinstance(message, ConsentMessage):
        return _FLAGS.pack(VERSION, TYPE_CONSENT, int(message.flags))
    if isinstance(message, ModeChange):
        return _FLAGS.pack(VERSION, TYPE_MODE, int(message.mode))
    if isinstance(message, Bye):
        return _FLAGS.pack(VERSION, TYPE_BYE, int(message.reason))
    if isinstance(message, Chat):
        return _encode_chat(message)
    if isinstance(message, ScreenState):
        return _encode_screen(message)
    raise TypeError(f"not a control message: {type(message).__name__}")


def _header(data: bytes | memoryview) -> tuple[memoryview, int]:
    view = memoryview(data)
    if len(view) < _HEAD.size:
        raise WireError(f"truncated: {len(view)} bytes, shorter than the 2-byte header")
    version, kind = _HEAD.unpack_from(view)
    if version != VERSION:
        raise WireError(f"unsupported protocol version {version} (this build speaks {VERSION})")
    return view, kind


def _exact(view: memoryview, size: int, what: str) -> None:
    if len(view) < size:
        raise WireError(f"truncated {what}: {len(view)} of {size} bytes")
    if len(view) > size:
        raise WireError(f"{what} has {len(view) - size} trailing bytes")


def _enum_value(enum: type[IntEnum], value: int, what: str) -> int:
    try:
        return int(enum(value))
    except ValueError:
        raise WireError(f"unknown {what} {value}") from None


def decode_control(data: bytes | memoryview) -> ControlMessage:
    """Parse one control-channel message; :class:`WireError` if it is not a valid one."""
    view, kind = _header(data)
    if kind == TYPE_HELLO:
        if len(view) < _HELLO.size:
            raise WireError(f"truncated hello: {len(view)} of at least {_HELLO.size} bytes")
        _, _, mode, codec, caps, max_version, n = _HELLO.unpack_from(view)
        _exact(view, _HELLO.size + n, "hello")
        if n > MAX_NAME_BYTES:
            raise WireError(f"hello: display name of {n} bytes (max {MAX_NAME_BYTES})")
        if max_version < 1:
            raise WireError("hello: max_version must be at least 1")
        name = _utf8(bytes(view[_HELLO.size :]), "hello display name")
        return Hello(
            display_name=name,
            mode=Mode(_enum_value(Mode, mode, "mode")),
            codec=Codec(_enum_value(Codec, codec, "codec")),
            # bits of later versions are ignored: a newer peer may read more than we know of
            capabilities=Capability(caps & int(ALL_CAPABILITIES)),
            max_version=max_version,
        )
    if kind == TYPE_PING:
        _exact(view, _PING.size, "ping")
        _, _, seq, t1 = _PING.unpack_from(view)
        return Ping(seq, _check_float(t1, "ping t1"))
    if kind == TYPE_PONG:
        _exact(view, _PONG.size, "pong")
        _, _, seq, t1, t2, t3 = _PONG.unpack_from(view)
        return Pong(
            seq,
            _check_float(t1, "pong t1"),
            _check_float(t2, "pong t2"),
            _check_float(t3, "pong t3"),
        )
    if kind == TYPE_QUALITY:
        _exact(view, _QUALITY.size, "quality feedback")
        _, _, loss, fps, latency, bitrate = _QUALITY.unpack_from(view)
        if loss != _UNKNOWN_U16 and loss > 10000:
            raise WireError(f"quality feedback: loss {loss} / 10000 is more than 100 %")
        return QualityFeedback(
            loss=None if loss == _UNKNOWN_U16 else loss / 10000,
            fps=fps / 100,
            latency_ms=None if latency == _UNKNOWN_U16 else float(latency),
            max_bitrate_kbps=bitrate,
        )
    if kind == TYPE_ARRIVALS:
        return _decode_arrivals(view)
    if kind == TYPE_CHAT:
        return _decode_chat(view)
    if kind == TYPE_SCREEN:
        return _decode_screen(view)
    if kind in (TYPE_CONSENT, TYPE_MODE, TYPE_BYE):
        what = {TYPE_CONSENT: "consent", TYPE_MODE: "mode change", TYPE_BYE: "bye"}[kind]
        _exact(view, _FLAGS.size, what)
        value = view[2]
        if kind == TYPE_CONSENT:
            if value & ~0x07:
                raise WireError(f"consent: reserved flag bits set ({value:#04x})")
            return ConsentMessage(Consent(value))
        if kind == TYPE_MODE:
            return ModeChange(Mode(_enum_value(Mode, value, "mode")))
        return Bye(ByeReason(_enum_value(ByeReason, value, "bye reason")))
    if kind in (TYPE_VOLUMETRIC, TYPE_AVATAR, TYPE_ANCHOR):
        raise WireError(f"message type {kind:#04x} belongs on the hologram channel")
    raise WireError(f"unknown control message type {kind:#04x}")


def encode_anchor(message: AnchorSync) -> bytes:
    """The bytes of one ``anchor_sync`` message (``ValueError`` for values that do not fit)."""
    if not _ID.match(message.participant_id):
        raise ValueError("participant id must be 1-64 characters of A-Z a-z 0-9 _ . -")
    pid = message.participant_id.encode("ascii")
    values = [*message.position, *message.rotation]
    if len(message.position) != 3 or len(message.rotation) != 4:
        raise ValueError("anchor position needs 3 values and rotation 4")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("anchor position and rotation must be finite")
    norm = math.sqrt(sum(v * v for v in message.rotation))
    if abs(norm - 1.0) > 1e-3:
        raise ValueError(f"anchor rotation must be a unit quaternion (norm {norm:.4f})")
    out = _ANCHOR_HEAD.pack(
        VERSION, TYPE_ANCHOR, 1 if message.cloud_anchor_id is not None else 0, len(pid)
    )
    out += pid + _ANCHOR_POSE.pack(*values)
    if message.cloud_anchor_id is not None:
        cloud = message.cloud_anchor_id.encode("utf-8")
        if not 1 <= len(cloud) <= 255:
            raise ValueError("cloud anchor id must be 1-255 bytes in UTF-8")
        out += bytes([len(cloud)]) + cloud
    return out


def decode_anchor(data: bytes | memoryview) -> AnchorSync:
    """Parse one ``anchor_sync`` message; :class:`WireError` if it is not a valid one."""
    view, kind = _header(data)
    if kind != TYPE_ANCHOR:
        raise WireError(f"not an anchor_sync message (type {kind:#04x})")
    if len(view) < _ANCHOR_HEAD.size:
        raise WireError(f"truncated anchor_sync: {len(view)} bytes")
    _, _, flags, n = _ANCHOR_HEAD.unpack_from(view)
    if flags & ~0x01:
        raise WireError(f"anchor_sync: reserved flag bits set ({flags:#04x})")
    offset = _ANCHOR_HEAD.size
    end = offset + n + _ANCHOR_POSE.size
    if len(view) < end:
        raise WireError(f"truncated anchor_sync: {len(view)} of at least {end} bytes")
    pid = _utf8(bytes(view[offset : offset + n]), "anchor_sync participant id")
    if not _ID.match(pid):
        raise WireError("anchor_sync: participant id is not 1-64 characters of A-Z a-z 0-9 _ . -")
    values = _ANCHOR_POSE.unpack_from(view, offset + n)
    if not all(math.isfinite(v) for v in values):
        raise WireError("anchor_sync: position or rotation is not finite")
    rotation = values[3:]
    norm = math.sqrt(sum(v * v for v in rotation))
    if abs(norm - 1.0) > 1e-3:
        raise WireError(f"anchor_sync: rotation is not a unit quaternion (norm {norm:.4f})")
    cloud: str | None = None
    if flags & 0x01:
        if len(view) < end + 1:
            raise WireError("truncated anchor_sync: cloud anchor id length missing")
        m = view[end]
        if m == 0:
            raise WireError("anchor_sync: empty cloud anchor id")
        _exact(view, end + 1 + m, "anchor_sync")
        cloud = _utf8(bytes(view[end + 1 : end + 1 + m]), "cloud anchor id")
    else:
        _exact(view, end, "anchor_sync")
    return AnchorSync(
        participant_id=pid,
        position=(values[0], values[1], values[2]),
        rotation=(rotation[0], rotation[1], rotation[2], rotation[3]),
        cloud_anchor_id=cloud,
    )


def message_type(data: bytes | memoryview) -> int:
    """The type byte of a data-channel message after checking the version;
    :class:`WireError` for an empty message or another version."""
    return _header(data)[1]


def clock_sample(pong: Pong, t4: float) -> tuple[float, float]:
    """``(round_trip_s, offset_s)`` from one ping/pong exchange (NTP): ``offset`` is the
    answerer's clock minus ours, so a remote time ``t`` is ``t - offset`` on our clock."""
    rtt = (t4 - pong.t1) - (pong.t3 - pong.t2)
    offset = ((pong.t2 - pong.t1) + (pong.t3 - t4)) / 2.0
    return max(rtt, 0.0), offset
