"""Screen sharing: a second video track to each peer, sized for the link to it.

The offerer adds a second video transceiver (after the hue-video one) for the screen; both sides
send on it only while they share, so sharing starts and stops without renegotiating. The
``screen`` message on ``control`` says what is shared (docs/protocol.md).

- :class:`ScreenLink` (one per peer): the track we send on, what the peer shares, and its
  pictures decoded to RGB off the event loop (latest wins).
- :class:`ScreenShares` (one per call): what the engine's callers use.
- :class:`ScreenSender` (one per call, while sharing): reads the :class:`ScreenSource` on its
  own thread at the source's rate, scales each picture once per size that receivers need, and
  offers each receiver its size at its rate (:data:`SCREEN_RUNGS`, from the bandwidth estimate of
  the link to it while that link shows a limit). VP8's bitrate follows aiortc's own estimate
  (REMB) within 250–1500 kbit/s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from holocall_desktop.codec import control as wire
from holocall_desktop.model import LatestMailbox
from holocall_desktop.transport.api import RemoteScreen, ScreenInfo
from holocall_desktop.transport.congestion import CongestionControl
from holocall_desktop.transport.tracks import VIDEO_CLOCK, VIDEO_TIME_BASE, HologramVideoTrack

log = logging.getLogger(__name__)

#: (the link's estimate at least, kbit/s; longest side in pixels; frames a second): the first
#: rung whose estimate the link reaches. A link that showed no limit lately gets the first one.
SCREEN_RUNGS = ((2500, 1280, 10), (1200, 960, 8), (600, 640, 5), (0, 480, 3))
#: a link whose estimate dropped within this many seconds is held to its estimate's rung
SCREEN_HOLD_S = 30.0


def screen_rung(estimate_kbps: float | None) -> tuple[int, int]:
    """Longest side and frame rate for a link of ``estimate_kbps`` (None: no limit seen)."""
    if estimate_kbps is None:
        return SCREEN_RUNGS[0][1:]
    for floor, side, fps in SCREEN_RUNGS:
        if estimate_kbps >= floor:
            return side, fps
    return SCREEN_RUNGS[-1][1:]


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``size`` scaled down (never up) so that its longest side is at most ``longest``; even
    sides (VP8 wants them) of at least 16 pixels."""
    w, h = size
    scale = min(1.0, longest / max(w, h, 1))
    return max(16, int(w * scale) & ~1), max(16, int(h * scale) & ~1)


def screen_info(state: wire.ScreenState) -> ScreenInfo | None:
    if not state.sharing:
        return None
    return ScreenInfo(state.width, state.height, state.fps, state.title)


def screen_state(info: ScreenInfo | None) -> wire.ScreenState:
    if info is None:
        return wire.SCREEN_STOPPED
    return wire.ScreenState(info.width, info.height, info.fps, info.title)


def _video_transceiver(pc: Any, index: int) -> Any:
    videos = [t for t in pc.getTransceivers() if t.kind == "video"]
    return videos[index] if len(videos) > index else None


