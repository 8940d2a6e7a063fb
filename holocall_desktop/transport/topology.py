"""How this participant is connected to the others: the interface the call engine drives.

A topology turns room messages from the signaling server into connections and carries media
over them. The mesh (:class:`~holocall_desktop.transport.mesh.MeshTopology`: one aiortc peer
connection to each other participant) is the one we have; an SFU topology (one connection to a
media server that forwards everyone) plugs in behind the same interface.

Everything runs on the engine's event loop. A topology reports upward only through
:class:`TopologyEvents`, never by calling the engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol

from holocall_desktop.codec import control as wire
from holocall_desktop.transport.api import (
    ChatMessage,
    ParticipantInfo,
    PeerStats,
    RemoteAnchor,
    RemoteAvatar,
    RemoteFrame,
    RemoteScreen,
    RemoteVideo,
)
from holocall_desktop.transport.congestion import CongestionControl
from holocall_desktop.transport.peer import LocalInfo
from holocall_desktop.transport.screen import ScreenPath

#: sends one signaling message; False when signaling is not connected
SendSignal = Callable[[dict[str, Any]], Awaitable[bool]]


def seat_of(p: dict[str, Any]) -> int:
    """The ``seat`` of a room message or participant entry (-1 when it has none)."""
    seat = p.get("seat")
    return seat if isinstance(seat, int) else -1


class TopologyEvents(Protocol):
    """What a topology reports (on the event loop)."""

    def participant_changed(self, info: ParticipantInfo) -> None:
        """A participant appeared, or its name, mode, consent or connection changed."""

    def participant_left(self, user_id: str, reason: str) -> None: ...

    def frame_received(self, remote: RemoteFrame) -> None: ...

    def avatar_received(self, remote: RemoteAvatar) -> None: ...

    def anchor_received(self, remote: RemoteAnchor) -> None: ...

    def chat_received(self, message: ChatMessage) -> None: ...

    def screen_received(self, screen: RemoteScreen) -> None:
        """A picture of a participant's shared screen."""

    def video_received(self, video: RemoteVideo) -> None:
        """A picture of a participant's plain camera video (a browser's webcam)."""

    def audio_received(self, user_id: str, track: Any) -> None:
        """A participant's voice track; the listener must consume it."""


class HologramPath(Protocol):
    """One receiver of volumetric fragments, with the bandwidth estimate of the way to it."""

    @property
    def user_id(self) -> str: ...

    @property
    def congestion(self) -> CongestionControl: ...

    @property
    def capabilities(self) -> wire.Capability:
        """What the receiver's ``hello`` said it reads (0 before its hello)."""

    def send_fragments(self, messages: list[bytes]) -> bool:
        """One frame's fragments; False when it was not sent (the path is busy or closed)."""


class Topology(Protocol):
    @property
    def my_seat(self) -> int:
        """The seat the server gave this participant (-1 before ``room-state``)."""

    async def handle(self, message: dict[str, Any]) -> None:
        """A room message from the signaling server (room-state, user-joined, user-left,
        offer, answer, ice-candidate). Never raises for one bad peer or message."""

    def set_local(self, local: LocalInfo) -> None:
        """This participant's name, codec, mode or consent (told to everyone connected)."""

    def receivers(self, video: bool) -> int:
        """How many participants a hologram frame can be sent to now."""

    def send_hologram_frame(self, payloads: list[Any], video: bool) -> int:
        """One encoded frame to everyone who can take it; returns to how many it went."""

    def hologram_paths(self) -> list[HologramPath]:
        """The receivers whose hologram channel is open (each may get its own rung)."""

    def screen_paths(self) -> list[ScreenPath]:
        """The receivers our shared screen can go to now."""

    def send_hologram(self, messages: list[bytes], to: Collection[str] | None = None) -> None:
        """Small messages (avatar, anchor) to everyone on the hologram path (or those of
        ``to``, user ids)."""

    def send_raw(self, channel: str, data: bytes | str, to: str | None) -> None: ...

    def send_chat(self, message: wire.Chat, to: str | None) -> None:
        """To everyone (or ``to``) who reads chat, in order; to a peer still connecting once
        its hello came."""

    def frame_drawn(self, user_id: str, when: float, latency_ms: float) -> None:
        """A frame of ``user_id`` reached the screen (any thread)."""

    async def keep_alive(self, now: float) -> None:
        """Ping, and drop participants that stopped answering or never connected."""

    async def collect_stats(self) -> list[PeerStats]:
        """Everyone's stats for the last interval; tells each sender how its stream arrives."""

    async def say_goodbye(self, reason: wire.ByeReason) -> None: ...

    async def close(self, reason: str) -> None:
        """Close every connection (each reported as left with ``reason``)."""
