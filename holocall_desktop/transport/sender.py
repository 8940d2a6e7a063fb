"""The sending half of the hologram: the newest captured frame, encoded, to everyone.

:class:`HologramSender` runs its loop on the engine's event loop; encoding runs in a one-thread
pool, one frame at a time. ``offer`` (any thread) puts a frame in a one-slot mailbox: while the
encoder is busy a newer frame replaces the waiting one, so a slow encoder drops frames instead
of building latency.

Data-channel codecs climb the quality ladder (:mod:`.ladder`) per receiver: each receiver's
:class:`~holocall_desktop.transport.ladder.RungChooser` picks a rung from the bandwidth estimate
of the path to it (:mod:`.congestion`); a frame is encoded once per distinct profile among the
receivers it is due for (a rung's frame rate is kept per receiver), so a receiver on a slow link
does not drag the others down. Nothing goes to a receiver before its ``hello``. A receiver on the
avatar rung, or one whose ``hello`` says it reads no volumetric fragments (the web client), gets
no hologram; the engine sends it our avatar frames instead
(:meth:`HologramSender.avatar_receivers`). The parity of each profile's frames follows the
worst fragment loss among its receivers (:meth:`CongestionControl.parity`). A video-track codec
has aiortc's own congestion control and sends one quality to everyone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.base import (
    VIDEOTRACK,
    CodecError,
    Encoder,
    Quality,
    VolumetricCodec,
)
from holocall_desktop.codec.volumetric import DEFAULT_PARITY
from holocall_desktop.model import DepthFrame, LatestMailbox
from holocall_desktop.transport.api import MediaMode, PeerStats
from holocall_desktop.transport.ladder import AVATAR, Ladder, RungChooser
from holocall_desktop.transport.peerstats import assess_network
from holocall_desktop.transport.tap import StreamTap
from holocall_desktop.transport.topology import HologramPath, Topology
from holocall_desktop.transport.tracks import VIDEO_CLOCK, packed_to_video_frame

log = logging.getLogger(__name__)

#: the encoders of the ladder's profiles never skip frames themselves: each receiver's rung
#: frame rate decides (a RateGate per receiver)
_NO_LIMIT_FPS = 1000.0


def _reads_holograms(capabilities: wire.Capability) -> bool:
    """Whether a receiver's hello says it reads volumetric fragments."""
    return bool(capabilities & wire.Capability.VOLUMETRIC_DC)


class RateGate:
    """Lets frames through at ``fps`` on average out of a faster stream (20 of 30: two of
    every three), by credit: each frame earns ``fps`` × the time since the last one, capped at
    1.5 frames (no burst after a pause), and one that finds a whole frame's credit (less 10 %
    for clock jitter) passes."""

    def __init__(self) -> None:
        self._last: float | None = None
        self._credit = 1.0

    def due(self, timestamp: float, fps: float) -> bool:
        if self._last is not None:
            self._credit = min(1.5, self._credit + max(0.0, timestamp - self._last) * fps)
        self._last = timestamp
        if self._credit < 0.9:
            return False
        self._credit = max(0.0, self._credit - 1.0)
        return True


@dataclasses.dataclass
class _Receiver:
    """What the sender keeps per receiver: its rung and its frame-rate gate."""

    chooser: RungChooser
    limiter: RateGate = dataclasses.field(default_factory=RateGate)


