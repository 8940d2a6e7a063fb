"""The call engine: signaling, a topology of aiortc peer connections, frames in and out.

One network thread runs one asyncio loop that owns every aiortc and aiohttp object. Other
threads talk to the engine only through its thread-safe methods (``send_frame``,
``send_avatar``, ``send_chat``, ``set_mode``, ``frame_drawn``, ``leave``, ``close``, and
``screen``'s) and read decoded frames from latest-frame-wins mailboxes. Encoding and decoding
run in thread pools, never on the loop: one encode at a time (a frame that arrives while the
encoder is busy replaces the waiting one), one decode at a time per peer (likewise). The
connections themselves belong to a :class:`~holocall_desktop.transport.topology.Topology` (the
mesh today), which reports back through
:class:`~holocall_desktop.transport.topology.TopologyEvents`. See ``docs/calls.md``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.avatar_frame import encode_avatar_frame
from holocall_desktop.codec.base import VIDEOTRACK, Quality
from holocall_desktop.codec.registry import get_codec
from holocall_desktop.model import DepthFrame, LatestMailbox
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.protocol.signaling import MessageType
from holocall_desktop.transport import ice, looplag, voice
from holocall_desktop.transport.api import (
    CallConfig,
    CallListener,
    CallState,
    CallSummary,
    ChatMessage,
    MediaMode,
    ParticipantInfo,
    RemoteAnchor,
    RemoteAvatar,
    RemoteFrame,
    RemoteScreen,
    RemoteVideo,
    ScreenInfo,
)
from holocall_desktop.transport.chat import chat_text
from holocall_desktop.transport.mesh import MeshTopology, drain
from holocall_desktop.transport.peer import LocalInfo
from holocall_desktop.transport.screen import ScreenShares
from holocall_desktop.transport.sender import HologramSender
from holocall_desktop.transport.sfu import SfuTopology
from holocall_desktop.transport.signaling import SignalingClient, SignalingError, client_tls
from holocall_desktop.transport.tap import StreamTap
from holocall_desktop.transport.topology import Topology

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
    #: climb the quality ladder per receiver from the bandwidth estimate (docs/calls.md,
    #: Adapting to the network); False sends the quality given to everyone, as before it
    adapt_quality: bool = True
    #: parity on the hologram fragments and retransmission for 150 ms (docs/codec.md,
    #: Fragments), and voice with Opus FEC and loss concealment (transport/voice.py; for the
    #: whole process); False sends as before them, only to measure the difference
    loss_protection: bool = True
    #: ask a sender for less when its frames cannot be decoded as fast as they come (the
    #: demo's simulated participant, which shares the user's process, does not)
    ask_for_less: bool = True


def _install(options: EngineOptions) -> None:
    """What aioice and aiortc get for the whole process: our host addresses, and voice with FEC
    and loss concealment (unless measuring without the loss protection)."""
    ice.install()
    if options.loss_protection:
        voice.use_resilient_voice()


class RemoteMedia:
    """Latest-wins mailboxes per participant (frames, avatars, anchors); any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: dict[str, LatestMailbox[RemoteFrame]] = {}
        self.avatars: dict[str, LatestMailbox[RemoteAvatar]] = {}
        self.anchors: dict[str, LatestMailbox[RemoteAnchor]] = {}
        self.videos: dict[str, LatestMailbox[RemoteVideo]] = {}  # plain camera pictures

    def frame(self, user_id: str) -> LatestMailbox[RemoteFrame]:
        with self._lock:
            return self.frames.setdefault(user_id, LatestMailbox())

    def avatar(self, user_id: str) -> LatestMailbox[RemoteAvatar]:
        with self._lock:
            return self.avatars.setdefault(user_id, LatestMailbox())

    def anchor(self, user_id: str) -> LatestMailbox[RemoteAnchor]:
        with self._lock:
            return self.anchors.setdefault(user_id, LatestMailbox())

    def video(self, user_id: str) -> LatestMailbox[RemoteVideo]:
        with self._lock:
            return self.videos.setdefault(user_id, LatestMailbox())


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
        self.options = options or EngineOptions()
        self.codec_transport: str = codec.transport
        self._sender = HologramSender(
            codec,
            quality or Quality(),
            self.options.adapt_quality,
            parity=None if self.options.loss_protection else 0.0,
        )
        self._local_audio = local_audio
        self._on_remote_audio = on_remote_audio
        self._local = LocalInfo(
            config.display_name, config.codec, protect_holograms=self.options.loss_protection
        )
        self._state = CallState.IDLE
        self._state_message = ""
        self._lock = threading.Lock()
        #: what arrived from each participant: ``remote.frame(user_id).take()``, …
        self.remote = RemoteMedia()
        self._participants: dict[str, ParticipantInfo] = {}
        self._seen: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._topology: Topology | None = None
        self._signaling: SignalingClient | None = None
        self._decode_pool = concurrent.futures.ThreadPoolExecutor(2, "holocall-decode")
        self._started_at: float | None = None
        self._join_time: float | None = None
        self._frames_received = 0
        self._leaving = False
        self._closed = False
        self._ready = threading.Event()
        self._frame_arrived = threading.Event()
        self._background: set[asyncio.Future[Any]] = set()
        self._chat_seq = itertools.count(1)
        self.tap = StreamTap()  # what arrives, undecoded, for a recorder (its sink)
        #: screen sharing: ours (``share``) and the others' pictures (``remote``)
        self.screen = ScreenShares(self._on_topology, self._sharing_changed)
        self._sender.tap, self._sender.user_id = self.tap, config.user_id

    # ==== thread-safe API ======================================================================

    def start(self) -> None:
        """Start the network thread (returns at once; progress arrives through the listener)."""
        if self._thread is not None:
            raise RuntimeError("the call engine was already started")
        _install(self.options)
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
    def quality(self) -> Quality:
        """The quality given: the ladder's top rung (PeerStats.send_rung: each receiver's)."""
        return self._sender.quality

    @property
    def mode(self) -> MediaMode:
        return self._local.mode

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
                frames_sent=self._sender.frames_sent,
                frames_received=self._frames_received,
            )

    @property
    def my_seat(self) -> int:
        """The seat the server gave this participant (``-1`` before ``room-state``)."""
        topology = self._topology
        return topology.my_seat if topology is not None else -1

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
        self._sender.offer(frame, capture_time)
        self._call_soon(self._sender.wake)

    def send_avatar(self, frame: AvatarFrame) -> None:
        """Send an avatar frame (type 0x41) on the hologram channel (any thread), to those
        ``HologramSender.avatar_targets`` names for our mode."""
        data = encode_avatar_frame(frame)

        def send(t: Topology) -> None:  # on the loop: after a set_mode made just before
            if (to := self._sender.avatar_targets(self._local.mode)) is None or to:
                t.send_hologram([data], to)

        self._on_topology(send)

    @property
    def wants_avatar(self) -> bool:
        """Someone is on the avatar rung: feed send_avatar too (any thread)."""
        return bool(self._sender.avatar_targets(self._local.mode))

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
        self._on_topology(lambda t: t.send_hologram([data]))

    def send_raw(self, channel: str, data: bytes | str, to: str | None = None) -> None:
        """Diagnostics and tests: send ``data`` as it is on the ``hologram`` or ``control``
        channel of every peer (or of ``to``), bypassing every encoder (any thread)."""
        if channel not in ("hologram", "control"):
            raise ValueError(f"no data channel {channel!r} (hologram or control)")
        self._on_topology(lambda t: t.send_raw(channel, data, to))

    def send_chat(self, text: str, to: str | None = None) -> ChatMessage:
        """Write ``text`` in the chat to everyone (or ``to``), in order (any thread); returns
        what was sent (``chat_text``: ``ValueError`` when nothing is left or it is too long)."""
        message = wire.Chat(next(self._chat_seq), time.time(), chat_text(text))
        self._on_topology(lambda t: t.send_chat(message, to))
        return ChatMessage(self.config.user_id, message.text, message.sent, message.seq)

    def set_mode(self, mode: MediaMode) -> None:
        """What this participant sends: VOLUMETRIC, AVATAR (fallback) or NONE (camera off).
        Peers are told with a mode-change message; frames are only sent in VOLUMETRIC."""
        self._call_soon(lambda: self._set_local(mode=mode))

    def set_consent(
        self, allow_audio_recording: bool, allow_hologram_recording: bool, recording: bool = False
    ) -> None:
        """Tell everyone which recordings of us we allow, and whether we are recording."""
        flags = wire.Consent.of(allow_audio_recording, allow_hologram_recording, recording)
        self._call_soon(lambda: self._set_local(consent=flags))

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
        topology = self._topology
        if topology is not None:
            topology.frame_drawn(remote.user_id, now, (now - remote.capture_time) * 1000.0)
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
        self._sender.close()
        self._decode_pool.shutdown(wait=False, cancel_futures=True)

    def _run_on_loop(self, make: Callable[[], Coroutine[Any, Any, None]], timeout: float) -> None:
        run_on_loop(self._loop, self._thread, make, timeout, self._background)

    # ==== TopologyEvents (loop thread) =========================================================

    def participant_changed(self, info: ParticipantInfo) -> None:
        with self._lock:
            self._participants[info.user_id] = info
            if info.user_id not in self._seen:
                self._seen.append(info.user_id)
        self._notify(lambda: self.listener.on_participant(info))

    def participant_left(self, user_id: str, reason: str) -> None:
        with self._lock:
            self._participants.pop(user_id, None)
        self._notify(lambda: self.listener.on_participant_left(user_id, reason))

    def frame_received(self, remote: RemoteFrame) -> None:
        with self._lock:
            self._frames_received += 1
        self.remote.frame(remote.user_id).put(remote)
        self._frame_arrived.set()

    def avatar_received(self, remote: RemoteAvatar) -> None:
        self.remote.avatar(remote.user_id).put(remote)

    def anchor_received(self, remote: RemoteAnchor) -> None:
        self.remote.anchor(remote.user_id).put(remote)

    def chat_received(self, message: ChatMessage) -> None:
        self._notify(lambda: self.listener.on_chat(message))

    def screen_received(self, screen: RemoteScreen) -> None:
        self.screen.received(screen)

    def video_received(self, video: RemoteVideo) -> None:
        self.remote.video(video.user_id).put(video)

    def audio_received(self, user_id: str, track: Any) -> None:
        if self._on_remote_audio is not None:
            try:
                self._on_remote_audio(user_id, track)
                return
            except Exception:
                log.exception("on_remote_audio failed")
        # nobody listens: drain it, or aiortc queues its frames without bound
        self._schedule(drain(track))

    # ==== SignalingHandler (loop thread) =======================================================

    def on_signal_state(self, state: CallState, message: str) -> None:
        if self._leaving and state != CallState.LEFT:
            return
        self._set_state(state, message)

    async def on_signal(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == MessageType.ERROR:
            log.info("signaling error: %s %s", msg.get("code"), msg.get("message"))
        await _follow_topology(self, msg)
        if self._topology is not None:
            await self._topology.handle(msg)

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
        self._ready.set()
        try:
            tls = client_tls(self.config.ca_file)
        except SignalingError as exc:
            self._set_state(CallState.FAILED, exc.message)
            return
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as session:
            signaling = SignalingClient(
                self.config, session, self, reconnect_timeout=self.options.reconnect_timeout
            )
            self._signaling = signaling
            self._topology = topology = _mesh(self, signaling)
            tasks = [
                asyncio.ensure_future(signaling.run()),
                asyncio.ensure_future(
                    self._sender.run(
                        lambda: self._topology or topology,
                        lambda: self._local.mode is MediaMode.VOLUMETRIC,
                    )
                ),
                asyncio.ensure_future(_stats_loop(self)),
                asyncio.ensure_future(looplag.watch()),  # our own stalls, for arrival reports
            ]
            stop = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait([tasks[0], stop], return_when=asyncio.FIRST_COMPLETED)
            if not self._stop.is_set() and self._state == CallState.FAILED:
                await (self._topology or topology).close("the call failed")
            elif not self._stop.is_set():
                await self._stop.wait()
            for task in [*tasks, stop]:
                task.cancel()
            await asyncio.gather(*tasks, stop, return_exceptions=True)
            await (self._topology or topology).close("closed")

    async def _leave(self, reason: wire.ByeReason) -> None:
        if self._leaving:
            return
        self._leaving = True
        self.screen.stop()
        if self._topology is not None:
            await self._topology.say_goodbye(reason)
        if self._signaling is not None:
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
                await asyncio.wait_for(self._signaling.leave(), 2.0)
        if self._topology is not None:
            await self._topology.close("you left")
        if self._state != CallState.FAILED:
            self._set_state(CallState.LEFT, "left the call")

    async def _shutdown(self, reason: wire.ByeReason) -> None:
        if self._state not in (CallState.FAILED, CallState.LEFT):
            await self._leave(reason)
        if self._stop is not None:
            self._stop.set()

    def _set_local(self, **changes: Any) -> None:
        self._local = dataclasses.replace(self._local, **changes)
        if self._topology is not None:
            self._topology.set_local(self._local)

    # ==== helpers ==============================================================================

    def _schedule(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _call_soon(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(fn)

    def _on_topology(self, fn: Callable[[Topology], None]) -> None:
        def run() -> None:
            if self._topology is not None:
                fn(self._topology)

        self._call_soon(run)

    def _set_state(self, state: CallState, message: str) -> None:
        if state == self._state and message == self._state_message:
            return
        self._state = state
        self._state_message = message
        self._notify(lambda: self.listener.on_state(state, message))

    def _sharing_changed(self, info: ScreenInfo | None, error: str | None) -> None:
        self._notify(lambda: self.listener.on_sharing(info, error))

    def _notify(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("call listener failed")


async def _stats_loop(engine: CallEngine) -> None:
    """Keep-alive every ping interval; everyone's stats to the listener every stats interval."""
    opts = engine.options
    next_stats = time.monotonic() + opts.stats_interval
    while True:
        await asyncio.sleep(opts.ping_interval)
        topology = engine._topology
        if topology is None:
            continue
        now = time.monotonic()
        await topology.keep_alive(now)
        if now >= next_stats:
            next_stats = now + opts.stats_interval
            paths = topology.hologram_paths()
            stats = [engine._sender.with_rung(s, paths) for s in await topology.collect_stats()]
            engine._notify(lambda s=stats: engine.listener.on_stats(s))  # type: ignore[misc]


async def _follow_topology(engine: CallEngine, msg: dict[str, Any]) -> None:
    """A room for more than a mesh calls through the SFU from the start (room-state
    ``topology``, docs/calls.md): the mesh made before the room-state gives way."""
    if msg.get("type") != MessageType.ROOM_STATE or msg.get("topology") != "sfu":
        return
    if engine._topology is None or isinstance(engine._topology, SfuTopology):
        return
    old, engine._topology = engine._topology, _sfu(engine, engine._signaling)
    await old.close("the call goes through the SFU")


def _sfu(engine: CallEngine, signaling: SignalingClient | None) -> Topology:
    """The topology of a group call through the SFU."""
    assert signaling is not None
    return SfuTopology(
        engine.config.user_id,
        engine._local,
        engine,
        signaling.send,
        lambda: signaling.ice_servers,
        engine._decode_pool,
        local_audio=engine._local_audio,
        peer_timeout=engine.options.peer_timeout,
        tap=engine.tap,
    )


def _mesh(engine: CallEngine, signaling: SignalingClient) -> Topology:
    """The topology of ``engine``'s call: a mesh of peer connections (the one we have)."""
    config, options = engine.config, engine.options
    return MeshTopology(
        config.user_id,
        engine._local,
        engine,
        signaling.send,
        lambda: signaling.ice_servers,
        engine._decode_pool,
        max_peers=config.max_peers,
        video=engine.codec_transport == VIDEOTRACK,
        local_audio=engine._local_audio,
        peer_timeout=options.peer_timeout,
        connect_timeout=options.connect_timeout,
        tap=engine.tap,
        ask_for_less=options.ask_for_less,
    )


def run_on_loop(
    loop: asyncio.AbstractEventLoop | None,
    thread: threading.Thread | None,
    make: Callable[[], Coroutine[Any, Any, None]],
    timeout: float,
    background: set[asyncio.Future[Any]],
) -> None:
    """Run ``make()`` on ``loop`` (owned by ``thread``); wait up to ``timeout`` s for it (or for
    the thread to end, whichever is first). The coroutine is created on the loop, so a loop that
    ends first leaves nothing un-awaited; its task is kept in ``background`` while it runs."""
    if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
        return
    done: concurrent.futures.Future[None] = concurrent.futures.Future()

    def begin() -> None:
        task = asyncio.ensure_future(make())
        background.add(task)
        task.add_done_callback(background.discard)
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
