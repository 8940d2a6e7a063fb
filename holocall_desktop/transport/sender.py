"""The sending half of the hologram: the newest captured frame, encoded, to everyone.

:class:`HologramSender` runs its loop on the engine's event loop; encoding runs in a one-thread
pool, one frame at a time. ``offer`` (any thread) puts a frame in a one-slot mailbox: while the
encoder is busy a newer frame replaces the waiting one, so a slow encoder drops frames instead
of building latency. Its :class:`~holocall_desktop.transport.rate.FrameRateControl` lowers the
frame rate when receivers ask for less (data-channel codecs).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from holocall_desktop.codec.base import VIDEOTRACK, CodecError, Quality, VolumetricCodec
from holocall_desktop.codec.control import QualityFeedback
from holocall_desktop.model import DepthFrame, LatestMailbox
from holocall_desktop.transport.rate import FrameRateControl
from holocall_desktop.transport.topology import Topology
from holocall_desktop.transport.tracks import VIDEO_CLOCK, packed_to_video_frame

log = logging.getLogger(__name__)


class HologramSender:
    def __init__(
        self,
        codec: type[VolumetricCodec[Any]],
        quality: Quality,
        adapt_frame_rate: bool = True,
        min_fps: float = 5.0,
        parity: float | None = None,
    ) -> None:
        self.quality = quality
        self.video = codec.transport == VIDEOTRACK
        self._encoder = codec.encoder(quality)
        if parity is not None and hasattr(self._encoder, "parity"):
            self._encoder.parity = parity  # the fragments' parity (None: the codec's default)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, "holocall-encode")
        self._outbox: LatestMailbox[tuple[DepthFrame, float]] = LatestMailbox()
        self._wake: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._t0 = time.time()
        self.frames_sent = 0
        self.rate = FrameRateControl(quality.max_fps, min_fps, adapt_frame_rate and not self.video)

    def offer(self, frame: DepthFrame, capture_time: float) -> None:
        """The newest captured frame (any thread); call :meth:`wake` on the loop after it."""
        self._outbox.put((frame, capture_time))

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self, topology: Topology, sending: Callable[[], bool]) -> None:
        """Encode and send each offered frame while ``sending()`` (we send a hologram)."""
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            item = self._outbox.take()
            if item is None or not sending() or not topology.receivers(self.video):
                continue
            frame, capture_time = item
            try:
                payloads = await loop.run_in_executor(self._pool, self._encode, frame, capture_time)
            except (CodecError, ValueError) as exc:
                log.warning("frame %d not sent: %s", frame.frame_number, exc)
                continue
            if not payloads:
                continue  # skipped by the encoder's max_fps
            if not self.video:
                self.rate.frame_sent(sum(len(p) for p in payloads))
            with self._lock:
                self.frames_sent += 1
            topology.send_hologram_frame(payloads, self.video)

    def _encode(self, frame: DepthFrame, capture_time: float) -> list[Any]:
        # the codec's timestamp field carries the wall-clock capture time (docs/protocol.md)
        stamped = dataclasses.replace(frame, timestamp=capture_time)
        self._encoder.quality = self.quality
        out = self._encoder.encode(stamped)
        if self.video and out:
            pts = max(0, int((capture_time - self._t0) * VIDEO_CLOCK))
            return [packed_to_video_frame(out[0], pts)]
        return list(out)

    def adapt(self, feedback: list[QualityFeedback | None]) -> None:
        """Once a stats interval: the frame rate from what the receivers said."""
        fps = self.rate.update(feedback)
        if fps != self.quality.max_fps:
            self.quality = dataclasses.replace(self.quality, max_fps=fps)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
