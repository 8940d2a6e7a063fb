"""What arrives from one remote participant's hologram: data-channel messages and video frames.

Runs on the engine's event loop. Fragments are reassembled by the codec registry's decoder of
the path they came by (``assemble``, cheap, on the loop); whole frames are decoded in a thread
pool (``decode_whole``), one at a time per peer: while one decodes, only the newest waits (latest
wins, counted in ``frames_dropped``). Results are reported upward through :class:`ReceiverEvents`;
nothing here knows the peer connection or the engine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.avatar_frame import AvatarFrameError, decode_avatar_frame
from holocall_desktop.codec.base import DATACHANNEL, VIDEOTRACK, CodecError, Decoder
from holocall_desktop.codec.fragment import parse_header
from holocall_desktop.codec.registry import decoder_for_transport
from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.transport.api import RemoteAnchor
from holocall_desktop.transport.camera import VideoUse
from holocall_desktop.transport.peerstats import PeerMetrics
from holocall_desktop.transport.tracks import video_frame_to_rgb

log = logging.getLogger(__name__)


class ReceiverEvents(Protocol):
    def frame_decoded(self, frame: DepthFrame, received: float) -> None: ...

    def avatar_received(self, frame: AvatarFrame, received: float) -> None: ...

    def anchor_received(self, anchor: RemoteAnchor) -> None: ...


class HologramReceiver:
    def __init__(
        self,
        user_id: str,
        metrics: PeerMetrics,
        pool: concurrent.futures.Executor,
        events: ReceiverEvents,
    ) -> None:
        self.user_id = user_id
        self.metrics = metrics
        self.events = events
        self._pool = pool
        self._decoders: dict[str, Decoder[Any]] = {}
        self._decoding = False
        self._pending: tuple[Callable[[], DepthFrame], float] | None = None
        self._last_frame_id: int | None = None
        self.tasks: list[asyncio.Future[Any]] = []
        self.closed = False
        #: (kind, undecoded message) for the recording tap: "hologram" payloads, "avatar" frames
        self.tap: Callable[[str, bytes], None] = lambda _kind, _data: None
        #: what the peer's video track is (``transport/camera.py``): a hologram (its hello says
        #: hue-video), decoded here; a camera picture (a browser's webcam), handed to
        #: ``camera``; or not known yet, drained
        self.video_use: Callable[[], VideoUse] = lambda: VideoUse.HOLOGRAM
        self.camera: Callable[[VideoFrame], None] = lambda _frame: None
        self.video_unused = 0  # video frames drained before we knew what they are

    def _decoder(self, transport: str) -> Decoder[Any]:
        decoder = self._decoders.get(transport)
        if decoder is None:
            decoder = self._decoders[transport] = decoder_for_transport(transport)
        return decoder

    def bad(self, reason: str) -> None:
        m = self.metrics
        m.frames_bad += 1
        if m.frames_bad <= 5 or m.frames_bad % 100 == 0:
            log.info(
                "peer %s: rejected message (%d so far): %s", self.user_id, m.frames_bad, reason
            )

    def close(self) -> None:
        self.closed = True
        for task in self.tasks:
            task.cancel()

    # ---- the hologram data channel ---------------------------------------------------------

    def on_message(self, message: Any) -> None:
        if self.closed:
            return
        if not isinstance(message, bytes):
            self.bad("text message on the hologram channel")
            return
        self.metrics.bytes_in += len(message)
        try:
            kind = wire.message_type(message)
            if kind == wire.TYPE_VOLUMETRIC:
                self._on_fragment(message)
            elif kind == wire.TYPE_AVATAR:
                self.events.avatar_received(decode_avatar_frame(message), time.time())
                self.tap("avatar", message)
            elif kind == wire.TYPE_ANCHOR:
                a = wire.decode_anchor(message)
                self.events.anchor_received(
                    RemoteAnchor(
                        self.user_id,
                        a.participant_id,
                        a.position,
                        a.rotation,
                        a.cloud_anchor_id,
                        time.time(),
                    )
                )
            else:
                raise CodecError(f"unknown hologram message type {kind:#04x}")
        except (CodecError, AvatarFrameError) as exc:
            self.bad(str(exc))

    def _on_fragment(self, message: bytes) -> None:
        fid = parse_header(message)[0]
        m = self.metrics
        if self._last_frame_id is None:
            self._last_frame_id = (fid - 1) & 0xFFFFFFFF
        ahead = (fid - self._last_frame_id) & 0xFFFFFFFF
        if 0 < ahead < 1024:
            m.ids_seen += ahead
            self._last_frame_id = fid
        elif ahead >= 0x80000000 and (self._last_frame_id - fid) & 0xFFFFFFFF > 1024:
            self._last_frame_id = fid  # the sender restarted
        decoder = self._decoder(DATACHANNEL)
        whole = decoder.assemble(message)
        m.ids_pending = decoder.pending
        m.arrivals.fragment(fid, len(message), time.monotonic(), whole is not None)
        if whole is None:
            return
        m.ids_done += 1
        self.tap("hologram", whole)
        self._submit(lambda: decoder.decode_whole(whole))

    # ---- a video track (hue-video, or a camera picture) --------------------------------------

    def watch_video(self, track: Any) -> None:
        self.tasks.append(asyncio.ensure_future(self._video_loop(track)))

    async def _video_loop(self, track: Any) -> None:
        decoder = self._decoder(VIDEOTRACK)
        while not self.closed:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            use = self.video_use()
            if use is VideoUse.CAMERA:
                self.camera(frame)
                continue
            if use is VideoUse.DRAIN:
                self.video_unused += 1
                continue
            self._submit(functools.partial(_decode_video, decoder, frame))

    # ---- decoding, latest wins ---------------------------------------------------------------

    def _submit(self, job: Callable[[], DepthFrame]) -> None:
        now = time.time()
        if self._decoding:
            if self._pending is not None:
                self.metrics.frames_dropped += 1
            self._pending = (job, now)
            return
        self._decoding = True
        self.tasks.append(asyncio.ensure_future(self._decode(job, now)))
        if len(self.tasks) > 32:
            self.tasks = [t for t in self.tasks if not t.done()]

    async def _decode(self, job: Callable[[], DepthFrame], received: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.closed:
                try:
                    frame = await loop.run_in_executor(self._pool, job)
                except CodecError as exc:
                    self.bad(str(exc))
                except Exception as exc:  # not ours to raise out of a task: counted, logged
                    self.bad(f"undecodable ({type(exc).__name__}: {exc})")
                else:
                    self.metrics.frames_in += 1
                    self.metrics.frame_times.append(time.monotonic())
                    self.events.frame_decoded(frame, received)
                if self._pending is None:
                    return
                job, received = self._pending
                self._pending = None
        finally:
            self._decoding = False


def _decode_video(decoder: Decoder[Any], frame: Any) -> DepthFrame:
    return decoder.decode_whole(video_frame_to_rgb(frame))
