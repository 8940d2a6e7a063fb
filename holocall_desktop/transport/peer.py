"""One remote participant: its aiortc peer connection, data channels, decoders and counters.

Everything here runs on the engine's event loop; decoding runs in the engine's executor.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import statistics
import struct
import time
from typing import TYPE_CHECKING, Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.avatar_frame import AvatarFrameError, decode_avatar_frame
from holocall_desktop.codec.base import CodecError
from holocall_desktop.codec.fragment import Reassembler, parse_header
from holocall_desktop.transport.api import (
    MediaMode,
    ParticipantInfo,
    PeerConnection,
    PeerStats,
    RemoteAnchor,
    RemoteAvatar,
)
from holocall_desktop.transport.tracks import HologramVideoTrack, low_latency_receiver

if TYPE_CHECKING:
    from holocall_desktop.transport.engine import CallEngine

log = logging.getLogger(__name__)

#: skip a frame for a peer whose hologram channel still holds more than this many bytes that
#: have not even entered SCTP's send queue (aiortc moves a message into it only once the
#: previous one is out): with 0, at most one frame waits behind the one being sent, so a slow
#: path drops frames instead of queueing latency (latest frame wins)
MAX_BUFFERED_BYTES = 0
#: receivers ask for less above this loss, and never for less than this bitrate
LOSS_LIMIT = 0.05
QUEUE_LIMIT_MS = 80.0
MIN_REQUEST_KBPS = 100
_FRAME_ID = struct.Struct("<I")  # offset 4 of a volumetric fragment's header
#: clock samples kept; the offset comes from the one with the smallest round trip
CLOCK_SAMPLES = 16

MODE_TO_WIRE = {
    MediaMode.NONE: wire.Mode.NONE,
    MediaMode.VOLUMETRIC: wire.Mode.VOLUMETRIC,
    MediaMode.AVATAR: wire.Mode.AVATAR,
}
WIRE_TO_MODE = {v: k for k, v in MODE_TO_WIRE.items()}
CODEC_TO_WIRE = {"volumetric-dc": wire.Codec.VOLUMETRIC_DC, "hue-video": wire.Codec.HUE_VIDEO}


def ice_configuration(servers: list[Any]) -> RTCConfiguration:
    """``RTCConfiguration`` from ``room-state.iceServers`` (never aiortc's default STUN)."""
    out = []
    for entry in servers:
        if not isinstance(entry, dict):
            continue
        urls = entry.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            continue
        out.append(
            RTCIceServer(
                urls=urls,
                username=entry.get("username") if isinstance(entry.get("username"), str) else None,
                credential=entry.get("credential")
                if isinstance(entry.get("credential"), str)
                else None,
            )
        )
    return RTCConfiguration(iceServers=out)


class Peer:
    def __init__(
        self, engine: CallEngine, user_id: str, seat: int, offerer: bool, ice_servers: list[Any]
    ) -> None:
        self.engine = engine
        self.user_id = user_id
        self.seat = seat
        self.offerer = offerer
        self.pc = RTCPeerConnection(ice_configuration(ice_servers))
        self.hologram: Any = None
        self.control: Any = None
        self.video_track: HologramVideoTrack | None = None
        self.display_name = user_id
        self.mode = MediaMode.NONE
        self.codec: str | None = None
        self.consent = wire.Consent(0)
        self.connection = PeerConnection.CONNECTING
        self.closed = False
        self.created = time.monotonic()
        self.pending_candidates: list[Any] = []
        self.tasks: list[asyncio.Task[Any]] = []
        # receiving
        self.reassembler = Reassembler()
        self.decoding = False
        self.pending: tuple[Any, float] | None = None  # newest undecoded payload, arrival time
        self.last_frame_id: int | None = None
        # counters
        self.bytes_in = 0
        self.bytes_out = 0
        self.frames_in = 0
        self.frames_out = 0
        self.frames_bad = 0
        self.frames_dropped = 0
        self.frames_skipped = 0  # not sent: the path was still busy with earlier frames
        self.next_frame_id = secrets.randbits(32)  # volumetric frame ids sent to this peer
        self.frame_times: collections.deque[float] = collections.deque(maxlen=240)
        self.latencies: collections.deque[tuple[float, float]] = collections.deque(maxlen=600)
        self.ids_seen = 0  # frame-id advance on the data channel (for loss)
        self.ids_done = 0
        self._prev = (0, 0, 0.0, 0, 0)  # bytes_in, bytes_out, time, ids_seen, ids_done
        self._dropped_prev = 0
        self._rtp_prev = (0, 0)  # RTP packets received, lost (getStats is cumulative)
        self._wire_prev: tuple[float, float] | None = None  # DTLS bytes in, out
        # clock
        self.ping_seq = 0
        self.pings: dict[int, float] = {}  # seq -> t1 of the pings not answered yet
        self.last_pong = time.monotonic()
        self.clock: collections.deque[tuple[float, float]] = collections.deque(maxlen=CLOCK_SAMPLES)
        self.rtt_s: float | None = None
        self.offset_s: float | None = None
        self.remote_feedback: wire.QualityFeedback | None = None
        self.stats = PeerStats(user_id)
        self._wire_events()

    # ---- setup -------------------------------------------------------------------------------

    def _wire_events(self) -> None:
        pc = self.pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            state = pc.connectionState
            log.info("peer %s: connection %s", self.user_id, state)
            if state == "connected":
                self.set_connection(PeerConnection.CONNECTED)
                self.last_pong = time.monotonic()
            elif state in ("failed", "closed") and not self.closed:
                await self.engine.drop_peer(self.user_id, f"connection {state}", self)

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self._attach_channel(channel)

        @pc.on("track")
        def on_track(track: Any) -> None:
            log.info("peer %s: remote %s track", self.user_id, track.kind)
            if track.kind == "video":
                self.tasks.append(asyncio.ensure_future(self._video_loop(track)))
            elif track.kind == "audio":
                # aiortc holds four packets (~90 ms) before decoding; our receiver buffers itself
                for transceiver in pc.getTransceivers():
                    if transceiver.receiver.track is track:
                        low_latency_receiver(transceiver.receiver)
                self.engine.remote_audio(self.user_id, track)

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
            self._attach_channel(pc.createDataChannel("hologram", ordered=False, maxRetransmits=0))
            self._attach_channel(pc.createDataChannel("control", ordered=True))
        else:
            # after setRemoteDescription(offer): addTrack reuses the offered transceivers
            if local_audio is not None and any(t.kind == "audio" for t in pc.getTransceivers()):
                pc.addTrack(local_audio)
            if video and any(t.kind == "video" for t in pc.getTransceivers()):
                self.video_track = HologramVideoTrack()
                pc.addTrack(self.video_track)

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
            channel.on("message", self._on_unknown)

    # ---- signaling ---------------------------------------------------------------------------

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
        return ParticipantInfo(
            user_id=self.user_id,
            display_name=self.display_name,
            seat=self.seat,
            mode=self.mode,
            connection=self.connection,
            allows_audio_recording=bool(self.consent & wire.Consent.RECORD_AUDIO),
            allows_hologram_recording=bool(self.consent & wire.Consent.RECORD_HOLOGRAM),
            recording=bool(self.consent & wire.Consent.RECORDING),
            codec=self.codec,
        )

    def set_connection(self, state: PeerConnection) -> None:
        if self.connection != state:
            self.connection = state
            self.engine.participant_changed(self)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.connection = PeerConnection.CLOSED
        for task in self.tasks:
            task.cancel()
        if self.video_track is not None:
            self.video_track.stop()
        try:
            await asyncio.wait_for(self.pc.close(), 3.0)
        except Exception as exc:
            log.info("peer %s: close: %s", self.user_id, exc)

    # ---- sending -----------------------------------------------------------------------------

    def channel_open(self, channel: Any) -> bool:
        return channel is not None and channel.readyState == "open" and not self.closed

    def send_hologram(self, messages: list[bytes], skippable: bool = False) -> bool:
        """Send on the hologram channel. A ``skippable`` volumetric frame is not sent (and
        counted in ``frames_skipped``) while an earlier one still waits; small messages
        (avatar, anchor) always go."""
        ch = self.hologram
        if not self.channel_open(ch):
            return False
        if skippable and ch.bufferedAmount > MAX_BUFFERED_BYTES:
            self.frames_skipped += 1
            return False
        for message in messages:
            ch.send(message)
            self.bytes_out += len(message)
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
        return True

    def send_control(self, message: wire.ControlMessage) -> None:
        ch = self.control
        if self.channel_open(ch):
            data = wire.encode_control(message)
            ch.send(data)
            self.bytes_out += len(data)

    def send_hello(self) -> None:
        engine = self.engine
        self.last_pong = time.monotonic()
        self.send_control(
            wire.Hello(
                display_name=engine.config.display_name,
                mode=MODE_TO_WIRE[engine.mode],
                codec=CODEC_TO_WIRE.get(engine.config.codec, wire.Codec.NONE),
                capabilities=wire.ALL_CAPABILITIES,
            )
        )
        self.send_control(wire.ConsentMessage(engine.consent))

    def send_ping(self) -> None:
        self.ping_seq = (self.ping_seq + 1) & 0xFFFFFFFF
        t1 = time.time()
        self.pings[self.ping_seq] = t1
        while len(self.pings) > CLOCK_SAMPLES:
            del self.pings[next(iter(self.pings))]
        self.send_control(wire.Ping(self.ping_seq, t1))

    # ---- receiving ---------------------------------------------------------------------------

    def _bad(self, reason: str) -> None:
        self.frames_bad += 1
        if self.frames_bad <= 5 or self.frames_bad % 100 == 0:
            log.info(
                "peer %s: rejected message (%d so far): %s", self.user_id, self.frames_bad, reason
            )

    def _on_unknown(self, message: Any) -> None:
        self._bad("message on an unknown data channel")

    def _on_hologram(self, message: Any) -> None:
        if self.closed:
            return
        if not isinstance(message, bytes):
            self._bad("text message on the hologram channel")
            return
        self.bytes_in += len(message)
        try:
            kind = wire.message_type(message)
            if kind == wire.TYPE_VOLUMETRIC:
                self._on_fragment(message)
            elif kind == wire.TYPE_AVATAR:
                frame = decode_avatar_frame(message)
                self.engine.avatar_mailbox(self.user_id).put(
                    RemoteAvatar(self.user_id, frame, time.time())
                )
            elif kind == wire.TYPE_ANCHOR:
                anchor = wire.decode_anchor(message)
                self.engine.anchor_mailbox(self.user_id).put(
                    RemoteAnchor(
                        self.user_id,
                        anchor.participant_id,
                        anchor.position,
                        anchor.rotation,
                        anchor.cloud_anchor_id,
                        time.time(),
                    )
                )
            else:
                raise CodecError(f"unknown hologram message type {kind:#04x}")
        except (CodecError, AvatarFrameError) as exc:
            self._bad(str(exc))

    def _on_fragment(self, message: bytes) -> None:
        fid = parse_header(message)[0]
        if self.last_frame_id is None:
            self.last_frame_id = (fid - 1) & 0xFFFFFFFF
        ahead = (fid - self.last_frame_id) & 0xFFFFFFFF
        if 0 < ahead < 1024:
            self.ids_seen += ahead
            self.last_frame_id = fid
        elif ahead >= 0x80000000 and (self.last_frame_id - fid) & 0xFFFFFFFF > 1024:
            self.last_frame_id = fid  # the sender restarted
        whole = self.reassembler.push(message)
        if whole is None:
            return
        self.ids_done += 1
        self.submit_decode(whole)

    def submit_decode(self, payload: Any) -> None:
        """Decode ``payload`` in the executor; while one decode runs, only the newest waits."""
        now = time.time()
        if self.decoding:
            if self.pending is not None:
                self.frames_dropped += 1
            self.pending = (payload, now)
            return
        self.decoding = True
        self.tasks.append(asyncio.ensure_future(self._decode(payload, now)))
        if len(self.tasks) > 32:
            self.tasks = [t for t in self.tasks if not t.done()]

    async def _decode(self, payload: Any, received: float) -> None:
        engine = self.engine
        try:
            while not self.closed:
                try:
                    frame = await engine.run_decode(payload)
                except CodecError as exc:
                    self._bad(str(exc))
                else:
                    if frame is not None:
                        self.frames_in += 1
                        self.frame_times.append(time.monotonic())
                        engine.deliver_frame(self, frame, received)
                if self.pending is None:
                    return
                payload, received = self.pending
                self.pending = None
        finally:
            self.decoding = False

    async def _video_loop(self, track: Any) -> None:
        while not self.closed:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.submit_decode(frame)

    def _on_control(self, message: Any) -> None:
        if self.closed:
            return
        if not isinstance(message, bytes):
            self._bad("text message on the control channel")
            return
        self.bytes_in += len(message)
        try:
            msg = wire.decode_control(message)
        except CodecError as exc:
            self._bad(str(exc))
            return
        now = time.time()
        self.last_pong = time.monotonic()  # any control traffic shows the peer is alive
        if isinstance(msg, wire.Ping):
            self.send_control(wire.Pong(msg.seq, msg.t1, now, time.time()))
        elif isinstance(msg, wire.Pong):
            if self.pings.pop(msg.seq, None) != msg.t1:
                self._bad(f"pong {msg.seq} answers no ping of ours")
                return
            rtt, offset = wire.clock_sample(msg, now)
            self.clock.append((rtt, offset))
            best = min(self.clock)
            self.rtt_s = statistics.median(r for r, _ in self.clock)
            self.offset_s = best[1]
        elif isinstance(msg, wire.Hello):
            self.display_name = msg.display_name or self.user_id
            self.mode = WIRE_TO_MODE[msg.mode]
            self.codec = wire.CODEC_NAMES.get(msg.codec)
            self.engine.participant_changed(self)
        elif isinstance(msg, wire.ModeChange):
            self.mode = WIRE_TO_MODE[msg.mode]
            self.engine.participant_changed(self)
        elif isinstance(msg, wire.ConsentMessage):
            self.consent = msg.flags
            self.engine.participant_changed(self)
        elif isinstance(msg, wire.QualityFeedback):
            self.remote_feedback = msg
        elif isinstance(msg, wire.Bye):
            self.engine.schedule(self.engine.drop_peer(self.user_id, "left", self))

    # ---- stats -------------------------------------------------------------------------------

    def bitrate_request(self, st: PeerStats) -> int:
        """The bitrate (kbit/s) to ask this peer for: 0 (no limit) while its stream arrives
        well; 70 % of what arrives when over 5 % of it is lost, when frames arrive faster than
        they can be decoded (latest-wins drops), or when frames spend more than 80 ms between
        capture and display beyond the one-way network delay (queueing for CPU somewhere)."""
        dropped = st.frames_dropped - self._dropped_prev
        self._dropped_prev = st.frames_dropped
        queueing = (
            st.latency_ms is not None and st.latency_ms - (st.rtt_ms or 0.0) / 2 > QUEUE_LIMIT_MS
        )
        struggling = (
            (st.loss or 0.0) > LOSS_LIMIT or dropped > 0.2 * max(1.0, st.fps_in) or queueing
        )
        if not struggling or st.bitrate_in_kbps <= 0:
            return 0
        return max(MIN_REQUEST_KBPS, int(st.bitrate_in_kbps * 0.7))

    def to_local_time(self, remote_time: float) -> float:
        return remote_time - (self.offset_s or 0.0)

    def collect(self, rtp: dict[str, float | None], now_mono: float) -> PeerStats:
        b_in, b_out, t_prev, seen_prev, done_prev = self._prev
        dt = max(1e-3, now_mono - t_prev) if t_prev else 1.0
        rate_in = (self.bytes_in - b_in) * 8 / 1000 / dt
        rate_out = (self.bytes_out - b_out) * 8 / 1000 / dt
        wire_in, wire_out = rtp.get("wire_in"), rtp.get("wire_out")
        if wire_in is not None and wire_out is not None:
            if self._wire_prev is not None and t_prev:
                # everything on the wire: data channels and media, with their overhead
                rate_in = (wire_in - self._wire_prev[0]) * 8 / 1000 / dt
                rate_out = (wire_out - self._wire_prev[1]) * 8 / 1000 / dt
            self._wire_prev = (wire_in, wire_out)
        seen = self.ids_seen - seen_prev
        done = self.ids_done - done_prev
        self._prev = (self.bytes_in, self.bytes_out, now_mono, self.ids_seen, self.ids_done)
        fps = sum(1 for t in self.frame_times if now_mono - t <= 1.0)
        wall = time.time()
        # list() copies in one step: frame_drawn() appends from the UI thread
        recent = [ms for t, ms in list(self.latencies) if wall - t <= 1.0]
        fb = self.remote_feedback
        # the worst of the RTP streams and the hologram channel's frames
        losses = [x for x in (rtp.get("loss"),) if x is not None]
        if seen > 0:
            losses.append(max(0.0, 1.0 - done / seen))
        loss = max(losses) if losses else None
        self.stats = PeerStats(
            user_id=self.user_id,
            rtt_ms=None if self.rtt_s is None else self.rtt_s * 1000,
            loss=loss,
            jitter_ms=rtp.get("jitter_ms"),
            bitrate_in_kbps=rate_in,
            bitrate_out_kbps=rate_out,
            fps_in=float(fps),
            latency_ms=statistics.median(recent) if recent else None,
            frames_in=self.frames_in,
            frames_bad=self.frames_bad,
            clock_offset_ms=None if self.offset_s is None else self.offset_s * 1000,
            frames_out=self.frames_out,
            frames_dropped=self.frames_dropped,
            frames_skipped=self.frames_skipped,
            remote_fps_in=fb.fps if fb is not None else None,
            remote_loss=fb.loss if fb is not None else None,
            remote_latency_ms=fb.latency_ms if fb is not None else None,
        )
        return self.stats

    async def wire_stats(self) -> dict[str, float | None]:
        """From aiortc's ``getStats()``: loss and jitter of the incoming RTP streams (video
        track, audio) over the last interval, and the bytes on the DTLS transport (``wire_in``,
        ``wire_out``: data channels and media together, cumulative)."""
        try:
            report = await self.pc.getStats()
        except Exception as exc:
            log.debug("getStats failed: %s", exc)
            return {}
        received = lost = 0
        wire_in = wire_out = 0
        jitters: list[float] = []
        for stat in report.values():
            kind = getattr(stat, "type", None)
            if kind == "inbound-rtp":
                received += int(getattr(stat, "packetsReceived", 0) or 0)
                lost += max(0, int(getattr(stat, "packetsLost", 0) or 0))
                if getattr(stat, "packetsReceived", 0):
                    clock = 90000 if getattr(stat, "kind", "") == "video" else 48000
                    jitters.append(float(getattr(stat, "jitter", 0) or 0) / clock * 1000)
            elif kind == "transport":
                wire_in += int(getattr(stat, "bytesReceived", 0) or 0)
                wire_out += int(getattr(stat, "bytesSent", 0) or 0)
        out: dict[str, float | None] = {"wire_in": float(wire_in), "wire_out": float(wire_out)}
        d_received, d_lost = received - self._rtp_prev[0], lost - self._rtp_prev[1]
        self._rtp_prev = (received, lost)
        if d_received + d_lost > 0:
            out["loss"] = max(0.0, d_lost / (d_received + d_lost))
        if jitters:
            out["jitter_ms"] = max(jitters)
        return out
