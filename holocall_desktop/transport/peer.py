"""One remote participant: its aiortc peer connection, data channels and what is sent to it.

Everything here runs on the engine's event loop. A :class:`Peer` never calls its owner: it
reports upward through :class:`PeerEvents` (aiortc's transports work the same way), and what it
needs to know of this participant arrives as a :class:`LocalInfo` value. What it receives on
the hologram channel and the video track goes to its
:class:`~holocall_desktop.transport.receiver.HologramReceiver`; its counters and clock estimate
are in :class:`~holocall_desktop.transport.peerstats.PeerMetrics`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import secrets
import struct
import time
from functools import partial
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.base import CodecError
from holocall_desktop.codec.registry import name_of, wire_id
from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.transport.api import (
    MediaMode,
    ParticipantInfo,
    PeerConnection,
    PeerStats,
    RemoteAnchor,
    ScreenInfo,
)
from holocall_desktop.transport.camera import CameraPictures, video_use
from holocall_desktop.transport.chat import ChatLink
from holocall_desktop.transport.congestion import CongestionControl
from holocall_desktop.transport.peerstats import PeerMetrics, collect_peer_stats
from holocall_desktop.transport.receiver import HologramReceiver
from holocall_desktop.transport.screen import ScreenLink
from holocall_desktop.transport.tap import StreamTap, tap_rtp
from holocall_desktop.transport.tracks import HologramVideoTrack, low_latency_receiver

log = logging.getLogger(__name__)

#: skip a frame for a peer whose hologram channel still holds more than this many bytes that
#: have not even entered SCTP's send queue (aiortc moves a message into it only once the
#: previous one is out): with 0, at most one frame waits behind the one being sent, so a slow
#: path drops frames instead of queueing latency (latest frame wins)
MAX_BUFFERED_BYTES = 0
_FRAME_ID = struct.Struct("<I")  # offset 4 of a volumetric fragment's header
#: the hologram channel is unordered and partially reliable: SCTP retransmits a lost fragment
#: for this long, then gives it up (a newer frame makes it useless). Together with the
#: fragments' parity: across an emulated link at 5 % random loss, 3.3 fps arrived with no
#: retransmission and no parity, 7.7 with parity alone, 19 with this alone, 24 with both
#: (of 25 on the open link); at 15 %, 0.4 and 11 fps (docs/codec.md, Fragments)
HOLOGRAM_LIFETIME_MS = 150

MODE_TO_WIRE = {
    MediaMode.NONE: wire.Mode.NONE,
    MediaMode.VOLUMETRIC: wire.Mode.VOLUMETRIC,
    MediaMode.AVATAR: wire.Mode.AVATAR,
    MediaMode.VIDEO: wire.Mode.VIDEO,
}
WIRE_TO_MODE = {v: k for k, v in MODE_TO_WIRE.items()}
NO_CONSENT = wire.Consent(0)


@dataclasses.dataclass(frozen=True)
class LocalInfo:
    """What a peer tells the other side about this participant (``hello``, ``consent``)."""

    display_name: str
    codec: str
    mode: MediaMode = MediaMode.VOLUMETRIC
    consent: wire.Consent = NO_CONSENT
    #: the hologram channel retransmits for HOLOGRAM_LIFETIME_MS (False: never, as before the
    #: loss protection; only to measure without it)
    protect_holograms: bool = True


class PeerEvents(Protocol):
    """How a :class:`Peer` reports upward (all on the event loop)."""

    def peer_changed(self, peer: Peer) -> None:
        """Name, mode, consent, codec or connection state changed (see :meth:`Peer.info`)."""

    def peer_frame(self, peer: Peer, frame: DepthFrame, received: float) -> None: ...

    def peer_avatar(self, peer: Peer, frame: AvatarFrame, received: float) -> None: ...

    def peer_anchor(self, peer: Peer, anchor: RemoteAnchor) -> None: ...

    def peer_chat(self, peer: Peer, message: wire.Chat) -> None: ...

    def peer_audio(self, peer: Peer, track: Any) -> None: ...

    def peer_screen(self, peer: Peer, image: npt.NDArray[np.uint8], received: float) -> None:
        """A picture of the screen the peer shares (its ``screen.remote``)."""

    def peer_video(self, peer: Peer, image: npt.NDArray[np.uint8], received: float) -> None:
        """A picture of the peer's plain camera video (``transport/camera.py``)."""

    def peer_gone(self, peer: Peer, reason: str, failed: bool = False) -> None:
        """The connection failed or closed under us (``failed``), or the peer said goodbye;
        the owner drops it."""


