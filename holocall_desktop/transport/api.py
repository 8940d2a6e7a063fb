"""The contract between the call engine (network thread) and whoever shows the call (UI, CLI).

The engine owns every aiortc and aiohttp object on one asyncio loop in its own thread. Callers
on other threads use only :class:`CallEngine`'s thread-safe methods; the engine reports back
through a :class:`CallListener` whose methods are called **on the network thread** (a Qt UI
re-emits them as queued signals; the headless client prints them). Decoded remote frames are not
pushed through the listener: each participant has a latest-frame-wins mailbox that the renderer
polls, so a slow renderer never queues frames.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame


class CallState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"  # REST token exchange, WebSocket, join-room
    JOINED = "joined"  # in the room (peers may still be connecting)
    RECONNECTING = "reconnecting"  # signaling lost; backing off and retrying, seat held
    LEFT = "left"  # left on purpose (leave() or the app closing)
    FAILED = "failed"  # gave up; the message says why in one line


class MediaMode(enum.Enum):
    VOLUMETRIC = "volumetric"  # depth + colour hologram
    AVATAR = "avatar"  # blendshape-driven avatar
    NONE = "none"  # camera off / nothing sent yet
    VIDEO = "video"  # a plain camera picture (a browser's or a phone's webcam), never sent by us


class PeerConnection(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True)
class CallConfig:
    """How to reach the room.

    ``server`` is the signaling server's base URL (``http://host:3000``); the WebSocket URL and
    the REST endpoints derive from it. Exactly one way in: ``create_room`` (become the host of a
    new room), ``invite_secret`` (a guest of ``room_id``), or ``access_token`` (tokens obtained
    elsewhere). ``user_id`` must be unique in the room.
    """

    server: str
    user_id: str
    display_name: str
    room_id: str | None = None
    invite_secret: str | None = None
    access_token: str | None = None
    create_room: bool = False
    codec: str = "volumetric-dc"
    max_peers: int = 2  # mesh: up to 3 participants in all
    #: with ``create_room``: for how many participants (None: a mesh's, max_peers + 1); on a
    #: server with an SFU a room for more than three calls through it (docs/calls.md)
    room_size: int | None = None
    #: a PEM file of the CA(s) that signed a self-hosted https server's certificate; None: the
    #: system's trust store. Certificates are always verified.
    ca_file: str | None = None


@dataclass(frozen=True)
class ParticipantInfo:
    user_id: str
    display_name: str
    seat: int
    mode: MediaMode = MediaMode.NONE
    connection: PeerConnection = PeerConnection.CONNECTING
    # from the participant's consent message (docs/protocol.md); False until one arrives
    allows_audio_recording: bool = False
    allows_hologram_recording: bool = False
    recording: bool = False  # the participant says it is recording the call
    codec: str | None = None  # the volumetric codec it sends with (from its hello)
    screen: ScreenInfo | None = None  # the screen it shares now (from its ``screen`` message)


@dataclass(frozen=True)
class ScreenInfo:
    """A shared screen: the largest picture sent (pixels), at most ``fps`` frames a second, and
    what it shows ("Screen 1", a video file's name)."""

    width: int
    height: int
    fps: int
    title: str = ""


@dataclass(frozen=True)
class RemoteScreen:
    """A picture of a participant's shared screen: RGB ``uint8 (H, W, 3)``, received at
    ``received_time`` (``time.time()`` here); smaller than its :class:`ScreenInfo` size when the
    link to us is slow."""

    user_id: str
    image: npt.NDArray[np.uint8]
    received_time: float


@dataclass(frozen=True)
class RemoteVideo:
    """A picture of a participant's plain camera video (a browser's webcam): RGB ``uint8 (H, W,
    3)``, at most 640 pixels on its longest side, received at ``received_time``."""

    user_id: str
    image: npt.NDArray[np.uint8]
    received_time: float


@dataclass(frozen=True)
class PeerStats:
    """Per remote participant, refreshed about once a second (``None`` = not known yet)."""

    user_id: str
    rtt_ms: float | None = None
    loss: float | None = None  # fraction of packets lost, 0..1
    jitter_ms: float | None = None
    bitrate_in_kbps: float = 0.0
    bitrate_out_kbps: float = 0.0
    fps_in: float = 0.0
    latency_ms: float | None = None  # glass-to-glass (capture -> drawn), median of the last second
    frames_in: int = 0
    frames_bad: int = 0  # messages rejected by the decoders (garbage, corrupt, wrong version)
    clock_offset_ms: float | None = None  # their wall clock minus ours (ping/pong, NTP-style)
    frames_out: int = 0  # frames sent to them
    frames_dropped: int = 0  # received frames replaced before being decoded (latest wins)
    frames_skipped: int = 0  # frames not sent to them: their channel was still busy
    # how they receive *our* stream, from their quality feedback (None until the first one)
    remote_fps_in: float | None = None
    remote_loss: float | None = None
    remote_latency_ms: float | None = None
    # the path to them (docs/calls.md, Adapting to the network)
    estimate_kbps: float | None = None  # our bandwidth estimate for our hologram to them
    #: the estimate is what they asked for because they cannot decode faster (their device,
    #: not the network, holds our hologram back)
    receiver_busy: bool = False
    remote_frame_loss: float | None = None  # share of our frames they could not rebuild
    #: share of our hologram fragments lost on the way (before the parity rebuilt frames)
    fragment_loss_out: float | None = None
    send_rung: str | None = None  # the rung of the quality ladder we send them
    send_rung_kbps: float | None = None  # … and its expected bitrate
    network: str = "unknown"  # "excellent", "good", "poor" or "unknown"
    network_reason: str = ""  # why, in a few words ("12 % loss", "round trip 450 ms")


@dataclass(frozen=True)
class RemoteFrame:
    """A decoded remote hologram frame, ready to draw.

    ``capture_time`` is the sender's capture instant on this machine's ``time.time()`` clock
    (the sender's wall clock corrected by the estimated clock offset).
    """

    user_id: str
    frame: DepthFrame
    capture_time: float
    received_time: float
    sequence: int


@dataclass(frozen=True)
class RemoteAvatar:
    """A remote avatar frame (type 0x41 on the ``hologram`` channel).

    ``frame.timestamp`` is on the sender's capture clock; ``received_time`` is ``time.time()``
    here when it arrived.
    """

    user_id: str
    frame: AvatarFrame
    received_time: float


@dataclass(frozen=True)
class RemoteAnchor:
    """A remote ``anchor_sync`` (the seed's AR anchor message): where ``participant_id``'s
    shared anchor is, in metres and a unit quaternion (x, y, z, w)."""

    user_id: str  # who sent it
    participant_id: str
    position: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    cloud_anchor_id: str | None
    received_time: float


@dataclass(frozen=True)
class ChatMessage:
    """A chat message (``chat`` on ``control``): from ``user_id`` (this participant's own id for
    one it sent), ``sent_time`` on this machine's ``time.time()`` clock, ``seq`` the sender's
    number for it."""

    user_id: str
    text: str
    sent_time: float
    seq: int


@dataclass(frozen=True)
class CallSummary:
    join_time_s: float | None = None  # start() -> first remote frame drawn
    participants_seen: list[str] = field(default_factory=list)
    reconnects: int = 0  # signaling reconnects
    frames_sent: int = 0
    frames_received: int = 0


class CallListener(Protocol):
    def on_state(self, state: CallState, message: str) -> None: ...

    def on_participant(self, info: ParticipantInfo) -> None:
        """A participant joined, or their mode/connection/name changed."""
        ...

    def on_participant_left(self, user_id: str, reason: str) -> None: ...

    def on_stats(self, stats: list[PeerStats]) -> None: ...

    def on_chat(self, message: ChatMessage) -> None:
        """A chat message arrived (in the order its sender wrote them)."""
        ...

    def on_sharing(self, info: ScreenInfo | None, error: str | None) -> None:
        """Our screen share started (``info``), stopped (None), or stopped because it failed
        (``error``, one line)."""
        ...
