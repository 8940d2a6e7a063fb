"""Face tracking: RGB frames → ``AvatarFrame`` (52 ARKit blendshapes + head pose), off the GUI.

``FaceTracker`` wraps MediaPipe's FaceLandmarker (Tasks API, VIDEO running mode: it tracks the
face from frame to frame instead of re-detecting it, and needs strictly increasing timestamps,
which it enforces). It is synchronous; ``FaceTrackingWorker`` runs it on its own thread behind a
latest-frame-wins ``LatestMailbox`` so a slow inference drops stale camera frames instead of
queueing them. Frames come from anything that has RGB images: a webcam (``avatar.webcam``), or
the colour stream of a depth source (``submit_depth_frame``).

Blendshapes. MediaPipe's blendshape model outputs 52 categories: ``_neutral`` followed by 51
ARKit shapes. ARKit has 52 shapes; the one MediaPipe lacks is ``tongueOut``. We map by *name*
(not by position) into ``ARKIT_BLENDSHAPES`` — MediaPipe's order without ``_neutral``, with
``tongueOut`` last — drop ``_neutral`` and report ``tongueOut`` as 0.

Head pose. With ``output_facial_transformation_matrixes`` MediaPipe fits its canonical face
model (centimetres) to the landmarks and returns the 4x4 model → camera transform, in a
right-handed camera frame with x right, y up and z towards the viewer (a face in front of the
camera has z < 0). We take the rotation (orthonormalised) as a unit quaternion (x, y, z, w) and
the translation in metres. Identity rotation means "facing the camera". A perspective camera
with MediaPipe's default 63° vertical field of view is assumed, so absolute distance is only
approximate; rotation does not depend on it.

Smoothing: One-Euro filters on blendshapes, position and rotation (``SmoothingConfig``). Face
lost: after ``lost_after`` consecutive frames without a face the state becomes ``LOST`` and no
frame is reported; until then the last good frame is held (``HOLDING``).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from holocall_desktop.avatar.hands import HandTracker
from holocall_desktop.avatar.model_files import find_face_model
from holocall_desktop.avatar.smoothing import OneEuroFilter, OneEuroParams, QuaternionOneEuroFilter
from holocall_desktop.model.avatar import (
    ARKIT_BLENDSHAPES,
    BLENDSHAPE_INDEX,
    NUM_BLENDSHAPES,
    AvatarFrame,
    matrix_to_quaternion,
)
from holocall_desktop.model.frames import DepthFrame
from holocall_desktop.model.mailbox import LatestMailbox

log = logging.getLogger(__name__)

MEDIAPIPE_NEUTRAL = "_neutral"


class TrackingState(enum.Enum):
    SEARCHING = "searching"  # no face seen yet (or since the last reset)
    TRACKING = "tracking"  # a face in this frame
    HOLDING = "holding"  # no face for fewer than ``lost_after`` frames: last frame held
    LOST = "lost"  # no face for ``lost_after`` frames or more


@dataclass(frozen=True)
class SmoothingConfig:
    """One-Euro parameters per channel (see ``avatar.smoothing``)."""

    blendshapes: OneEuroParams = field(
        default_factory=lambda: OneEuroParams(min_cutoff=3.0, beta=2.0)
    )
    position: OneEuroParams = field(default_factory=lambda: OneEuroParams(min_cutoff=1.0, beta=4.0))
    rotation: OneEuroParams = field(default_factory=lambda: OneEuroParams(min_cutoff=1.5, beta=3.0))


@dataclass(frozen=True)
class TrackResult:
    """What one camera frame gave.

    - ``frame``: the smoothed avatar frame to show/send; the held one while ``HOLDING``;
      ``None`` while ``SEARCHING`` or ``LOST``.
    - ``raw``: this image's unsmoothed estimate, ``None`` if no face was found in it.
    - ``missed``: consecutive frames without a face.
    - ``inference_s``: wall time of the MediaPipe call.
    """

    timestamp: float
    state: TrackingState
    frame: AvatarFrame | None
    raw: AvatarFrame | None
    missed: int
    inference_s: float

    @property
    def face_lost(self) -> bool:
        return self.state is TrackingState.LOST


def blendshapes_from_mediapipe(categories: Any) -> npt.NDArray[np.float32]:
    """52 ARKit scores from MediaPipe's category list (matched by name, ``_neutral`` dropped)."""
    out = np.zeros(NUM_BLENDSHAPES, dtype=np.float32)
    for cat in categories:
        name = cat.category_name
        if name == MEDIAPIPE_NEUTRAL:
            continue
        idx = BLENDSHAPE_INDEX.get(name)
        if idx is None:
            log.debug("ignoring unknown MediaPipe blendshape %r", name)
            continue
        out[idx] = cat.score
    return np.clip(out, 0.0, 1.0)