def ice_configuration(servers: list[Any]) -> RTCConfiguration:
    """``RTCConfiguration`` from ``room-state.iceServers`` (never aiortc's default STUN).

    Everything shares one transport (``max-bundle``): with aiortc's default (``balanced``), a
    second video transceiver (the screen's) keeps the transport that BUNDLE throws away, so it
    never connects."""
    out = []
    for entry in servers:
        if not isinstance(entry, dict):
            continue
        urls = entry.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            continue
        username, credential = entry.get("username"), entry.get("credential")
        out.append(
            RTCIceServer(
                urls=urls,
                username=username if isinstance(username, str) else None,
                credential=credential if isinstance(credential, str) else None,
            )
        )
    return RTCConfiguration(iceServers=out, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class Heard(Protocol):
    """What a participant's ``hello`` and ``consent`` told us, and its seat and connection."""

    user_id: str
    display_name: str
    seat: int
    mode: MediaMode
    connection: PeerConnection
    consent: wire.Consent
    codec: str | None


def participant_info(who: Heard, screen: ScreenInfo | None = None) -> ParticipantInfo:
    """What the room shows of a participant (a :class:`Peer`, or a participant seen through the
    SFU): ``who``'s user_id, display_name, seat, mode, connection, consent and codec."""
    consent = who.consent
    return ParticipantInfo(
        user_id=who.user_id,
        display_name=who.display_name,
        seat=who.seat,
        mode=who.mode,
        connection=who.connection,
        allows_audio_recording=bool(consent & wire.Consent.RECORD_AUDIO),
        allows_hologram_recording=bool(consent & wire.Consent.RECORD_HOLOGRAM),
        recording=bool(consent & wire.Consent.RECORDING),
        codec=who.codec,
        screen=screen,
    )


class Peer:
    def __init__(
        self,
        user_id: str,
        seat: int,
        offerer: bool,
        ice_servers: list[Any],
        local: LocalInfo,
        events: PeerEvents,
        decode_pool: concurrent.futures.Executor,
        tap: StreamTap | None = None,
    ) -> None:
        self.user_id = user_id
        self.seat = seat
        self.offerer = offerer
        self.local = local
        self.events = events
        self.pc = RTCPeerConnection(ice_configuration(ice_servers))
        self.hologram: Any = None
        self.control: Any = None
        self.video_track: HologramVideoTrack | None = None
        self.display_name = user_id
        self.mode = MediaMode.NONE
        self.codec: str | None = None
        self.consent = wire.Consent(0)
        self.capabilities = wire.Capability(0)  # from its hello
        self.congestion = CongestionControl()  # the bandwidth estimate of the path to it
        self.chat = ChatLink(user_id, self.send_control)
        self.screen = ScreenLink(
            user_id,
            self.send_control,
            lambda: events.peer_changed(self),
            lambda image, received: events.peer_screen(self, image, received),
            decode_pool,
        )
        self.connection = PeerConnection.CONNECTING
        self.closed = False
        self.shown = True  # reported to the owner's listeners (a reconnect stays out of sight)
        self.created = time.monotonic()
        self.last_heard = time.monotonic()  # any control traffic shows the peer is alive
        self.pending_candidates: list[Any] = []
        self.metrics = PeerMetrics(user_id)
        self.receiver = HologramReceiver(user_id, self.metrics, decode_pool, self)
        self.tap = tap or StreamTap()
        self.receiver.tap = lambda kind, data: self.tap.offer(kind, user_id, self.consent, data)
        self.hello_seen = False  # it speaks our control protocol (pings are answered)
        self.camera = CameraPictures(user_id, decode_pool, partial(events.peer_video, self))
        self.receiver.camera = self.camera.push
        self.receiver.video_use = lambda: video_use(self.codec, self.hello_seen, self.created)
        self.next_frame_id = secrets.randbits(32)  # volumetric frame ids sent to this peer
        self._wire_events()

    # ---- setup -------------------------------------------------------------------------------

    def _wire_events(self) -> None:
        pc = self.pc

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            log.info("peer %s: connection %s", self.user_id, state)
            if state == "connected":
                self.last_heard = time.monotonic()
                self.set_connection(PeerConnection.CONNECTED)
            elif state in ("failed", "closed") and not self.closed:
                self.events.peer_gone(self, f"connection {state}", failed=True)

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self._attach_channel(channel)

        @pc.on("track")
        def on_track(track: Any) -> None:
            log.info("peer %s: remote %s track", self.user_id, track.kind)
            if track.kind == "video":
                if not self.screen.claims(pc, track):  # the second video track is the screen
                    self.receiver.watch_video(track)
            elif track.kind == "audio":
                # aiortc holds four packets (~90 ms) before decoding; our receiver buffers itself
                for transceiver in pc.getTransceivers():
                    if transceiver.receiver.track is track:
                        low_latency_receiver(transceiver.receiver)
                        tap_rtp(transceiver.receiver, lambda d: self.receiver.tap("voice", d))
                self.events.peer_audio(self, track)

    def add_media(self, local_audio: Any, video: bool) -> None:
        """Transceivers: audio (sendrecv when we have a microphone track) and video (sendrecv for
        ``hue-video``), so either side may send them whatever the offerer does."""
        pc = self.pc
        if self.offerer:
            if local_audio is not None:
                pc.addTrack(local_audio)
            else:
                pc.addTransceiver("audio", direction="recvonly")
            if video:
                self.video_track = HologramVideoTrack()
                pc.addTrack(self.video_track)
            else:
                pc.addTransceiver("video", direction="recvonly")
            self.screen.add_transceiver(pc, offerer=True)
            self.add_channels()
        else:
            # after setRemoteDescription(offer): addTrack reuses the offered transceivers
            if local_audio is not None and any(t.kind == "audio" for t in pc.getTransceivers()):
                pc.addTrack(local_audio)
            if video and any(t.kind == "video" for t in pc.getTransceivers()):
                self.video_track = HologramVideoTrack()
                pc.addTrack(self.video_track)
            self.screen.add_transceiver(pc, offerer=False)

    def add_channels(self) -> None:
        """The offerer's ``hologram`` and ``control`` channels (also what the SFU topology
        publishes)."""
        if self.local.protect_holograms:
            hologram = self.pc.createDataChannel(
                "hologram", ordered=False, maxPacketLifeTime=HOLOGRAM_LIFETIME_MS
            )
        else:
            hologram = self.pc.createDataChannel("hologram", ordered=False, maxRetransmits=0)
        self._attach_channel(hologram)
        self._attach_channel(self.pc.createDataChannel("control", ordered=True))

    def _attach_channel(self, channel: Any) -> None:
        label = channel.label
        if label == "hologram":
            self.hologram = channel
            channel.on("message", self._on_hologram)
        elif label == "control":
            self.control = channel
            channel.on("message", self._on_control)
            if channel.readyState == "open":
                self.send_hello()
            else:
                channel.on("open", self.send_hello)
        else:
            log.info("peer %s: ignoring data channel %r", self.user_id, label)
            channel.on("message", lambda _m: self.receiver.bad("message on an unknown channel"))

    # ---- signaling ---------------------------------------------------------------------------

    @property
    def has_local_offer(self) -> bool:
        """Our offer is out and not answered yet (glare, and answers we may accept)."""
        return bool(self.pc.signalingState == "have-local-offer")

    async def make_offer(self) -> dict[str, str]:
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        desc = self.pc.localDescription
        return {"type": desc.type, "sdp": desc.sdp}

    async def accept_offer(
        self, sdp: dict[str, Any], local_audio: Any, video: bool
    ) -> dict[str, str]:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp["sdp"], type="offer"))
        self.add_media(local_audio, video)
        await self._flush_candidates()
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        desc = self.pc.localDescription
        return {"type": desc.type, "sdp": desc.sdp}

    async def accept_answer(self, sdp: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp["sdp"], type="answer"))
        await self._flush_candidates()

    async def add_candidate(self, cand: dict[str, Any]) -> None:
        """A trickled candidate (browser peers); the empty end-of-candidates one is ignored."""
        text = cand.get("candidate")
        if not isinstance(text, str) or not text.strip():
            return
        try:
            candidate = candidate_from_sdp(text.strip().removeprefix("candidate:"))
        except (AssertionError, ValueError, IndexError) as exc:
            log.info("peer %s: bad ICE candidate %r: %s", self.user_id, text, exc)
            return
        mid = cand.get("sdpMid")
        index = cand.get("sdpMLineIndex")
        candidate.sdpMid = mid if isinstance(mid, str) else None
        candidate.sdpMLineIndex = index if isinstance(index, int) else None
        if self.pc.remoteDescription is None:
            self.pending_candidates.append(candidate)
            return
        await self._add(candidate)

    async def _flush_candidates(self) -> None:
        pending, self.pending_candidates = self.pending_candidates, []
        for candidate in pending:
            await self._add(candidate)

    async def _add(self, candidate: Any) -> None:
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # aiortc raises ValueError/KeyError for unknown mids
            log.info("peer %s: ICE candidate not added: %s", self.user_id, exc)

    # ---- state -------------------------------------------------------------------------------

    def info(self) -> ParticipantInfo:
        return participant_info(self, screen=self.screen.remote)

    def set_connection(self, state: PeerConnection) -> None:
        if self.connection != state:
            self.connection = state
            self.events.peer_changed(self)

    def set_local(self, local: LocalInfo) -> None:
        """This participant changed its mode or consent: tell the peer."""
        old, self.local = self.local, local
        if local.mode != old.mode:
            self.send_control(wire.ModeChange(MODE_TO_WIRE[local.mode]))
        if local.consent != old.consent:
            self.send_control(wire.ConsentMessage(local.consent))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.connection = PeerConnection.CLOSED
        self.receiver.close()
        self.screen.close()
        self.camera.close()
        if self.video_track is not None:
            self.video_track.stop()
        try:
            await asyncio.wait_for(self.pc.close(), 3.0)
        except Exception as exc:
            log.info("peer %s: close: %s", self.user_id, exc)

    # ---- sending -----------------------------------------------------------------------------

    @staticmethod
    def _open(channel: Any) -> bool:
        return channel is not None and channel.readyState == "open"

    @property
    def hologram_open(self) -> bool:
        return not self.closed and self._open(self.hologram)

    @property
    def control_open(self) -> bool:
        return not self.closed and self._open(self.control)

    def send_hologram(self, messages: list[bytes], skippable: bool = False) -> bool:
        """Send on the hologram channel. A ``skippable`` volumetric frame is not sent (and
        counted in ``frames_skipped``) while an earlier one still waits; small messages
        (avatar, anchor) always go."""
        ch = self.hologram
        if not self.hologram_open:
            return False
        if skippable and ch.bufferedAmount > MAX_BUFFERED_BYTES:
            self.metrics.frames_skipped += 1
            self.congestion.frame_skipped(time.monotonic())
            return False
        for message in messages:
            ch.send(message)
            self.metrics.bytes_out += len(message)
        return True

    def send_fragments(self, messages: list[bytes]) -> bool:
        """Send one volumetric frame's fragments, renumbered with this peer's own frame ids
        (+1 per frame sent to this peer), so that a gap the receiver sees is a frame lost on
        the way, not one skipped here. Skipped while an earlier frame still waits."""
        fid = self.next_frame_id
        out = []
        for message in messages:
            buf = bytearray(message)
            _FRAME_ID.pack_into(buf, 4, fid)
            out.append(bytes(buf))
        if not self.send_hologram(out, skippable=True):
            return False
        self.next_frame_id = (fid + 1) & 0xFFFFFFFF
        self.metrics.frames_out += 1
        self.congestion.frame_sent(fid, sum(len(m) for m in out), time.monotonic(), len(out))
        return True

    def send_video(self, frame: Any) -> bool:
        """Offer a packed hologram video frame to this peer's track (latest wins)."""
        if self.video_track is None or self.closed:
            return False
        self.video_track.push(frame)
        self.metrics.frames_out += 1
        return True

    def send_raw(self, channel: str, data: bytes | str) -> None:
        """Diagnostics: ``data`` as it is on the ``hologram`` or ``control`` channel."""
        ch = self.hologram if channel == "hologram" else self.control
        if not self.closed and self._open(ch):
            ch.send(data)

    def send_control(self, message: wire.ControlMessage) -> None:
        if self.control_open:
            data = wire.encode_control(message)
            self.control.send(data)
            self.metrics.bytes_out += len(data)

    def send_hello(self) -> None:
        local = self.local
        self.last_heard = time.monotonic()
        mode, codec = MODE_TO_WIRE[local.mode], wire_id(local.codec)
        self.send_control(wire.Hello(local.display_name, mode, codec, wire.ALL_CAPABILITIES))
        self.send_control(wire.ConsentMessage(local.consent))

    def send_ping(self) -> None:
        self.send_control(self.metrics.clock.next_ping())
        self.report_arrivals()

    def report_arrivals(self) -> None:
        """Tell the peer how its latest frames arrived, if it reads arrival reports and one is
        due (about every 100 ms while its frames arrive)."""
        if not self.capabilities & wire.Capability.ARRIVAL_REPORTS:
            return
        late = bool(self.capabilities & wire.Capability.LATE_ARRIVALS)
        report = self.metrics.arrivals.report(time.monotonic(), late)
        if report is not None:
            self.send_control(report)

    # ---- receiving ---------------------------------------------------------------------------

    def _on_hologram(self, message: Any) -> None:
        self.receiver.on_message(message)
        if not self.closed:
            self.report_arrivals()

    def frame_decoded(self, frame: DepthFrame, received: float) -> None:
        self.events.peer_frame(self, frame, received)

    def avatar_received(self, frame: AvatarFrame, received: float) -> None:
        self.events.peer_avatar(self, frame, received)

    def anchor_received(self, anchor: RemoteAnchor) -> None:
        self.events.peer_anchor(self, anchor)

    def to_local_time(self, remote_time: float) -> float:
        return self.metrics.clock.to_local_time(remote_time)

    def _on_control(self, message: Any) -> None:
        if self.closed:
            return
        if not isinstance(message, bytes):
            self.receiver.bad("text message on the control channel")
            return
        self.metrics.bytes_in += len(message)
        try:
            msg = wire.decode_control(message)
        except CodecError as exc:
            self.receiver.bad(str(exc))
            return
        now = time.time()
        self.last_heard = time.monotonic()
        if isinstance(msg, wire.Ping):
            self.send_control(wire.Pong(msg.seq, msg.t1, now, time.time()))
        elif isinstance(msg, wire.Pong):
            if not self.metrics.clock.on_pong(msg, now):
                self.receiver.bad(f"pong {msg.seq} answers no ping of ours")
        elif isinstance(msg, wire.Hello):
            self.display_name = msg.display_name or self.user_id
            self.mode = WIRE_TO_MODE[msg.mode]
            self.codec = name_of(msg.codec)
            self.capabilities = msg.capabilities
            self.hello_seen = True
            self.chat.hello(msg.capabilities)
            self.screen.hello(msg.capabilities)
            self.events.peer_changed(self)
        elif isinstance(msg, wire.ModeChange):
            self.mode = WIRE_TO_MODE[msg.mode]
            self.events.peer_changed(self)
        elif isinstance(msg, wire.ConsentMessage):
            self.consent = msg.flags
            self.events.peer_changed(self)
        elif isinstance(msg, wire.QualityFeedback):
            self.metrics.remote_feedback = msg
            self.congestion.receiver_asks(msg.max_bitrate_kbps, time.monotonic())
        elif isinstance(msg, wire.ArrivalReport):
            self.congestion.on_report(msg, time.monotonic())
        elif isinstance(msg, wire.Chat):
            if self.chat.admit(time.monotonic()):
                self.events.peer_chat(self, msg)
            else:
                self.receiver.bad("chat flood: message dropped")
        elif isinstance(msg, wire.ScreenState):
            self.screen.on_message(msg)
        elif isinstance(msg, wire.Bye):
            self.events.peer_gone(self, "left")

    # ---- stats -------------------------------------------------------------------------------

    async def collect_stats(self, now_mono: float) -> PeerStats:
        """This interval's :class:`PeerStats` (aiortc's ``getStats`` plus our counters)."""
        return await collect_peer_stats(self.pc, self.metrics, self.congestion, now_mono)