class ScreenLink:
    """The screen track to and from one peer (on the event loop)."""

    def __init__(
        self,
        user_id: str,
        send_control: Callable[[wire.ControlMessage], None],
        on_change: Callable[[], None],
        on_picture: Callable[[npt.NDArray[np.uint8], float], None],
        pool: concurrent.futures.Executor,
    ) -> None:
        self.user_id = user_id
        self._send_control = send_control
        self._on_change = on_change
        self._on_picture = on_picture
        self._pool = pool
        self.track = HologramVideoTrack()  # latest wins; idle until we share
        self.transceiver: Any = None
        self.reads_screens = False  # the peer's hello has capability bit 8
        self.local: ScreenInfo | None = None  # what we share
        self.remote: ScreenInfo | None = None  # what the peer shares
        self.next_due = 0.0  # the sender's pacing of this link (monotonic time)
        self._converting = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ready(self) -> bool:
        """We can share to this peer: it has the screen track and reads ``screen``."""
        return self.transceiver is not None and self.reads_screens

    def add_transceiver(self, pc: Any, offerer: bool) -> None:
        """The offerer adds the screen transceiver (call after the hue-video one); the answerer
        sends on the offer's second video transceiver, if it has one."""
        if offerer:
            self.transceiver = pc.addTransceiver(self.track, direction="sendrecv")
            return
        transceiver = _video_transceiver(pc, 1)
        if transceiver is not None:
            transceiver.sender.replaceTrack(self.track)
            transceiver.direction = "sendrecv"
            self.transceiver = transceiver

    def claims(self, pc: Any, track: Any) -> bool:
        """Whether a remote video track is the peer's screen (then it is read here)."""
        transceiver = _video_transceiver(pc, 1)
        if transceiver is None or transceiver.receiver.track is not track:
            return False
        self._tasks.append(asyncio.ensure_future(self._read(track)))
        return True

    def hello(self, capabilities: wire.Capability) -> None:
        self.reads_screens = bool(capabilities & wire.Capability.SCREEN)
        if self.ready and self.local is not None:
            self._send_control(screen_state(self.local))

    def tell(self, info: ScreenInfo | None) -> None:
        """We started or stopped sharing, or the picture changed size."""
        if info == self.local:
            return
        self.local = info
        if self.ready:
            self._send_control(screen_state(info))

    def on_message(self, state: wire.ScreenState) -> None:
        info = screen_info(state)
        if info != self.remote:
            self.remote = info
            self._on_change()

    def push(self, frame: VideoFrame) -> None:
        if self.ready:
            self.track.push(frame)

    async def _read(self, track: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.remote is None or self._converting:
                continue  # not shared now (a last frame after a stop), or still busy: skip
            self._converting = True
            try:
                image = await loop.run_in_executor(self._pool, _to_rgb, frame)
            except Exception as exc:  # a frame PyAV cannot convert: counted, never raised
                log.info("peer %s: screen picture dropped: %s", self.user_id, exc)
                continue
            finally:
                self._converting = False
            if self.remote is not None:
                self._on_picture(image, time.time())

    def close(self) -> None:
        self.track.stop()
        for task in self._tasks:
            task.cancel()


def _to_rgb(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


class ScreenSource(Protocol):
    """What is shared (``capture/screen.py`` has a monitor and a video file)."""

    @property
    def title(self) -> str:
        """What is shared, as the others see it ("Screen 1", a file's name)."""

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the pictures read."""

    @property
    def fps(self) -> float:
        """How often to read."""

    def read(self) -> VideoFrame:
        """The picture to show now (blocking briefly); raises, with a one-line reason, when
        there is none."""

    def close(self) -> None: ...


class ScreenPath(Protocol):
    """A receiver of our shared screen."""

    @property
    def congestion(self) -> CongestionControl: ...

    @property
    def screen(self) -> ScreenLink: ...


class ScreenSender:
    """Shares one :class:`ScreenSource` with every ready path until :meth:`stop` (see the module
    doc). Its methods, ``paths`` and ``on_error`` run on the loop; the source is read, and
    closed, on the sender's thread."""

    def __init__(
        self,
        source: ScreenSource,
        loop: asyncio.AbstractEventLoop,
        paths: Callable[[], list[ScreenPath]],
        on_error: Callable[[str], None],
    ) -> None:
        self.source = source
        self._loop = loop
        self._paths = paths
        self._on_error = on_error
        longest, fps = SCREEN_RUNGS[0][1:]
        self.fps = max(1, min(fps, round(source.fps)))
        width, height = fit(source.size, longest)
        self.info = ScreenInfo(width, height, self.fps, source.title)
        self._sizes: dict[str, tuple[tuple[int, int], int]] = {}  # per path: size, fps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="holocall-screen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and tell every receiver that sharing stopped."""
        self._stop.set()
        for path in self._paths():
            path.screen.tell(None)

    def _run(self) -> None:
        try:
            self._share()
        finally:
            self.source.close()

    def _share(self) -> None:
        interval = 1.0 / self.fps
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            try:
                picture = self.source.read()
                wanted = set(self._sizes.values()) or {((self.info.width, self.info.height), 1)}
                scaled = {
                    size: picture.reformat(width=size[0], height=size[1], format="yuv420p")
                    for size, _fps in wanted
                }
            except Exception as exc:  # the source's one-line reason (or whatever else broke)
                self._loop.call_soon_threadsafe(self._on_error, str(exc) or type(exc).__name__)
                return
            pts = int(time.monotonic() * VIDEO_CLOCK)
            for frame in scaled.values():
                frame.pts = pts
                frame.time_base = VIDEO_TIME_BASE
            try:
                self._loop.call_soon_threadsafe(self._deliver, scaled)
            except RuntimeError:
                return  # the loop is closed: the call is over
            n += 1
            self._stop.wait(max(0.0, start + n * interval - time.monotonic()))

    def _deliver(self, scaled: dict[tuple[int, int], VideoFrame]) -> None:
        if self._stop.is_set():
            return
        now = time.monotonic()
        sizes: dict[str, tuple[tuple[int, int], int]] = {}
        for path in self._paths():
            link = path.screen
            if not link.ready:
                continue
            link.tell(self.info)
            longest, fps = screen_rung(path.congestion.limited_kbps(now, SCREEN_HOLD_S))
            size = fit((self.info.width, self.info.height), longest)
            fps = min(fps, self.fps)
            sizes[link.user_id] = (size, fps)
            frame = scaled.get(size)
            if frame is not None and now >= link.next_due:
                link.push(frame)
                # half a picture of ours early is on time: this rate, on our clock's steps
                link.next_due = now + 1.0 / fps - 0.5 / self.fps
        self._sizes = sizes  # the sizes the next picture is made in


class _Topology(Protocol):
    def screen_paths(self) -> list[ScreenPath]: ...


#: called on the loop: our share started (its info), stopped (None), or failed (the reason)
SharingChanged = Callable[[ScreenInfo | None, str | None], None]


class ScreenShares:
    """A call's screen sharing, for the engine's callers (any thread): :meth:`share` one source
    at a time (or stop), :attr:`info` of what we share, and :meth:`remote`, the latest picture
    of each participant's share. ``on_topology`` runs a function on the loop with the call's
    topology (it does not run when there is none)."""

    def __init__(
        self,
        on_topology: Callable[[Callable[[_Topology], None]], None],
        on_change: SharingChanged,
    ) -> None:
        self._on_topology = on_topology
        self._on_change = on_change
        self._sender: ScreenSender | None = None
        self._lock = threading.Lock()
        self._pictures: dict[str, LatestMailbox[RemoteScreen]] = {}

    @property
    def info(self) -> ScreenInfo | None:
        sender = self._sender
        return None if sender is None else sender.info

    def share(self, source: ScreenSource | None) -> None:
        """Share ``source`` with everyone, in place of what we shared; None stops."""

        def start(topology: _Topology) -> None:
            self.stop()
            if source is None:
                return
            sender = ScreenSender(
                source,
                asyncio.get_running_loop(),
                topology.screen_paths,
                lambda reason: self._failed(sender, reason),
            )
            self._sender = sender
            sender.start()
            self._on_change(sender.info, None)

        self._on_topology(start)

    def stop(self, error: str | None = None) -> None:
        """Stop sharing (on the loop)."""
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.stop()
            self._on_change(None, error)

    def _failed(self, sender: ScreenSender, reason: str) -> None:
        if sender is self._sender:
            log.warning("screen share stopped: %s", reason)
            self.stop(reason)

    def remote(self, user_id: str) -> LatestMailbox[RemoteScreen]:
        with self._lock:
            return self._pictures.setdefault(user_id, LatestMailbox())

    def received(self, picture: RemoteScreen) -> None:
        self.remote(picture.user_id).put(picture)
