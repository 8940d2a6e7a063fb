"""A webcam (or a video file) as a FrameSource: colour only, no depth.

Without a depth camera a participant appears as an avatar driven by face tracking on colour
images. This source hands those images out in the same :class:`DepthFrame` as every other
source, with every depth pixel 0 ("no measurement"), so the rest of the app treats it uniformly:
the hologram draws nothing, and the call switches to avatar mode because ``has_depth`` is False.

Intrinsics are not known for a webcam; a 60° horizontal field of view is assumed (only the
hologram path would use them, and it has no depth to draw).
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from holocall_desktop.capture.base import DeviceDisconnectedError, SourceError
from holocall_desktop.model import DepthFrame, Intrinsics

ASSUMED_HFOV_DEG = 60.0


def webcam_intrinsics(width: int, height: int) -> Intrinsics:
    fx = width / (2.0 * math.tan(math.radians(ASSUMED_HFOV_DEG) / 2.0))
    return Intrinsics(width, height, fx, fx, (width - 1) / 2.0, (height - 1) / 2.0)


class WebcamSource:
    """``device``: an OpenCV camera index, or a video file path (played at its own frame rate,
    looping when ``loop``)."""

    has_depth = False

    def __init__(self, device: int | str = 0, realtime: bool = True, loop: bool = True) -> None:
        self.device = device
        self.realtime = realtime
        self.loop = loop
        self._cap: Any = None
        self._fps = 30.0
        self._count = 0
        self._t0 = 0.0
        self._intr: Intrinsics | None = None
        self._zeros: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        what = f"camera {self.device}" if isinstance(self.device, int) else str(self.device)
        return f"Webcam ({what})"

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def finished(self) -> bool:
        return False

    def start(self) -> None:
        import cv2

        if isinstance(self.device, str):
            path = Path(self.device)
            if not path.exists():
                raise SourceError(f"{self.name}: video file not found")
            if not path.is_file():
                raise SourceError(f"{self.name}: is not a file")
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened() or (isinstance(self.device, str) and not cap.grab()):
            cap.release()
            if isinstance(self.device, str):
                raise SourceError(f"{self.name}: cannot be decoded (not a video OpenCV can read)")
            raise SourceError(f"{self.name}: cannot be opened (not connected, or in use)")
        if isinstance(self.device, str):  # grab() above took the first frame: start over
            cap.release()
            cap = cv2.VideoCapture(self.device)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._cap = cap
        self._count = 0
        self._t0 = time.monotonic()

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        import cv2

        with self._lock:
            cap = self._cap
            if cap is None:
                raise SourceError(f"{self.name}: read() before start() or after stop()")
            if self.realtime and isinstance(self.device, str):
                due = self._t0 + self._count / self._fps
                wait = due - time.monotonic()
                if wait > timeout:
                    time.sleep(timeout)
                    return None
                if wait > 0:
                    time.sleep(wait)
            ok, bgr = cap.read()
            if not ok and isinstance(self.device, str) and self.loop:
                # open the file again rather than seek: seeking to frame 0 lands on a later
                # key frame in some formats (MPEG-1 with a GOP)
                cap.release()
                cap = self._cap = cv2.VideoCapture(self.device)
                ok, bgr = cap.read()
            if not ok or bgr is None:
                if isinstance(self.device, int):
                    raise DeviceDisconnectedError(f"{self.name} stopped delivering images")
                raise SourceError(f"{self.name}: no more frames")
            rgb = np.ascontiguousarray(bgr[..., ::-1])
            h, w = rgb.shape[:2]
            if self._intr is None or (self._intr.width, self._intr.height) != (w, h):
                self._intr = webcam_intrinsics(w, h)
                self._zeros = np.zeros((h, w), np.uint16)
            assert self._zeros is not None
            n = self._count
            self._count += 1
            return DepthFrame(
                depth=self._zeros,
                depth_units=0.001,
                depth_intrinsics=self._intr,
                timestamp=n / self._fps,
                frame_number=n,
                color=rgb,
                color_intrinsics=self._intr,
            )

    def stop(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None


def parse_webcam_spec(spec: str) -> int | str:
    """``webcam`` → 0, ``webcam:N`` → camera N, ``webcam:PATH`` → a video file."""
    _, _, rest = spec.partition(":")
    rest = rest.strip()
    if not rest:
        return 0
    if rest.isdigit():
        return int(rest)
    return rest