class HologramSender:
    def __init__(
        self,
        codec: type[VolumetricCodec[Any]],
        quality: Quality,
        adapt: bool = True,
        parity: float | None = None,
    ) -> None:
        self.quality = quality
        self.video = codec.transport == VIDEOTRACK
        self.adapt = adapt  # False: always the top rung (the quality given)
        self.ladder = Ladder(quality)
        self._codec = codec
        self._parity = parity
        self._encoders: dict[int, Encoder[Any]] = {}  # ladder profile -> its encoder
        self._video_encoder = codec.encoder(quality) if self.video else None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, "holocall-encode")
        self._outbox: LatestMailbox[tuple[DepthFrame, float]] = LatestMailbox()
        self._wake: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._t0 = time.time()
        self.frames_sent = 0
        self._receivers: weakref.WeakKeyDictionary[Any, _Receiver] = weakref.WeakKeyDictionary()
        #: who is on the avatar rung now (user ids; replaced on the loop, read from any thread)
        self._avatar_receivers: frozenset[str] = frozenset()
        self.tap: StreamTap | None = None  # our frames as sent, for a recording (as user_id)
        self.user_id = ""

    def offer(self, frame: DepthFrame, capture_time: float) -> None:
        """The newest captured frame (any thread); call :meth:`wake` on the loop after it."""
        self._outbox.put((frame, capture_time))

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self, current: Callable[[], Topology], sending: Callable[[], bool]) -> None:
        """Encode and send each offered frame while ``sending()`` (we send a hologram), through
        the ``current()`` topology (the room-state may replace the first one)."""
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            item = self._outbox.take()
            if item is None or not sending():
                continue
            frame, capture_time = item
            topology = current()
            try:
                if self.video:
                    if not topology.receivers(True):
                        continue
                    packed = await loop.run_in_executor(
                        self._pool, self._encode_video, frame, capture_time
                    )
                    if packed is not None:
                        self._count()
                        topology.send_hologram_frame([packed], True)
                else:
                    await self._send_rungs(loop, topology.hologram_paths(), frame, capture_time)
            except (CodecError, ValueError) as exc:
                log.warning("frame %d not sent: %s", frame.frame_number, exc)

    async def _send_rungs(
        self,
        loop: asyncio.AbstractEventLoop,
        paths: list[HologramPath],
        frame: DepthFrame,
        capture_time: float,
    ) -> None:
        now = time.monotonic()
        groups: dict[int, list[HologramPath]] = {}
        avatars: set[str] = set()
        for path in paths:
            state = self.receiver(path)
            before = state.chooser.rung
            index = state.chooser.update(path.congestion.target_kbps(), now) if self.adapt else 0
            rung = self.ladder.rungs[index]
            if not before.hologram and rung.hologram:
                path.congestion.probe(self.ladder.kbps(index) or 0.0)  # back to holograms
            if not path.capabilities:
                continue  # no hello yet: nothing until it says what it reads
            if rung.name == AVATAR or not _reads_holograms(path.capabilities):
                avatars.add(path.user_id)
                continue
            if rung.quality is None:
                continue  # avatar or voice only for this receiver
            if not state.limiter.due(capture_time, rung.quality.max_fps):
                continue
            groups.setdefault(rung.profile, []).append(path)
        self._avatar_receivers = frozenset(avatars)
        if not groups:
            return
        for profile, group in groups.items():
            encoder = self._profile_encoder(profile)
            if hasattr(encoder, "parity"):
                encoder.parity = self._parity_for(group)
        encoded = await loop.run_in_executor(
            self._pool, self._encode_profiles, frame, capture_time, sorted(groups)
        )
        self._count()
        if self.tap is not None:  # the best profile of this frame, for a recording
            self.tap.own_frame(self.user_id, encoded[min(encoded)])
        for profile, messages in encoded.items():
            self.ladder.frame_sent(profile, sum(len(m) for m in messages))
            for path in groups[profile]:
                path.send_fragments(messages)

    def _parity_for(self, group: list[HologramPath]) -> float:
        """The parity given (0 without loss protection), else the one the worst receiver's
        fragment loss asks for."""
        if self._parity is not None:
            return self._parity
        wanted = [p for p in (g.congestion.parity() for g in group) if p is not None]
        return max(wanted) if wanted else DEFAULT_PARITY

    def receiver(self, path: Any) -> _Receiver:
        """The rung state of one receiver (created on first use, gone with the path)."""
        state = self._receivers.get(path)
        if state is None:
            state = self._receivers[path] = _Receiver(RungChooser(self.ladder))
        return state

    def avatar_receivers(self) -> frozenset[str]:
        """The receivers (user ids) on the avatar rung: they get our avatar frames instead of
        the hologram (any thread)."""
        return self._avatar_receivers

    def avatar_targets(self, mode: MediaMode) -> frozenset[str] | None:
        """Who gets our avatar frames: everyone (None) in AVATAR mode; in VOLUMETRIC mode the
        receivers on the avatar rung; nobody with the camera off."""
        if mode is MediaMode.AVATAR:
            return None
        return self._avatar_receivers if mode is MediaMode.VOLUMETRIC else frozenset()

    def with_rung(self, st: PeerStats, paths: list[HologramPath]) -> PeerStats:
        """``st`` with the rung we send its participant, and how good the network to it is."""
        path = next((p for p in paths if p.user_id == st.user_id), None)
        rung = self.rung_of(path) if path is not None else None
        if rung is not None:
            st = dataclasses.replace(st, send_rung=rung[0], send_rung_kbps=rung[1])
        network, reason = assess_network(st)
        return dataclasses.replace(st, network=network, network_reason=reason)

    def rung_of(self, path: Any) -> tuple[str, float | None] | None:
        """The rung we send ``path`` and its expected bitrate (None before the first frame)."""
        state = self._receivers.get(path)
        if state is None:
            return None
        return state.chooser.rung.name, self.ladder.kbps(state.chooser.index)

    def _count(self) -> None:
        with self._lock:
            self.frames_sent += 1

    def _profile_encoder(self, profile: int) -> Encoder[Any]:
        encoder = self._encoders.get(profile)
        if encoder is None:
            rung = next(r for r in self.ladder.rungs if r.profile == profile)
            assert rung.quality is not None
            quality = dataclasses.replace(rung.quality, max_fps=_NO_LIMIT_FPS)
            encoder = self._encoders[profile] = self._codec.encoder(quality)
        return encoder

    def _encode_profiles(
        self, frame: DepthFrame, capture_time: float, profiles: list[int]
    ) -> dict[int, list[bytes]]:
        # the codec's timestamp field carries the wall-clock capture time (docs/protocol.md)
        stamped = dataclasses.replace(frame, timestamp=capture_time)
        return {p: list(self._profile_encoder(p).encode(stamped)) for p in profiles}

    def _encode_video(self, frame: DepthFrame, capture_time: float) -> Any:
        encoder = self._video_encoder
        assert encoder is not None
        stamped = dataclasses.replace(frame, timestamp=capture_time)
        encoder.quality = self.quality
        out = encoder.encode(stamped)
        if not out:
            return None  # skipped by the encoder's max_fps
        pts = max(0, int((capture_time - self._t0) * VIDEO_CLOCK))
        return packed_to_video_frame(out[0], pts)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
