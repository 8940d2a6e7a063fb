"""Hand tracking: MediaPipe's HandLandmarker → the avatar frame's two ``HandData``.

:class:`HandTracker` runs the landmarker (``hand_landmarker.task``, ``avatar/model_files.py``) in
VIDEO mode for up to two hands; :func:`hand_from_landmarks` turns one hand's 21 landmarks into
the wire's hand (``docs/protocol.md``, *HandData*):

- **which hand**: MediaPipe labels handedness as if the image were mirrored (a selfie); camera
  images here are not, so its "Left" is the user's right hand and the other way round;
- **wrist position**: in the tracking camera's frame (x right, y up, z towards the viewer,
  metres), like the head's. The distance comes from the hand's size: its world landmarks give
  the wrist-to-middle-knuckle length in metres, the image landmarks the same length in pixels,
  and a pinhole camera of MediaPipe's assumed 63° vertical field of view turns the two into a
  distance;
- **wrist rotation**: the hand's frame has the fingers along +y (wrist to middle knuckle) and
  the palm facing +z; +x completes it (towards the thumb of a right hand);
- **finger curl**: the bends along each finger (and at its knuckle, from the hand's line)
  summed and scaled, 0 straight to 1 a fist;
- **confidence**: MediaPipe's handedness score.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from holocall_desktop.avatar.model_files import find_hand_model
from holocall_desktop.model.avatar import HandData, matrix_to_quaternion

F64 = npt.NDArray[np.float64]
#: MediaPipe's assumed vertical field of view (its face geometry uses the same)
VERTICAL_FOV_DEG = 63.0
WRIST, THUMB_CMC, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = 0, 1, 5, 9, 17
#: each finger's landmarks from its base (thumb, index, middle, ring, little)
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
#: summed bends (radians) of a fully curled finger (knuckle, middle and end joints); the
#: thumb's two joints bend less
FULL_CURL = np.array([1.6, 3.6, 3.6, 3.6, 3.6])


def _unit(v: F64) -> F64:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


def finger_curls(world: F64) -> F64:
    """Curl 0..1 of the five fingers from 21 world landmarks (any consistent frame): the bends
    between each finger's segments, plus, for the four fingers, the knuckle's bend away from
    the hand's line (wrist to middle knuckle); a finger's spread alone is not a curl."""
    segments = _unit(np.diff(world[np.asarray(FINGERS)], axis=1))  # (5, 3, 3)
    cos = np.clip(np.sum(segments[:, 1:] * segments[:, :-1], axis=-1), -1.0, 1.0)
    bends = np.arccos(cos).sum(axis=1)
    up = _unit(world[MIDDLE_MCP] - world[WRIST])
    knuckles = np.arccos(np.clip(segments[1:, 0] @ up, -1.0, 1.0))
    bends[1:] += knuckles
    return np.asarray(np.clip(bends / FULL_CURL, 0.0, 1.0), dtype=np.float64)


def hand_rotation(world: F64, right: bool) -> F64:
    """The hand's unit quaternion (x, y, z, w) in the camera frame, from world landmarks in
    the camera frame (x right, y up, z towards the viewer)."""
    up = _unit(world[MIDDLE_MCP] - world[WRIST])
    across = world[INDEX_MCP] - world[PINKY_MCP]  # towards the thumb
    if not right:
        across = -across
    palm = _unit(np.cross(across, up))
    x_axis = _unit(np.cross(up, palm))
    palm = np.cross(x_axis, up)
    return matrix_to_quaternion(np.stack([x_axis, up, palm], axis=1))


def hand_from_landmarks(
    image: F64, world: F64, size: tuple[int, int], right: bool, score: float
) -> HandData:
    """One hand: ``image`` (21, 3) normalised image landmarks (x right, y down, 0..1),
    ``world`` (21, 3) MediaPipe world landmarks (metres, x right, y down, z away), ``size``
    (width, height) of the image."""
    w, h = size
    camera = world * np.array([1.0, -1.0, -1.0])  # to x right, y up, z towards the viewer
    focal = (h / 2) / math.tan(math.radians(VERTICAL_FOV_DEG) / 2)  # pixels
    pixels = image[:, :2] * np.array([w, h])
    span_px = float(np.linalg.norm(pixels[MIDDLE_MCP] - pixels[WRIST]))
    span_m = float(np.linalg.norm(world[MIDDLE_MCP] - world[WRIST]))
    distance = focal * span_m / max(span_px, 1.0)
    u, v = pixels[WRIST]
    wrist = np.array([(u - w / 2) * distance / focal, -(v - h / 2) * distance / focal, -distance])
    return HandData(
        wrist_position=wrist.astype(np.float32),
        wrist_rotation=hand_rotation(camera, right).astype(np.float32),
        finger_curl=finger_curls(world).astype(np.float32),
        confidence=float(np.clip(score, 0.0, 1.0)),
    )


class HandTracker:
    """MediaPipe HandLandmarker in VIDEO mode; :meth:`track` gives (left, right) hands.

    ``FaceModelError`` (with a one-line ``user_message``) when the model is missing. Not
    thread-safe: one per thread (the face tracker's worker runs it beside the face)."""

    def __init__(self, model_path: str | Path | None = None, min_confidence: float = 0.5) -> None:
        self.model_path = find_hand_model(model_path)
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_hands=2,
            min_hand_detection_confidence=min_confidence,
            min_hand_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        self._landmarker = vision.HandLandmarker.create_from_options(options)
        self._last_ms = -1
        self.inference_s = 0.0  # the last call's

    def track(
        self, rgb: npt.NDArray[np.uint8], timestamp: float
    ) -> tuple[HandData | None, HandData | None]:
        import mediapipe as mp

        ms = max(int(timestamp * 1000), self._last_ms + 1)
        self._last_ms = ms
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        t0 = time.perf_counter()
        result = self._landmarker.detect_for_video(image, ms)
        self.inference_s = time.perf_counter() - t0
        hands: dict[bool, HandData] = {}
        size = (rgb.shape[1], rgb.shape[0])
        for marks, world, handed in zip(
            result.hand_landmarks, result.hand_world_landmarks, result.handedness, strict=True
        ):
            label = handed[0]
            right = label.category_name == "Left"  # MediaPipe assumes a mirrored image
            if right in hands:
                continue
            image_pts = np.array([[p.x, p.y, p.z] for p in marks], dtype=np.float64)
            world_pts = np.array([[p.x, p.y, p.z] for p in world], dtype=np.float64)
            hands[right] = hand_from_landmarks(image_pts, world_pts, size, right, label.score)
        return hands.get(False), hands.get(True)

    def close(self) -> None:
        self._landmarker.close()
