"""The mesh topology: one aiortc peer connection to each other participant (2–3 people).

Runs on the engine's event loop. Whoever is already in the room offers to a newcomer
(``user-joined``); on glare (both offered at once) the smaller user id keeps its offer; a
participant that comes back after a signaling outage offers to everyone it has no connection
with. Peers report here through :class:`~holocall_desktop.transport.peer.PeerEvents`; this
reports upward through :class:`~holocall_desktop.transport.topology.TopologyEvents`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import numpy.typing as npt
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

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
    RemoteScreen,
    RemoteVideo,
)
from holocall_desktop.transport.peer import LocalInfo, Peer
from holocall_desktop.transport.screen import ScreenPath
from holocall_desktop.transport.tap import StreamTap
from holocall_desktop.transport.topology import HologramPath, SendSignal, TopologyEvents, seat_of

log = logging.getLogger(__name__)

#: after a broken connection, the smaller user id offers a new one this long after (the other
#: side has to notice the break first: its peer timeout), then backs off to this
RECONNECT_FIRST_S = 2.0
#: two offers this close together are glare; an older unanswered one of ours was lost
GLARE_S = 2.0
RECONNECT_MAX_S = 30.0


class MeshTopology:
    """See the module doc; implements :class:`~holocall_desktop.transport.topology.Topology`."""

    def __init__(
        self,
        user_id: str,
        local: LocalInfo,
        events: TopologyEvents,
        send: SendSignal,
        ice_servers: Callable[[], list[Any]],
        decode_pool: concurrent.futures.Executor,
        *,
        max_peers: int,
        video: bool,
        local_audio: Any = None,
        peer_timeout: float = 5.0,
        connect_timeout: float = 20.0,
        tap: StreamTap | None = None,
        ask_for_less: bool = True,
    ) -> None:
        self.user_id = user_id
        self.ask_for_less = ask_for_less  # ask senders for less when we cannot decode theirs
        self.tap = tap or StreamTap()
        self.local = local
        self.events = events
        self._send = send
        self._ice_servers = ice_servers
        self._pool = decode_pool
        self.max_peers = max_peers
        self.video = video
        self.peer_timeout = peer_timeout
        self.connect_timeout = connect_timeout
        self._local_audio = local_audio
        self._relay: MediaRelay | None = None
        self.peers: dict[str, Peer] = {}
        self._seats: dict[str, int] = {}
        self._my_seat = -1
        self._leaving = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._own_voice: asyncio.Future[None] | None = None  # our voice for a recording
        #: participants whose connection broke (reported gone, a new one being tried out of
        #: sight) -> new connections tried since
        self._reconnecting: dict[str, int] = {}
        #: the bandwidth target of a connection that broke: where its replacement starts
        self._last_target: dict[str, float] = {}

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
                await self._user_joined(msg)
            elif kind == MessageType.USER_LEFT:
                user = msg.get("userId")
                if isinstance(user, str):
                    await self._user_left(user, str(msg.get("reason", "left")))
            elif kind == MessageType.OFFER:
                await self._offer(msg)
            elif kind == MessageType.ANSWER:
                await self._answer(msg)
            elif kind == MessageType.ICE_CANDIDATE:
                peer = self.peers.get(str(msg.get("from")))
                cand = msg.get("candidate")
                if peer is not None and isinstance(cand, dict):
                    await peer.add_candidate(cand)
        except Exception as exc:  # one bad peer or message must not end the call
            log.exception("handling %s failed", kind)
            sender = msg.get("from") or msg.get("userId")
            if isinstance(sender, str) and sender in self.peers:
                await self.drop(sender, f"negotiation failed: {exc}")

    async def _room_state(self, msg: dict[str, Any]) -> None:
        self._my_seat = seat_of(msg)
        others = [
            p
            for p in msg.get("participants", [])
            if isinstance(p, dict)
            and isinstance(p.get("userId"), str)
            and p["userId"] != self.user_id
        ]
        for p in others:
            self._seats[p["userId"]] = seat_of(p)
        if msg.get("rejoined"):
            # we came back: offer to everyone we have no connection with (they will not see a
            # user-joined for us, so nobody else would start one)
            for p in others:
                if p["userId"] not in self.peers and p.get("connected", True):
                    await self._start_offer(p["userId"], seat_of(p))

    async def _user_left(self, user: str, reason: str) -> None:
        """The server's word on who left and why. If the connection to ``user`` had already
        dropped (it often closes just before the server's notice arrives), the reason is still
        reported: it is the authoritative one (kicked, timeout…)."""
        known = self._seats.pop(user, None) is not None
        self._reconnecting.pop(user, None)  # no new connection to someone who left
        peer = self.peers.get(user)
        if peer is not None:
            await self.drop(user, reason)
        if known and (peer is None or not peer.shown):
            self.events.participant_left(user, reason)

    async def _user_joined(self, msg: dict[str, Any]) -> None:
        user = msg.get("userId")
        if not isinstance(user, str) or user == self.user_id:
            return
        self._seats[user] = seat_of(msg)
        await self._start_offer(user, seat_of(msg))

    async def _start_offer(self, user: str, seat: int) -> None:
        if len(self.peers) >= self.max_peers and user not in self.peers:
            log.warning("mesh is full (%d peers); not connecting to %s", len(self.peers), user)
            return
        old = self.peers.pop(user, None)
        if old is not None:
            await old.close()
        peer = self._new_peer(user, seat, offerer=True)
        peer.add_media(self._audio_for_peer(), self.video)
        sdp = await peer.make_offer()
        if peer.closed:
            return
        await self._send({"type": MessageType.OFFER, "to": user, "sdp": sdp})

    async def _offer(self, msg: dict[str, Any]) -> None:
        user = msg.get("from")
        sdp = msg.get("sdp")
        if not isinstance(user, str) or not isinstance(sdp, dict):
            return
        old = self.peers.get(user)
        if old is not None:
            # glare (both offered at once): the smaller user id keeps its offer; an offer of ours
            # unanswered for longer was lost (sent while they were away), so theirs wins
            fresh = time.monotonic() - old.created < GLARE_S
            if old.offerer and old.has_local_offer and self.user_id < user and fresh:
                return
            self.peers.pop(user, None)
            await old.close()
        if len(self.peers) >= self.max_peers:
            log.warning("mesh is full; refusing the offer from %s", user)
            return
        peer = self._new_peer(user, self._seats.get(user, -1), offerer=False)
        answer = await peer.accept_offer(sdp, self._audio_for_peer(), self.video)
        if not peer.closed:
            await self._send({"type": MessageType.ANSWER, "to": user, "sdp": answer})

    async def _answer(self, msg: dict[str, Any]) -> None:
        peer = self.peers.get(str(msg.get("from")))
        sdp = msg.get("sdp")
        if peer is None or not isinstance(sdp, dict) or not peer.has_local_offer:
            return
        await peer.accept_answer(sdp)

    def _new_peer(self, user: str, seat: int, offerer: bool) -> Peer:
        peer = Peer(
            user, seat, offerer, self._ice_servers(), self.local, self, self._pool, self.tap
        )
        self.peers[user] = peer
        # a new connection to someone whose connection broke stays out of sight until it is up
        peer.shown = user not in self._reconnecting
        target = self._last_target.pop(user, None)
        if target is not None and not peer.shown:  # not the full rung into a link that broke
            peer.congestion.start_from(target)
        if peer.shown:
            self.events.participant_changed(peer.info())
        return peer

    def _audio_for_peer(self) -> Any:
        if self._local_audio is None:
            return None
        if self._relay is None:
            self._relay = MediaRelay()
            # our own voice for a recording (dropped unless one runs)
            own = self._relay.subscribe(self._local_audio, buffered=False)
            self._own_voice = asyncio.ensure_future(self.tap.own_voice(self.user_id, own))
        return self._relay.subscribe(self._local_audio, buffered=False)

    async def drop(
        self, user_id: str, reason: str, peer: Peer | None = None, failed: bool = False
    ) -> None:
        """Close the connection to ``user_id`` and report it gone. With ``peer``, only if
        that is still the current connection (an old one being replaced just closes).

        ``failed``: the connection broke (it failed, or stopped answering) rather than the
        participant leaving. They are reported gone as before, and while the server still has
        them in the room a new connection is tried out of sight (:meth:`_reconnect`); they
        reappear once it is up. aiortc has no ICE restart, and signaling may never have noticed
        the break (a media path that broke alone, or a participant whose process died)."""
        current = self.peers.get(user_id)
        if peer is not None and current is not peer:
            await peer.close()
            return
        gone = self.peers.pop(user_id, None)
        if gone is None:
            return
        if self._leaving:
            reason = "you left"
        log.info("peer %s gone: %s", user_id, reason)
        await gone.close()
        if gone.shown:
            self.events.participant_left(user_id, reason)
        if failed and not self._leaving and user_id in self._seats:
            target = gone.congestion.target_kbps()
            if target is not None:
                self._last_target[user_id] = target
            attempt = self._reconnecting[user_id] = self._reconnecting.get(user_id, 0) + 1
            delay = min(RECONNECT_FIRST_S * 2 ** (attempt - 1), RECONNECT_MAX_S)
            self._schedule(self._reconnect(user_id, delay))

    async def _reconnect(self, user_id: str, delay: float) -> None:
        """After a broken connection, ``delay`` s later (the other side has to notice the
        break too: its peer timeout): the smaller user id offers a new connection; the other
        side waits for that offer. One that does not connect is dropped (failed) and tried
        again, backing off to 30 s, for as long as the server lists them: the server's
        ``user-left`` ends it."""
        await asyncio.sleep(delay)
        if self._leaving or user_id not in self._reconnecting or user_id in self.peers:
            return
        if self.user_id < user_id:
            log.info("offering %s a new connection", user_id)
            await self._start_offer(user_id, self._seats.get(user_id, -1))

    # ---- PeerEvents (what the peers report) --------------------------------------------------

    def peer_changed(self, peer: Peer) -> None:
        if self.peers.get(peer.user_id) is not peer:
            return
        if not peer.shown:
            if peer.connection is not PeerConnection.CONNECTED:
                return
            peer.shown = True  # the new connection is up: they are back
            self._reconnecting.pop(peer.user_id, None)
            log.info("peer %s back on a new connection", peer.user_id)
        self.events.participant_changed(peer.info())

    def peer_frame(self, peer: Peer, frame: DepthFrame, received: float) -> None:
        self.events.frame_received(
            RemoteFrame(
                user_id=peer.user_id,
                frame=frame,
                capture_time=peer.to_local_time(frame.timestamp),
                received_time=received,
                sequence=frame.frame_number,
            )
        )

    def peer_avatar(self, peer: Peer, frame: AvatarFrame, received: float) -> None:
        self.events.avatar_received(RemoteAvatar(peer.user_id, frame, received))

    def peer_anchor(self, peer: Peer, anchor: RemoteAnchor) -> None:
        self.events.anchor_received(anchor)

    def peer_audio(self, peer: Peer, track: Any) -> None:
        self.events.audio_received(peer.user_id, track)

    def peer_chat(self, peer: Peer, message: wire.Chat) -> None:
        local = peer.to_local_time(message.sent)
        self.events.chat_received(ChatMessage(peer.user_id, message.text, local, message.seq))

    def peer_screen(self, peer: Peer, image: npt.NDArray[np.uint8], received: float) -> None:
        if self.peers.get(peer.user_id) is peer:
            self.events.screen_received(RemoteScreen(peer.user_id, image, received))

    def peer_video(self, peer: Peer, image: npt.NDArray[np.uint8], received: float) -> None:
        if self.peers.get(peer.user_id) is peer:
            self.events.video_received(RemoteVideo(peer.user_id, image, received))

    def peer_gone(self, peer: Peer, reason: str, failed: bool = False) -> None:
        self._schedule(self.drop(peer.user_id, reason, peer, failed=failed))

    def _schedule(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- sending -----------------------------------------------------------------------------

    def set_local(self, local: LocalInfo) -> None:
        self.local = local
        for peer in self.peers.values():
            peer.set_local(local)

    def receivers(self, video: bool) -> int:
        if video:
            return sum(1 for p in self.peers.values() if p.video_track is not None)
        return sum(1 for p in self.peers.values() if p.hologram_open)

    def send_hologram_frame(self, payloads: list[Any], video: bool) -> int:
        sent = 0
        for peer in list(self.peers.values()):
            ok = peer.send_video(payloads[0]) if video else peer.send_fragments(payloads)
            sent += ok
        return sent

    def hologram_paths(self) -> list[HologramPath]:
        return [p for p in self.peers.values() if p.hologram_open]

    def screen_paths(self) -> list[ScreenPath]:
        return [p for p in self.peers.values() if p.screen.ready]

    def send_hologram(self, messages: list[bytes], to: Collection[str] | None = None) -> None:
        for peer in self.peers.values():
            if to is None or peer.user_id in to:
                peer.send_hologram(messages)

    def send_raw(self, channel: str, data: bytes | str, to: str | None) -> None:
        for peer in list(self.peers.values()):
            if to is None or peer.user_id == to:
                peer.send_raw(channel, data)

    def send_chat(self, message: wire.Chat, to: str | None) -> None:
        for peer in list(self.peers.values()):
            if to is None or peer.user_id == to:
                peer.chat.say(message)

    def frame_drawn(self, user_id: str, when: float, latency_ms: float) -> None:
        peer = self.peers.get(user_id)
        if peer is not None:
            peer.metrics.record_latency(when, latency_ms)

    # ---- keep-alive and stats ----------------------------------------------------------------

    async def keep_alive(self, now: float) -> None:
        for peer in list(self.peers.values()):
            if peer.connection == PeerConnection.CONNECTED and peer.control_open:
                peer.send_ping()
                # a peer of another kind (a browser without our protocol) answers no pings:
                # its connection's state says when it is gone
                if now - peer.last_heard > self.peer_timeout and peer.hello_seen:
                    why = f"no answer for {self.peer_timeout:.0f} s"
                    await self.drop(peer.user_id, why, failed=True)
            elif (
                peer.connection != PeerConnection.CONNECTED
                and now - peer.created > self.connect_timeout
            ):
                await self.drop(peer.user_id, "could not connect (ICE/DTLS timeout)", failed=True)

    async def collect_stats(self) -> list[PeerStats]:
        stats = []
        for peer in list(self.peers.values()):
            if not peer.shown:
                continue  # a new connection being tried out of sight
            st = await peer.collect_stats(time.monotonic())
            stats.append(st)
            if peer.connection == PeerConnection.CONNECTED:
                peer.send_control(
                    wire.QualityFeedback(
                        loss=st.loss,
                        fps=st.fps_in,
                        latency_ms=st.latency_ms,
                        max_bitrate_kbps=peer.metrics.bitrate_request(st)
                        if self.ask_for_less
                        else 0,
                    )
                )
        return stats

    async def say_goodbye(self, reason: wire.ByeReason) -> None:
        self._leaving = True
        for peer in list(self.peers.values()):
            peer.send_control(wire.Bye(reason))
        await asyncio.sleep(0.05)  # let the byes go out before the transports close

    async def close(self, reason: str) -> None:
        for user in list(self.peers):
            await self.drop(user, reason)
        self._relay = None
        if self._own_voice is not None:
            self._own_voice.cancel()
            await asyncio.gather(self._own_voice, return_exceptions=True)


async def drain(track: Any) -> None:
    """Consume a track nobody listens to (aiortc would queue its frames without bound)."""
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