def pose_from_matrix(
    matrix: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(position in metres, unit quaternion xyzw) of MediaPipe's facial transformation matrix."""
    m = np.asarray(matrix, dtype=np.float64).reshape(4, 4)
    return m[:3, 3] / 100.0, matrix_to_quaternion(m[:3, :3])


#: images smaller than this on a side are treated as "no face" without running the model
MIN_SIDE = 16


def _as_rgb(image: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {arr.dtype} {arr.shape}")
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


class FaceTracker:
    """MediaPipe FaceLandmarker in VIDEO mode + smoothing + face-lost state.

    ``max_side``: downscale frames whose longer side exceeds it before inference (cheaper
    pre-processing; the pose does not depend on resolution, landmark detail does). ``lost_after``:
    frames without a face before the state becomes ``LOST``. Not thread-safe: use one tracker
    per thread (``FaceTrackingWorker`` does).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        smooth: bool = True,
        smoothing: SmoothingConfig | None = None,
        lost_after: int = 10,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        max_side: int | None = None,
    ) -> None:
        if lost_after < 1:
            raise ValueError("lost_after must be at least 1")
        if max_side is not None and max_side < 64:
            raise ValueError("max_side must be at least 64 pixels")
        self.max_side = max_side
        self.model_path = find_face_model(model_path)  # FaceModelError with a user message
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self.lost_after = lost_after
        self.smooth = smooth
        cfg = smoothing or SmoothingConfig()
        self._f_shapes = OneEuroFilter(cfg.blendshapes)
        self._f_pos = OneEuroFilter(cfg.position)
        self._f_rot = QuaternionOneEuroFilter(cfg.rotation)
        self._last_ms = -1
        self._missed = 0
        self._held: AvatarFrame | None = None
        self._state = TrackingState.SEARCHING
        self._closed = False

    @property
    def state(self) -> TrackingState:
        return self._state

    def _timestamp_ms(self, timestamp: float) -> int:
        ms = round(timestamp * 1000.0)
        if ms <= self._last_ms:  # MediaPipe VIDEO mode demands strictly increasing timestamps
            ms = self._last_ms + 1
        self._last_ms = ms
        return ms

    def _reset_filters(self) -> None:
        self._f_shapes.reset()
        self._f_pos.reset()
        self._f_rot.reset()

    def detect(self, rgb: npt.ArrayLike, timestamp: float) -> tuple[AvatarFrame | None, float]:
        """The raw (unsmoothed) estimate for one image, and the inference time in seconds."""
        if self._closed:
            raise RuntimeError("FaceTracker is closed")
        import mediapipe as mp

        pixels = _as_rgb(rgb)
        if min(pixels.shape[:2]) < MIN_SIDE:
            return None, 0.0  # an empty or tiny image holds no face (MediaPipe would fail for good)
        if self.max_side is not None and max(pixels.shape[:2]) > self.max_side:
            import cv2

            scale = self.max_side / max(pixels.shape[:2])
            size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
            pixels = np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)
        t0 = time.perf_counter()
        result = self._landmarker.detect_for_video(image, self._timestamp_ms(timestamp))
        elapsed = time.perf_counter() - t0
        if not result.face_blendshapes or not result.facial_transformation_matrixes:
            return None, elapsed
        position, rotation = pose_from_matrix(result.facial_transformation_matrixes[0])
        frame = AvatarFrame(
            timestamp=max(0.0, float(timestamp)),
            head_position=position.astype(np.float32),
            head_rotation=rotation.astype(np.float32),
            blendshapes=blendshapes_from_mediapipe(result.face_blendshapes[0]),
        )
        return frame, elapsed

    def process(self, rgb: npt.ArrayLike, timestamp: float) -> TrackResult:
        """Track one camera frame (seconds on a monotonic clock)."""
        raw, elapsed = self.detect(rgb, timestamp)
        if raw is None:
            self._missed += 1
            if self._state in (TrackingState.TRACKING, TrackingState.HOLDING):
                if self._missed >= self.lost_after:
                    self._state = TrackingState.LOST
                    self._held = None
                    self._reset_filters()
                else:
                    self._state = TrackingState.HOLDING
            return TrackResult(timestamp, self._state, self._held, None, self._missed, elapsed)
        self._missed = 0
        if not self.smooth:
            smoothed = raw
        else:
            t = float(timestamp)
            shapes = np.clip(self._f_shapes(raw.blendshapes, t), 0.0, 1.0)
            smoothed = AvatarFrame(
                timestamp=raw.timestamp,
                head_position=self._f_pos(raw.head_position, t).astype(np.float32),
                head_rotation=self._f_rot(raw.head_rotation, t).astype(np.float32),
                blendshapes=shapes.astype(np.float32),
            )
        self._state = TrackingState.TRACKING
        self._held = smoothed
        return TrackResult(timestamp, self._state, smoothed, raw, 0, elapsed)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._landmarker.close()
            except RuntimeError as exc:  # a graph that failed earlier also fails to close
                log.info("closing the face landmarker: %s", exc)

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Job:
    rgb: npt.NDArray[np.uint8]
    timestamp: float


class FaceTrackingWorker:
    """Runs a ``FaceTracker`` (and a ``HandTracker`` if given) on its own thread; the newest
    submitted frame wins.

    ``submit`` never blocks (an unprocessed frame is replaced and counted in ``dropped``);
    results land in ``results`` (a ``LatestMailbox`` the GUI polls) and, if given,
    ``on_result`` is called on the worker thread (keep it short and thread-safe). An exception
    inside the tracker stops the worker and is kept in ``error``.
    """

    def __init__(
        self,
        tracker: FaceTracker,
        *,
        on_result: Callable[[TrackResult], None] | None = None,
        name: str = "face-tracker",
        hands: HandTracker | None = None,
    ) -> None:
        self.tracker = tracker
        self.hands = hands  # tracked in the same frames, while a face is
        self.results: LatestMailbox[TrackResult] = LatestMailbox()
        self._inbox: LatestMailbox[_Job] = LatestMailbox()
        self._on_result = on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.processed = 0
        self.error: BaseException | None = None

    @property
    def dropped(self) -> int:
        """Camera frames replaced before the tracker got to them."""
        return self._inbox.dropped

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> FaceTrackingWorker:
        self._thread.start()
        return self

    def submit(self, rgb: npt.ArrayLike, timestamp: float) -> None:
        self._inbox.put(_Job(_as_rgb(rgb), float(timestamp)))

    def submit_depth_frame(self, frame: DepthFrame) -> None:
        """Track the colour stream of a depth source (frames without colour are ignored)."""
        if frame.color is not None:
            self.submit(frame.color, frame.timestamp)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                job = self._inbox.wait(timeout=0.1)
                if job is None:
                    continue
                result = self.tracker.process(job.rgb, job.timestamp)
                if self.hands is not None and result.frame is not None:
                    left, right = self.hands.track(job.rgb, job.timestamp)
                    frame = dataclasses.replace(result.frame, left_hand=left, right_hand=right)
                    result = dataclasses.replace(result, frame=frame)
                self.processed += 1
                self.results.put(result)
                if self._on_result is not None:
                    self._on_result(result)
        except RuntimeError as exc:
            self.error = exc
            if "after shutdown" in str(exc) or sys.is_finalizing():
                # the process is exiting under us: MediaPipe's executor is gone; nothing is lost
                log.debug("face tracking ended with the process: %s", exc)
                return
            log.exception("face tracking stopped")
        except BaseException as exc:  # kept for the owner; the thread must not die silently
            self.error = exc
            log.exception("face tracking stopped")

    def stop(self, timeout: float = 5.0, *, close_tracker: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if close_tracker and not self._thread.is_alive():
            self.tracker.close()
            if self.hands is not None:
                self.hands.close()

    def __enter__(self) -> FaceTrackingWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "ARKIT_BLENDSHAPES",
    "FaceTracker",
    "FaceTrackingWorker",
    "SmoothingConfig",
    "TrackResult",
    "TrackingState",
    "blendshapes_from_mediapipe",
    "pose_from_matrix",
]
