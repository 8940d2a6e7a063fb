"""The call engine: signaling, a mesh of aiortc peer connections, frames in and out.

One network thread runs one asyncio loop that owns every aiortc and aiohttp object. Other
threads talk to the engine only through its thread-safe methods (``send_frame``, ``send_avatar``,
``set_mode``, ``frame_drawn``, ``leave``, ``close``) and read decoded frames from latest-frame-wins
mailboxes. Encoding and decoding run in thread pools, never on the loop: one encode at a time
(a frame that arrives while the encoder is busy replaces the waiting one), one decode at a time
per peer (likewise). See ``docs/calls.md``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.avatar_frame import encode_avatar_frame
from holocall_desktop.codec.base import CodecError, Quality
from holocall_desktop.codec.registry import get_codec
from holocall_desktop.codec.videotrack import unpack_frame
from holocall_desktop.codec.volumetric import decode_payload
from holocall_desktop.model import DepthFrame, LatestMailbox
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.transport import ice
from holocall_desktop.transport.api import (
    CallConfig,
    CallListener,
    CallState,
    CallSummary,
    MediaMode,
    ParticipantInfo,
    PeerConnection,
    RemoteAnchor,
    RemoteAvatar,
    RemoteFrame,
)
from holocall_desktop.transport.peer import MODE_TO_WIRE, Peer
from holocall_desktop.transport.signaling import SignalingClient
from holocall_desktop.transport.tracks import VIDEO_CLOCK, packed_to_video_frame

log = logging.getLogger(__name__)

RemoteAudioCallback = Callable[[str, Any], None]


@dataclasses.dataclass
class EngineOptions:
    """Timing knobs (defaults suit a real call; tests shorten them)."""

    stats_interval: float = 1.0
    ping_interval: float = 0.5
    peer_timeout: float = 5.0  # no control traffic for this long: the peer is gone
    connect_timeout: float = 20.0  # a peer connection that does not connect within this: failed
    reconnect_timeout: float = 60.0  # signaling: give up reconnecting after this
    adapt_frame_rate: bool = True  # lower the sending frame rate when receivers ask for less
    min_fps: float = 5.0  # … but never below this


class CallEngine:
    """See the module doc. Listener methods are called on the network thread."""

    def __init__(
        self,
        config: CallConfig,
        listener: CallListener,
        quality: Quality | None = None,
        local_audio: Any = None,
        on_remote_audio: RemoteAudioCallback | None = None,
        options: EngineOptions | None = None,
    ) -> None:
        codec = get_codec(config.codec)  # CodecError names the available codecs
        self.config = config
        self.listener = listener
        self.quality = quality or Quality()
        self.options = options or EngineOptions()
        self.codec_transport: str = codec.transport
        self._encoder = codec.encoder(self.quality)
        self._decoder_factory = codec.decoder
        self._local_audio = local_audio
        self._on_remote_audio = on_remote_audio
        self.mode = MediaMode.VOLUMETRIC
        self.consent = wire.Consent(0)
        self._state = CallState.IDLE
        self._state_message = ""
        self._lock = threading.Lock()
        self._frames: dict[str, LatestMailbox[RemoteFrame]] = {}
        self._avatars: dict[str, LatestMailbox[RemoteAvatar]] = {}
        self._anchors: dict[str, LatestMailbox[RemoteAnchor]] = {}
        self._participants: dict[str, ParticipantInfo] = {}
        self._seats: dict[str, int] = {}
        self._my_seat = -1
        self._seen: list[str] = []
        self._outbox: LatestMailbox[tuple[DepthFrame, float]] = LatestMailbox()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._peers: dict[str, Peer] = {}
        self._signaling: SignalingClient | None = None
        self._encode_pool = concurrent.futures.ThreadPoolExecutor(1, "holocall-encode")
        self._decode_pool = concurrent.futures.ThreadPoolExecutor(2, "holocall-decode")
        self._relay: Any = None
        self._started_at: float | None = None
        self._join_time: float | None = None
        self._frames_sent = 0
        self._frames_received = 0
        self._leaving = False
        self._closed = False
        self._t0 = time.time()
        self._ready = threading.Event()
        self._frame_arrived = threading.Event()
        self._base_fps = self.quality.max_fps
        self._frame_bytes: float | None = None  # running mean of an encoded frame's size
        self._background: set[asyncio.Future[Any]] = set()

    # ==== thread-safe API ======================================================================

    def start(self) -> None:
        """Start the network thread (returns at once; progress arrives through the listener)."""
        if self._thread is not None:
            raise RuntimeError("the call engine was already started")
        ice.install()
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="holocall-network", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    @property
    def state(self) -> CallState:
        return self._state

    @property
    def state_message(self) -> str:
        return self._state_message

    @property
    def participants(self) -> list[ParticipantInfo]:
        with self._lock:
            return sorted(self._participants.values(), key=lambda p: (p.seat, p.user_id))

    @property
    def summary(self) -> CallSummary:
        sig = self._signaling
        with self._lock:
            return CallSummary(
                join_time_s=self._join_time,
                participants_seen=list(self._seen),
                reconnects=sig.reconnects if sig is not None else 0,
                frames_sent=self._frames_sent,
                frames_received=self._frames_received,
            )

    @property
    def my_seat(self) -> int:
        """The seat the server gave this participant (``-1`` before ``room-state``)."""
        return self._my_seat

    @property
    def room_id(self) -> str | None:
        sig = self._signaling
        return sig.room_id if sig is not None else self.config.room_id

    @property
    def invite_secret(self) -> str | None:
        """The room's invite secret (known when this engine created the room or was invited)."""
        sig = self._signaling
        if sig is not None and sig.tokens is not None and sig.tokens.invite_secret:
            return sig.tokens.invite_secret
        return self.config.invite_secret

    def send_frame(self, frame: DepthFrame, capture_time: float) -> None:
        """Send a captured frame to everyone (any thread). ``capture_time`` is ``time.time()``
        at capture. If the encoder is busy, this frame replaces any frame still waiting."""
        self._outbox.put((frame, capture_time))
        self._call_soon(self._kick_encoder)

    def send_avatar(self, frame: AvatarFrame) -> None:
        """Send an avatar frame (type 0x41) to everyone on the hologram channel (any thread)."""
        data = encode_avatar_frame(frame)
        self._call_soon(lambda: self._broadcast_hologram([data]))

    def send_anchor(
        self,
        position: tuple[float, float, float],
        rotation: tuple[float, float, float, float],
        cloud_anchor_id: str | None = None,
    ) -> None:
        """Send this participant's ``anchor_sync`` to everyone (any thread)."""
        data = wire.encode_anchor(
            wire.AnchorSync(self.config.user_id, position, rotation, cloud_anchor_id)
        )
        self._call_soon(lambda: self._broadcast_hologram([data]))

    def send_raw(self, channel: str, data: bytes | str, to: str | None = None) -> None:
        """Diagnostics and tests: send ``data`` as it is on the ``hologram`` or ``control``
        channel of every peer (or of ``to``), bypassing every encoder (any thread)."""
        if channel not in ("hologram", "control"):
            raise ValueError(f"no data channel {channel!r} (hologram or control)")

        def send() -> None:
            for peer in list(self._peers.values()):
                ch = peer.hologram if channel == "hologram" else peer.control
                if (to is None or peer.user_id == to) and peer.channel_open(ch):
                    ch.send(data)

        self._call_soon(send)

    def set_mode(self, mode: MediaMode) -> None:
        """What this participant sends: VOLUMETRIC, AVATAR (fallback) or NONE (camera off).
        Peers are told with a mode-change message; frames are only sent in VOLUMETRIC."""
        self._call_soon(lambda: self._set_mode(mode))

    def set_consent(
        self, allow_audio_recording: bool, allow_hologram_recording: bool, recording: bool = False
    ) -> None:
        """Tell everyone which recordings of us we allow, and whether we are recording."""
        flags = wire.Consent(0)
        if allow_audio_recording:
            flags |= wire.Consent.RECORD_AUDIO
        if allow_hologram_recording:
            flags |= wire.Consent.RECORD_HOLOGRAM
        if recording:
            flags |= wire.Consent.RECORDING
        self._call_soon(lambda: self._set_consent(flags))

    def remote_frames(self, user_id: str) -> LatestMailbox[RemoteFrame]:
        with self._lock:
            return self._frames.setdefault(user_id, LatestMailbox())

    def remote_avatars(self, user_id: str) -> LatestMailbox[RemoteAvatar]:
        return self.avatar_mailbox(user_id)

    def remote_anchors(self, user_id: str) -> LatestMailbox[RemoteAnchor]:
        return self.anchor_mailbox(user_id)

    def wait_for_frames(self, timeout: float) -> bool:
        """Block until a remote frame arrived since the last call (or ``timeout`` s); then take
        frames from the mailboxes. For consumers without a display clock (headless); a UI polls
        the mailboxes once per repaint instead."""
        arrived = self._frame_arrived.wait(timeout)
        self._frame_arrived.clear()
        return arrived

    def frame_drawn(self, remote: RemoteFrame) -> None:
        """The UI drew ``remote`` (any thread): glass-to-glass latency and the join time."""
        now = time.time()
        latency_ms = (now - remote.capture_time) * 1000.0
        peer = self._peers.get(remote.user_id)
        if peer is not None:
            peer.latencies.append((now, latency_ms))
        with self._lock:
            if self._join_time is None and self._started_at is not None:
                self._join_time = time.monotonic() - self._started_at

    def leave(self, timeout: float = 5.0) -> None:
        """Leave the call gracefully (bye, leave-room, close peers; state LEFT). Blocks up to
        ``timeout`` seconds; ``timeout=0`` returns at once."""
        if not self._leaving:
            self._run_on_loop(lambda: self._leave(wire.ByeReason.LEAVING), timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Leave if still in the call, stop the network thread and join it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._run_on_loop(lambda: self._shutdown(wire.ByeReason.APP_EXIT), timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._encode_pool.shutdown(wait=False, cancel_futures=True)
        self._decode_pool.shutdown(wait=False, cancel_futures=True)

    def _run_on_loop(self, make: Callable[[], Coroutine[Any, Any, None]], timeout: float) -> None:
        """Run ``make()`` on the network loop; wait up to ``timeout`` s for it (or for the
        network thread to end, whichever is first). The coroutine is created on the loop, so a
        loop that ends first leaves nothing un-awaited."""
        loop = self._loop
        thread = self._thread
        if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def begin() -> None:
            task = asyncio.ensure_future(make())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            task.add_done_callback(lambda _t: None if done.done() else done.set_result(None))

        try:
            loop.call_soon_threadsafe(begin)
        except RuntimeError:  # the loop closed meanwhile
            return
        deadline = time.monotonic() + timeout
        while not done.done() and thread.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(concurrent.futures.TimeoutError):
                done.result(min(left, 0.05))

    # ==== used by Peer (loop thread) ===========================================================

    def avatar_mailbox(self, user_id: str) -> LatestMailbox[RemoteAvatar]:
        with self._lock:
            return self._avatars.setdefault(user_id, LatestMailbox())

    def anchor_mailbox(self, user_id: str) -> LatestMailbox[RemoteAnchor]:
        with self._lock:
            return self._anchors.setdefault(user_id, LatestMailbox())

    def schedule(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def run_decode(self, payload: Any) -> DepthFrame | None:
        loop = asyncio.get_running_loop()
        if self.codec_transport == "datachannel" or isinstance(payload, bytes | bytearray):
            return await loop.run_in_executor(self._decode_pool, decode_payload, payload)
        return await loop.run_in_executor(self._decode_pool, _decode_video_frame, payload)

    def deliver_frame(self, peer: Peer, frame: DepthFrame, received: float) -> None:
        remote = RemoteFrame(
            user_id=peer.user_id,
            frame=frame,
            capture_time=peer.to_local_time(frame.timestamp),
            received_time=received,
            sequence=frame.frame_number,
        )
        with self._lock:
            self._frames_received += 1
        self.remote_frames(peer.user_id).put(remote)
        self._frame_arrived.set()

    def participant_changed(self, peer: Peer) -> None:
        info = peer.info()
        with self._lock:
            self._participants[peer.user_id] = info
        self._notify(lambda: self.listener.on_participant(info))

    def remote_audio(self, user_id: str, track: Any) -> None:
        if self._on_remote_audio is not None:
            try:
                self._on_remote_audio(user_id, track)
                return
            except Exception:
                log.exception("on_remote_audio failed")
        # nobody listens: drain it, or aiortc queues its frames without bound
        self.schedule(_drain(track))

    async def drop_peer(self, user_id: str, reason: str, peer: Peer | None = None) -> None:
        """Close the connection to ``user_id`` and tell the listener. With ``peer``, only if
        that is still the current connection (an old one being replaced just closes)."""
        current = self._peers.get(user_id)
        if peer is not None and current is not peer:
            await peer.close()
            return
        peer = self._peers.pop(user_id, None)
        if peer is None:
            return
        if self._leaving:
            reason = "you left"
        log.info("peer %s gone: %s", user_id, reason)
        await peer.close()
        with self._lock:
            self._participants.pop(user_id, None)
        self._notify(lambda: self.listener.on_participant_left(user_id, reason))

    # ==== signaling handler (loop thread) ======================================================

    def on_signal_state(self, state: CallState, message: str) -> None:
        if self._leaving and state != CallState.LEFT:
            return
        self._set_state(state, message)

    async def on_signal(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        try:
            if kind == "room-state":
                await self._room_state(msg)
            elif kind == "user-joined":
                await self._user_joined(msg)
            elif kind == "user-left":
                user = msg.get("userId")
                if isinstance(user, str):
                    await self.drop_peer(user, str(msg.get("reason", "left")))
            elif kind == "offer":
                await self._offer(msg)
            elif kind == "answer":
                await self._answer(msg)
            elif kind == "ice-candidate":
                peer = self._peers.get(str(msg.get("from")))
                cand = msg.get("candidate")
                if peer is not None and isinstance(cand, dict):
                    await peer.add_candidate(cand)
            elif kind == "error":
                log.info("signaling error: %s %s", msg.get("code"), msg.get("message"))
        except Exception as exc:  # one bad peer or message must not end the call
            log.exception("handling %s failed", kind)
            sender = msg.get("from") or msg.get("userId")
            if isinstance(sender, str) and sender in self._peers:
                await self.drop_peer(sender, f"negotiation failed: {exc}")

    async def _room_state(self, msg: dict[str, Any]) -> None:
        me = self.config.user_id
        self._my_seat = _seat(msg)
        others = [
            p
            for p in msg.get("participants", [])
            if isinstance(p, dict) and isinstance(p.get("userId"), str) and p["userId"] != me
        ]
        for p in others:
            self._seats[p["userId"]] = _seat(p)
        if msg.get("rejoined"):
            # we came back: offer to everyone we have no connection with (they will not see a
            # user-joined for us, so nobody else would start one)
            for p in others:
                if p["userId"] not in self._peers and p.get("connected", True):
                    await self._start_offer(p["userId"], _seat(p))

    async def _user_joined(self, msg: dict[str, Any]) -> None:
        user = msg.get("userId")
        if not isinstance(user, str) or user == self.config.user_id:
            return
        self._seats[user] = _seat(msg)
        await self._start_offer(user, _seat(msg))

    async def _start_offer(self, user: str, seat: int) -> None:
        if len(self._peers) >= self.config.max_peers and user not in self._peers:
            log.warning("mesh is full (%d peers); not connecting to %s", len(self._peers), user)
            return
        old = self._peers.pop(user, None)
        if old is not None:
            await old.close()
        peer = self._new_peer(user, seat, offerer=True)
        peer.add_media(self._audio_for_peer(), self.codec_transport == "videotrack")
        sdp = await peer.make_offer()
        if peer.closed:
            return
        await self._send({"type": "offer", "to": user, "sdp": sdp})

    async def _offer(self, msg: dict[str, Any]) -> None:
        user = msg.get("from")
        sdp = msg.get("sdp")
        if not isinstance(user, str) or not isinstance(sdp, dict):
            return
        old = self._peers.get(user)
        if old is not None:
            # glare (both offered): the smaller user id keeps its offer
            glare = old.offerer and old.pc.signalingState == "have-local-offer"
            if glare and self.config.user_id < user:
                return
            self._peers.pop(user, None)
            await old.close()
        if len(self._peers) >= self.config.max_peers:
            log.warning("mesh is full; refusing the offer from %s", user)
            return
        seat = self._seat_of(user)
        peer = self._new_peer(user, seat, offerer=False)
        answer = await peer.accept_offer(
            sdp, self._audio_for_peer(), self.codec_transport == "videotrack"
        )
        if not peer.closed:
            await self._send({"type": "answer", "to": user, "sdp": answer})

    async def _answer(self, msg: dict[str, Any]) -> None:
        peer = self._peers.get(str(msg.get("from")))
        sdp = msg.get("sdp")
        if (
            peer is None
            or not isinstance(sdp, dict)
            or peer.pc.signalingState != "have-local-offer"
        ):
            return
        await peer.accept_answer(sdp)

    def _seat_of(self, user: str) -> int:
        return self._seats.get(user, -1)

    def _new_peer(self, user: str, seat: int, offerer: bool) -> Peer:
        sig = self._signaling
        servers = sig.ice_servers if sig is not None else []
        peer = Peer(self, user, seat, offerer, servers)
        self._peers[user] = peer
        with self._lock:
            if user not in self._seen:
                self._seen.append(user)
        self.participant_changed(peer)
        return peer

    def _audio_for_peer(self) -> Any:
        if self._local_audio is None:
            return None
        if self._relay is None:
            self._relay = MediaRelay()
        return self._relay.subscribe(self._local_audio, buffered=False)

    async def _send(self, message: dict[str, Any]) -> None:
        if self._signaling is not None:
            await self._signaling.send(message)

    # ==== loop internals =======================================================================

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the network thread failed")
            self._set_state(CallState.FAILED, "internal error in the network thread")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready.set()
        async with aiohttp.ClientSession() as session:
            self._signaling = SignalingClient(
                self.config, session, self, reconnect_timeout=self.options.reconnect_timeout
            )
            tasks = [
                asyncio.ensure_future(self._signaling.run()),
                asyncio.ensure_future(self._encode_loop()),
                asyncio.ensure_future(self._stats_loop()),
            ]
            stop = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait([tasks[0], stop], return_when=asyncio.FIRST_COMPLETED)
            if not self._stop.is_set() and self._state == CallState.FAILED:
                await self._close_peers("the call failed")
            elif not self._stop.is_set():
                await self._stop.wait()
            for task in [*tasks, stop]:
                task.cancel()
            await asyncio.gather(*tasks, stop, return_exceptions=True)
            await self._close_peers("closed")

    async def _leave(self, reason: wire.ByeReason) -> None:
        if self._leaving:
            return
        self._leaving = True
        for peer in list(self._peers.values()):
            peer.send_control(wire.Bye(reason))
        await asyncio.sleep(0.05)  # let the byes go out before the transports close
        if self._signaling is not None:
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
                await asyncio.wait_for(self._signaling.leave(), 2.0)
        await self._close_peers("you left")
        if self._state != CallState.FAILED:
            self._set_state(CallState.LEFT, "left the call")

    async def _shutdown(self, reason: wire.ByeReason) -> None:
        if self._state not in (CallState.FAILED, CallState.LEFT):
            await self._leave(reason)
        if self._stop is not None:
            self._stop.set()

    async def _close_peers(self, reason: str) -> None:
        for user in list(self._peers):
            await self.drop_peer(user, reason)
        if self._relay is not None:
            self._relay = None

    def _set_mode(self, mode: MediaMode) -> None:
        self.mode = mode
        for peer in self._peers.values():
            peer.send_control(wire.ModeChange(MODE_TO_WIRE[mode]))

    def _set_consent(self, flags: wire.Consent) -> None:
        self.consent = flags
        for peer in self._peers.values():
            peer.send_control(wire.ConsentMessage(flags))

    def _kick_encoder(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _broadcast_hologram(self, messages: list[bytes]) -> None:
        for peer in self._peers.values():
            peer.send_hologram(messages)

    async def _encode_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        video = self.codec_transport == "videotrack"
        while True:
            await self._wake.wait()
            self._wake.clear()
            item = self._outbox.take()
            if item is None:
                continue
            if self.mode != MediaMode.VOLUMETRIC:
                continue
            targets = [
                p
                for p in self._peers.values()
                if (p.video_track is not None if video else p.channel_open(p.hologram))
            ]
            if not targets:
                continue
            frame, capture_time = item
            try:
                payloads = await loop.run_in_executor(
                    self._encode_pool, self._encode, frame, capture_time
                )
            except (CodecError, ValueError) as exc:
                log.warning("frame %d not sent: %s", frame.frame_number, exc)
                continue
            if not payloads:
                continue  # skipped by the encoder's max_fps
            if not video:
                size = float(sum(len(p) for p in payloads))
                mean = self._frame_bytes
                self._frame_bytes = size if mean is None else 0.8 * mean + 0.2 * size
            with self._lock:
                self._frames_sent += 1
            for peer in list(self._peers.values()):
                if video:
                    if peer.video_track is not None:
                        peer.video_track.push(payloads[0])
                        peer.frames_out += 1
                elif peer.send_fragments(payloads):
                    peer.frames_out += 1

    def _encode(self, frame: DepthFrame, capture_time: float) -> list[Any]:
        # the codec's timestamp field carries the wall-clock capture time (docs/protocol.md)
        stamped = dataclasses.replace(frame, timestamp=capture_time)
        self._encoder.quality = self.quality
        out = self._encoder.encode(stamped)
        if self.codec_transport == "videotrack" and out:
            pts = max(0, int((capture_time - self._t0) * VIDEO_CLOCK))
            return [packed_to_video_frame(out[0], pts)]
        return list(out)

    async def _stats_loop(self) -> None:
        opts = self.options
        next_stats = time.monotonic() + opts.stats_interval
        while True:
            await asyncio.sleep(opts.ping_interval)
            now = time.monotonic()
            for peer in list(self._peers.values()):
                if peer.connection == PeerConnection.CONNECTED and peer.channel_open(peer.control):
                    peer.send_ping()
                    if now - peer.last_pong > opts.peer_timeout:
                        await self.drop_peer(
                            peer.user_id, f"no answer for {opts.peer_timeout:.0f} s"
                        )
                elif (
                    peer.connection != PeerConnection.CONNECTED
                    and now - peer.created > opts.connect_timeout
                ):
                    await self.drop_peer(peer.user_id, "could not connect (ICE/DTLS timeout)")
            if now >= next_stats:
                next_stats = now + opts.stats_interval
                stats = []
                for peer in list(self._peers.values()):
                    rtp = await peer.wire_stats()
                    st = peer.collect(rtp, time.monotonic())
                    stats.append(st)
                    if peer.connection == PeerConnection.CONNECTED:
                        peer.send_control(
                            wire.QualityFeedback(
                                loss=st.loss,
                                fps=st.fps_in,
                                latency_ms=st.latency_ms,
                                max_bitrate_kbps=peer.bitrate_request(st),
                            )
                        )
                self._notify(lambda s=stats: self.listener.on_stats(s))  # type: ignore[misc]
                self._adapt([p.remote_feedback for p in self._peers.values()])

    def _adapt(self, feedback: list[wire.QualityFeedback | None]) -> None:
        """Frame-rate control from the receivers' bitrate requests (data-channel mode; a video
        track has aiortc's own congestion control): the lowest request caps the frame rate at
        ``request / mean frame size``; without requests it climbs back by 25 % a second."""
        if not self.options.adapt_frame_rate or self.codec_transport != "datachannel":
            return
        requests = [f.max_bitrate_kbps for f in feedback if f is not None and f.max_bitrate_kbps]
        current = self.quality.max_fps
        if requests and self._frame_bytes:
            fps = min(requests) * 1000 / 8 / self._frame_bytes
            target = max(self.options.min_fps, min(current, fps))
        else:
            target = min(self._base_fps, current * 1.25 + 0.5)
        if abs(target - current) > 0.05:
            log.info("sending frame rate %.1f -> %.1f fps", current, target)
            self.quality = dataclasses.replace(self.quality, max_fps=target)

    # ==== helpers ==============================================================================

    def _call_soon(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(fn)

    def _set_state(self, state: CallState, message: str) -> None:
        if state == self._state and message == self._state_message:
            return
        self._state = state
        self._state_message = message
        self._notify(lambda: self.listener.on_state(state, message))

    def _notify(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("call listener failed")


def _seat(p: dict[str, Any]) -> int:
    seat = p.get("seat")
    return seat if isinstance(seat, int) else -1


def _decode_video_frame(frame: Any) -> DepthFrame | None:
    image = frame.to_ndarray(format="rgb24")
    return unpack_frame(image)


async def _drain(track: Any) -> None:
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
