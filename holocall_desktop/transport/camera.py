"""A peer's plain camera video (a browser's or a phone's webcam): pictures for a panel at its seat.

A participant's first video track is a hologram when its ``hello`` says it sends ``hue-video``.
Otherwise it is a plain camera picture: from a peer whose ``hello`` names another codec (the web
client says mode ``video``), or from one that never said ``hello`` (an app that speaks only
WebRTC) once :data:`NO_HELLO_S` have passed. Pictures are converted off the loop, at most
:data:`MAX_FPS` a second and at most :data:`LONGEST` pixels on their longest side; one converts
at a time (latest wins). Runs on the engine's event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from av import VideoFrame

log = logging.getLogger(__name__)

#: a peer that has not said ``hello`` this long after its connection was made is taken for a
#: plain WebRTC app: its video is a camera picture
NO_HELLO_S = 3.0
MAX_FPS = 15.0
LONGEST = 640


class VideoUse(enum.Enum):
    HOLOGRAM = "hologram"  # hue-video: decoded to depth
    CAMERA = "camera"  # a plain picture, shown on a panel
    DRAIN = "drain"  # not known yet (no hello yet): read and dropped


def video_use(codec: str | None, hello_seen: bool, created: float) -> VideoUse:
    """What a peer's first video track carries, from what its ``hello`` said (``created``: when
    its connection was made, ``time.monotonic()``)."""
    if codec == "hue-video":
        return VideoUse.HOLOGRAM
    if hello_seen or time.monotonic() - created > NO_HELLO_S:
        return VideoUse.CAMERA
    return VideoUse.DRAIN


def picture_size(width: int, height: int, longest: int = LONGEST) -> tuple[int, int]:
    """``width`` × ``height`` scaled to at most ``longest`` pixels on its longest side (even)."""
    scale = min(1.0, longest / max(width, height, 1))
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)


def to_picture(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    """The RGB picture of a received video frame, scaled down to :data:`LONGEST`."""
    width, height = picture_size(frame.width, frame.height)
    rgb = frame.reformat(width=width, height=height, format="rgb24")
    return np.asarray(rgb.to_ndarray(), dtype=np.uint8)


class CameraPictures:
    """Turns a peer's camera video frames into pictures for ``on_picture(image, received)``."""

    def __init__(
        self,
        user_id: str,
        pool: concurrent.futures.Executor,
        on_picture: Callable[[npt.NDArray[np.uint8], float], None],
    ) -> None:
        self.user_id = user_id
        self._pool = pool
        self._on_picture = on_picture
        self._busy = False
        self._next_due = 0.0
        self.pictures = 0  # pictures handed on
        self.bad = 0  # frames that could not be converted
        self._tasks: set[asyncio.Task[None]] = set()

    def push(self, frame: VideoFrame) -> None:
        """A video frame arrived (on the loop); dropped while one converts or when early."""
        now = time.monotonic()
        if self._busy or now < self._next_due:
            return
        self._busy = True
        self._next_due = now + 1.0 / MAX_FPS
        task = asyncio.ensure_future(self._convert(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _convert(self, frame: VideoFrame) -> None:
        loop = asyncio.get_running_loop()
        try:
            image = await loop.run_in_executor(self._pool, to_picture, frame)
        except Exception as exc:  # a frame PyAV cannot convert: counted, one line, never raised
            self.bad += 1
            if self.bad == 1:
                log.info("peer %s: camera picture dropped: %s", self.user_id, exc)
            return
        finally:
            self._busy = False
        if self.pictures == 0:
            log.info("peer %s: plain camera video, %dx%d", self.user_id, *image.shape[1::-1])
        self.pictures += 1
        self._on_picture(image, time.time())

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
