"""The SFU topology: a group call through the signaling server's Janus node (4 to 10 people).

Each participant publishes once, on one connection up to Janus (``sfu-publish``): its voice and
its ``hologram`` and ``control`` channels, which Janus forwards to everyone. It receives
everyone else on one connection down from Janus (``sfu-subscribe`` → ``sfu-offer`` →
``sfu-start``), made anew whenever someone starts publishing (``sfu-published``); each
publisher's channel there is read by its :class:`~holocall_desktop.transport.sfu_feed.Feed`,
each voice is known by its media line (``sfu-offer.streams``). See docs/calls.md, *Group calls
through the SFU*.

What goes up reaches everyone, so nothing addressed to one participant is sent: no pings,
pongs, arrival reports or quality feedback. The hologram is sent once, at the rung the upward
connection's own estimate allows (no reports: the quality asked for). Our hello and consent are
sent again every second, since Janus gives later subscribers nothing of what went before; a
participant not heard from for the peer timeout is reported gone until it is heard again.
Implements :class:`~holocall_desktop.transport.topology.Topology` on the engine's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from holocall_desktop.codec import control as wire
from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.protocol.signaling import MessageType
from holocall_desktop.transport.api import (
    ChatMessage,
    PeerConnection,
    PeerStats,
    RemoteAnchor,
    RemoteAvatar,
    RemoteFrame,
)
from holocall_desktop.transport.peer import LocalInfo, Peer, ice_configuration
from holocall_desktop.transport.screen import ScreenPath
from holocall_desktop.transport.sfu_feed import Feed
from holocall_desktop.transport.tap import StreamTap
from holocall_desktop.transport.topology import HologramPath, SendSignal, TopologyEvents, seat_of
from holocall_desktop.transport.tracks import low_latency_receiver

log = logging.getLogger(__name__)

#: the user id the upward connection goes by in logs and stats
UP = "sfu"
HELLO_EVERY_S = 1.0
#: a publish whose connection broke is tried again after this long
REPUBLISH_S = 2.0
#: Janus counts a publisher only once its connection is up, a moment after its publish was
#: answered (and ``sfu-published`` sent): a subscription that missed someone is asked again
RESUBSCRIBE_S = 1.0


class SfuTopology:
    """See the module doc."""

    def __init__(
        self,
        user_id: str,
        local: LocalInfo,
        events: TopologyEvents,
        send: SendSignal,
        ice_servers: Callable[[], list[Any]],
        decode_pool: concurrent.futures.Executor,
        *,
        local_audio: Any = None,
        peer_timeout: float = 5.0,
        tap: StreamTap | None = None,
    ) -> None:
        self.user_id = user_id
        self.local = local
        self.events = events
        self._send = send
        self._ice_servers = ice_servers
        self._pool = decode_pool
        self._local_audio = local_audio
        self.peer_timeout = peer_timeout
        self.tap = tap or StreamTap()
        self.up: Peer | None = None
        self.down: RTCPeerConnection | None = None
        self.feeds: dict[str, Feed] = {}
        self._mids: dict[str, str] = {}  # media line of the downward connection -> feed
        self._my_seat = -1
        self._subscribing = False
        self._again = False  # someone published while a subscription was being made
        self._last_hello = 0.0
        self._leaving = False
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def my_seat(self) -> int:
        return self._my_seat

    # ---- room messages -----------------------------------------------------------------------

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        try:
            if kind == MessageType.ROOM_STATE:
                await self._room_state(msg)
            elif kind == MessageType.USER_JOINED:
                self._add_feed(msg)
            elif kind == MessageType.USER_LEFT:
                user = msg.get("userId")
                if isinstance(user, str):
                    self._drop(user, str(msg.get("reason", "left")))
            elif kind == MessageType.SFU_ANSWER:
                sdp = msg.get("sdp")
                if self.up is not None and isinstance(sdp, dict) and self.up.has_local_offer:
                    await self.up.accept_answer(sdp)
                    await self._subscribe()
            elif kind == MessageType.SFU_PUBLISHED:
                await self._subscribe()
            elif kind == MessageType.SFU_OFFER:
                await self._subscribed(msg)
            elif kind == MessageType.ERROR and str(msg.get("code", "")).startswith("sfu-"):
                log.info("sfu: %s", msg.get("message"))
                if self._subscribing:  # refused (nobody publishes yet): asked again
                    self._subscribing = False
                    self._schedule(self._resubscribe())
        except Exception:  # one bad message must not end the call
            log.exception("handling %s failed", kind)

    async def _room_state(self, msg: dict[str, Any]) -> None:
        self._my_seat = seat_of(msg)
        for p in msg.get("participants", []):
            if isinstance(p, dict):
                self._add_feed(p)
        await self._publish()

    def _add_feed(self, p: dict[str, Any]) -> None:
        user = p.get("userId")
        if not isinstance(user, str) or user == self.user_id or user in self.feeds:
            return
        feed = self.feeds[user] = Feed(user, seat_of(p), self, self._pool, self.tap)
        self.events.participant_changed(feed.info())

    def _drop(self, user: str, reason: str) -> None:
        feed = self.feeds.pop(user, None)
        if feed is None:
            return
        feed.close()
        if feed.shown:
            self.events.participant_left(user, "you left" if self._leaving else reason)

    async def _publish(self) -> None:
        """Our streams up to the SFU (again: a new connection replaces the old one)."""
        old, self.up = self.up, None
        if old is not None:
            await old.close()
        if self._leaving:
            return
        up = self.up = Peer(UP, -1, True, self._ice_servers(), self.local, self, self._pool)
        if self._local_audio is not None:
            up.pc.addTrack(MediaRelay().subscribe(self._local_audio, buffered=False))
        up.add_channels()
        # everyone up there is a HoloCall participant that reads what we send
        up.capabilities = wire.ALL_CAPABILITIES
        up.chat.hello(wire.ALL_CAPABILITIES)
        await self._send({"type": MessageType.SFU_PUBLISH, "sdp": await up.make_offer()})

    async def _subscribe(self) -> None:
        """Ask for everyone else's streams (one request at a time)."""
        if self._subscribing:
            self._again = True
            return
        others = sorted(self.feeds)
        if not others or self.up is None or self.up.has_local_offer:
            return  # nobody to take, or not publishing yet (subscribing needs it)
        self._subscribing, self._again = True, False
        await self._send({"type": MessageType.SFU_SUBSCRIBE, "feeds": others})

    async def _subscribed(self, msg: dict[str, Any]) -> None:
        """The SFU's offer: a new downward connection replaces the old one."""
        sdp, streams, held = msg.get("sdp"), msg.get("streams"), msg.get("feeds")
        self._subscribing = False
        if isinstance(held, list) and set(self.feeds) - {str(f) for f in held}:
            self._schedule(self._resubscribe())
        if not isinstance(sdp, dict) or not isinstance(sdp.get("sdp"), str):
            return
        self._mids = {
            str(s.get("mid")): str(s.get("feed"))
            for s in (streams if isinstance(streams, list) else [])
            if isinstance(s, dict)
        }
        old, self.down = self.down, None
        if old is not None:
            await old.close()
        pc = self.down = RTCPeerConnection(ice_configuration(self._ice_servers()))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            feed = self.feeds.get(channel.label)
            if feed is None:
                log.info("sfu: a channel for %r, who is not in the room", channel.label)
                return
            channel.on("message", lambda data: self._heard(feed, data))

        @pc.on("track")
        def on_track(track: Any) -> None:
            for transceiver in pc.getTransceivers():
                if transceiver.receiver.track is track:
                    user = self._mids.get(str(transceiver.mid))
                    if track.kind == "audio" and user in self.feeds:
                        low_latency_receiver(transceiver.receiver)
                        self.events.audio_received(user, track)
                        return
            log.info("sfu: a %s track nobody is known for", track.kind)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp["sdp"], type="offer"))
        pc.createDataChannel(self.user_id)  # Janus relays data only once we opened a channel
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        await self._send({"type": MessageType.SFU_START, "sdp": answer})
        if self._again:
            await self._subscribe()

    async def _resubscribe(self) -> None:
        await asyncio.sleep(RESUBSCRIBE_S)
        if not self._leaving:
            await self._subscribe()

    def _heard(self, feed: Feed, data: Any) -> None:
        if self.feeds.get(feed.user_id) is not feed:
            return
        feed.on_message(data)
        if not feed.shown:
            feed.shown = True  # heard again after a silence: back
            self.events.participant_changed(feed.info())

    # ---- FeedEvents and PeerEvents -----------------------------------------------------------

    def feed_changed(self, feed: Feed) -> None:
        if feed.shown and self.feeds.get(feed.user_id) is feed:
            self.events.participant_changed(feed.info())

    def feed_frame(self, feed: Feed, frame: DepthFrame, received: float) -> None:
        self.events.frame_received(
            RemoteFrame(
                user_id=feed.user_id,
                frame=frame,
                # no pings through the SFU: the clocks are taken as one (see the module doc)
                capture_time=frame.timestamp,
                received_time=received,
                sequence=frame.frame_number,
            )
        )

    def feed_avatar(self, feed: Feed, frame: AvatarFrame, received: float) -> None:
        self.events.avatar_received(RemoteAvatar(feed.user_id, frame, received))

    def feed_anchor(self, feed: Feed, anchor: RemoteAnchor) -> None:
        self.events.anchor_received(anchor)

    def feed_chat(self, feed: Feed, message: wire.Chat) -> None:
        self.events.chat_received(
            ChatMessage(feed.user_id, message.text, message.sent, message.seq)
        )

    def feed_bye(self, feed: Feed) -> None:
        self._drop(feed.user_id, "left")

    def peer_changed(self, peer: Peer) -> None:
        log.info("sfu: our connection up is %s", peer.connection.value)

    def peer_gone(self, peer: Peer, reason: str, failed: bool = False) -> None:
        if peer is self.up and not self._leaving:
            log.warning("sfu: our connection up ended (%s); publishing again", reason)
            self._schedule(self._republish())

    async def _republish(self) -> None:
        await asyncio.sleep(REPUBLISH_S)
        if not self._leaving:
            await self._publish()

    def peer_frame(self, peer: Peer, frame: DepthFrame, received: float) -> None: ...

    def peer_avatar(self, peer: Peer, frame: AvatarFrame, received: float) -> None: ...

    def peer_anchor(self, peer: Peer, anchor: RemoteAnchor) -> None: ...

    def peer_chat(self, peer: Peer, message: wire.Chat) -> None: ...

    def peer_audio(self, peer: Peer, track: Any) -> None: ...

    def peer_screen(self, peer: Peer, image: Any, received: float) -> None: ...

    def peer_video(self, peer: Peer, image: Any, received: float) -> None: ...

    def _schedule(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- sending -----------------------------------------------------------------------------

    def set_local(self, local: LocalInfo) -> None:
        self.local = local
        if self.up is not None:
            self.up.set_local(local)

    def _open_up(self) -> Peer | None:
        up = self.up
        return up if up is not None and up.hologram_open else None

    def receivers(self, video: bool) -> int:
        return 0 if video or self._open_up() is None else len(self.feeds)

    def send_hologram_frame(self, payloads: list[Any], video: bool) -> int:
        up = self._open_up()
        if video or up is None or not up.send_fragments(payloads):
            return 0
        return len(self.feeds)

    def hologram_paths(self) -> list[HologramPath]:
        up = self._open_up()
        return [up] if up is not None and self.feeds else []

    def screen_paths(self) -> list[ScreenPath]:
        return []  # sharing a screen through the SFU is not built

    def send_hologram(self, messages: list[bytes], to: Collection[str] | None = None) -> None:
        up = self._open_up()
        if up is not None and (to is None or to):
            up.send_hologram(messages)  # it reaches everyone

    def send_raw(self, channel: str, data: bytes | str, to: str | None) -> None:
        if self.up is not None:
            self.up.send_raw(channel, data)

    def send_chat(self, message: wire.Chat, to: str | None) -> None:
        if self.up is not None:
            self.up.chat.say(message)  # to everyone: the SFU cannot address one

    def frame_drawn(self, user_id: str, when: float, latency_ms: float) -> None:
        feed = self.feeds.get(user_id)
        if feed is not None:
            feed.metrics.record_latency(when, latency_ms)

    # ---- keep-alive and stats ----------------------------------------------------------------

    async def keep_alive(self, now: float) -> None:
        up = self.up
        if up is not None and up.control_open and now - self._last_hello >= HELLO_EVERY_S:
            self._last_hello = now
            up.send_hello()
        connected = self.down is not None and self.down.connectionState == "connected"
        for feed in list(self.feeds.values()):
            if (
                connected
                and feed.heard
                and feed.shown
                and now - feed.last_heard > self.peer_timeout
            ):
                feed.shown = False  # silent: gone until it is heard again or the server says
                feed.connection = PeerConnection.CONNECTING
                self.events.participant_left(
                    feed.user_id, f"no answer for {self.peer_timeout:.0f} s"
                )

    async def collect_stats(self) -> list[PeerStats]:
        now = time.monotonic()
        return [f.metrics.collect({}, now) for f in self.feeds.values() if f.shown]

    async def say_goodbye(self, reason: wire.ByeReason) -> None:
        self._leaving = True
        if self.up is not None:
            self.up.send_control(wire.Bye(reason))
        await asyncio.sleep(0.05)  # let the bye go out before the transports close

    async def close(self, reason: str) -> None:
        self._leaving = True
        for user in list(self.feeds):
            self._drop(user, reason)
        for task in list(self._tasks):
            task.cancel()
        up, self.up = self.up, None
        if up is not None:
            await up.close()
        down, self.down = self.down, None
        if down is not None:
            await down.close()
