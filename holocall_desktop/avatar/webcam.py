"""Feed a webcam (or any OpenCV ``VideoCapture`` source, e.g. a video file) into face tracking.

A reader thread grabs frames with OpenCV, converts BGR → RGB and hands them to a sink such as
``FaceTrackingWorker.submit`` (which never blocks, so the camera is never throttled by
inference). Timestamps are ``time.monotonic()`` at grab for live cameras and the container's
presentation time for files, so they increase as MediaPipe's VIDEO mode needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

FrameSink = Callable[[npt.NDArray[np.uint8], float], None]


class CameraUnavailableError(RuntimeError):
    """The camera (or file) cannot be opened or stopped delivering frames."""


class WebcamFeeder:
    """Reads ``source`` (camera index or file path) on a thread, passes RGB frames to ``sink``."""

    def __init__(
        self,
        source: int | str,
        sink: FrameSink,
        *,
        width: int | None = None,
        height: int | None = None,
        realtime_file: bool = False,
    ) -> None:
        import cv2

        self.source = source
        self._sink = sink
        self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            raise CameraUnavailableError(f"cannot open video source {source!r}")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._is_file = isinstance(source, str)
        self._fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._realtime_file = realtime_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webcam-feeder", daemon=True)
        self.frames = 0
        self.finished = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> WebcamFeeder:
        self._thread.start()
        return self

    def _run(self) -> None:
        import cv2

        t_start = time.monotonic()
        try:
            while not self._stop.is_set():
                ok, bgr = self._cap.read()
                if not ok:
                    if not self._is_file:
                        raise CameraUnavailableError(f"video source {self.source!r} stopped")
                    break
                if self._is_file:
                    ts = self.frames / self._fps if self._fps > 0 else self.frames / 30.0
                    if self._realtime_file:
                        delay = t_start + ts - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                else:
                    ts = time.monotonic()
                rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
                self._sink(rgb, ts)
                self.frames += 1
        except BaseException as exc:
            self.error = exc
            log.warning("webcam feeder stopped: %s", exc)
        finally:
            self._cap.release()
            self.finished.set()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        elif not self._thread.ident:  # never started
            self._cap.release()
