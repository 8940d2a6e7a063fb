"""One participant seen through the SFU: everything it publishes arrives on one channel.

Janus relays all of a publisher's data channels to each subscriber on one ordered, reliable
channel labelled with the publisher's id (docs/server.md, *The SFU node*). A :class:`Feed` tells
the messages apart by their type byte (docs/protocol.md): volumetric fragments, avatar frames
and anchors go to its :class:`~holocall_desktop.transport.receiver.HologramReceiver`; hello,
mode, consent, chat and bye are read here. Pings, pongs and reports are addressed to someone
and are never sent through the SFU; one that arrives is ignored. Runs on the engine's loop.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, Protocol

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.base import CodecError
from holocall_desktop.codec.registry import name_of
from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.transport.api import MediaMode, ParticipantInfo, PeerConnection, RemoteAnchor
from holocall_desktop.transport.chat import ChatLink
from holocall_desktop.transport.peer import WIRE_TO_MODE, participant_info
from holocall_desktop.transport.peerstats import PeerMetrics
from holocall_desktop.transport.receiver import HologramReceiver
from holocall_desktop.transport.tap import StreamTap

#: the message types that belong to the hologram (the rest is control)
HOLOGRAM_TYPES = frozenset((wire.TYPE_VOLUMETRIC, wire.TYPE_AVATAR, wire.TYPE_ANCHOR))


class FeedEvents(Protocol):
    def feed_changed(self, feed: Feed) -> None: ...

    def feed_frame(self, feed: Feed, frame: DepthFrame, received: float) -> None: ...

    def feed_avatar(self, feed: Feed, frame: AvatarFrame, received: float) -> None: ...

    def feed_anchor(self, feed: Feed, anchor: RemoteAnchor) -> None: ...

    def feed_chat(self, feed: Feed, message: wire.Chat) -> None: ...

    def feed_bye(self, feed: Feed) -> None: ...


class Feed:
    def __init__(
        self,
        user_id: str,
        seat: int,
        events: FeedEvents,
        pool: concurrent.futures.Executor,
        tap: StreamTap,
    ) -> None:
        self.user_id = user_id
        self.seat = seat
        self.events = events
        self.display_name = user_id
        self.mode = MediaMode.NONE
        self.codec: str | None = None
        self.consent = wire.Consent(0)
        self.connection = PeerConnection.CONNECTING
        self.shown = True  # reported; False while it is silent past the timeout
        self.heard = False
        self.last_heard = time.monotonic()
        self.metrics = PeerMetrics(user_id)
        self.chat = ChatLink(user_id, lambda _m: None)  # only its flood limit: we never send
        self.receiver = HologramReceiver(user_id, self.metrics, pool, self)
        self.receiver.tap = lambda kind, data: tap.offer(kind, user_id, self.consent, data)

    def info(self) -> ParticipantInfo:
        return participant_info(self)

    def on_message(self, message: Any) -> None:
        """One message of the publisher's channel."""
        if self.receiver.closed:
            return
        self.last_heard = time.monotonic()
        self.heard = True
        if self.connection is not PeerConnection.CONNECTED:
            self.connection = PeerConnection.CONNECTED
            self.events.feed_changed(self)
        if isinstance(message, bytes) and len(message) >= 2 and message[1] in HOLOGRAM_TYPES:
            self.receiver.on_message(message)
            return
        if not isinstance(message, bytes):
            self.receiver.bad("text message on the publisher's channel")
            return
        self.metrics.bytes_in += len(message)
        try:
            msg = wire.decode_control(message)
        except CodecError as exc:
            self.receiver.bad(str(exc))
            return
        self._on_control(msg)

    def _on_control(self, msg: wire.ControlMessage) -> None:
        if isinstance(msg, wire.Hello):
            known = (self.display_name, self.mode, self.codec)
            self.display_name = msg.display_name or self.user_id
            self.mode = WIRE_TO_MODE[msg.mode]
            self.codec = name_of(msg.codec)
            if (self.display_name, self.mode, self.codec) != known:
                self.events.feed_changed(self)  # hellos repeat every second: news only
        elif isinstance(msg, wire.ModeChange):
            self.mode = WIRE_TO_MODE[msg.mode]
            self.events.feed_changed(self)
        elif isinstance(msg, wire.ConsentMessage):
            if msg.flags != self.consent:
                self.consent = msg.flags
                self.events.feed_changed(self)
        elif isinstance(msg, wire.Chat):
            if self.chat.admit(time.monotonic()):
                self.events.feed_chat(self, msg)
            else:
                self.receiver.bad("chat flood: message dropped")
        elif isinstance(msg, wire.Bye):
            self.events.feed_bye(self)

    # ---- ReceiverEvents ----------------------------------------------------------------------

    def frame_decoded(self, frame: DepthFrame, received: float) -> None:
        self.events.feed_frame(self, frame, received)

    def avatar_received(self, frame: AvatarFrame, received: float) -> None:
        self.events.feed_avatar(self, frame, received)

    def anchor_received(self, anchor: RemoteAnchor) -> None:
        self.events.feed_anchor(self, anchor)

    def close(self) -> None:
        self.connection = PeerConnection.CLOSED
        self.receiver.close()
