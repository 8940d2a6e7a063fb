"""Hand tracking: MediaPipe's hand landmarks → the avatar frame's hands (which hand, wrist
position from the hand's size, rotation, finger curl), and the real HandLandmarker loading and
running on a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from holocall_desktop.avatar.hands import (
    HandTracker,
    finger_curls,
    hand_from_landmarks,
)
from holocall_desktop.model.avatar import quaternion_to_matrix

SIZE = (640, 480)


def _open_right_hand(curl: float = 0.0) -> np.ndarray:
    """21 world landmarks (MediaPipe's frame: metres, x right, y down, z away) of a right hand
    held up, palm towards the camera, thumb towards +x; ``curl`` bends every finger joint
    towards the palm (-z) by up to 75°."""
    pts = np.zeros((21, 3))
    pts[0] = (0.0, 0.05, 0.0)
    bases = {1: (0.03, 0.03), 5: (0.025, -0.04), 9: (0.0, -0.045), 13: (-0.02, -0.04),
             17: (-0.035, -0.035)}  # fmt: skip
    for base, (x, y) in bases.items():
        pts[base] = (x, y, 0.0)
        direction = np.array([0.4, -1.0, 0.0]) if base == 1 else np.array([0.0, -1.0, 0.0])
        direction /= np.linalg.norm(direction)
        angle = 0.0
        for j in range(1, 4):
            angle += np.radians(75) * curl
            d = direction * np.cos(angle) + np.array([0, 0, -1.0]) * np.sin(angle)
            pts[base + j] = pts[base + j - 1] + d * 0.025
    return pts


def _image_points(world: np.ndarray, centre: tuple[float, float], scale: float) -> np.ndarray:
    """Normalised image landmarks of ``world`` drawn at ``centre`` (pixels), ``scale`` px/m."""
    px = np.asarray(centre) + world[:, :2] * scale
    return np.concatenate([px / np.asarray(SIZE), world[:, 2:] * 0], axis=1)


def test_an_open_hand_facing_the_camera_is_straight_and_unrotated() -> None:
    world = _open_right_hand()
    hand = hand_from_landmarks(_image_points(world, (320, 240), 1000.0), world, SIZE, True, 0.9)
    assert np.all(hand.finger_curl < 0.1), hand.finger_curl
    rotation = quaternion_to_matrix(hand.wrist_rotation)
    assert np.allclose(rotation, np.eye(3), atol=0.1), rotation  # fingers up, palm to camera
    assert hand.confidence == pytest.approx(0.9, abs=0.01)


def test_a_fist_is_curled() -> None:
    world = _open_right_hand(curl=1.0)
    curls = finger_curls(world)
    assert np.all(curls[1:] > 0.8) and curls[0] > 0.5, curls


def test_the_wrist_distance_follows_the_hands_size_in_the_picture() -> None:
    world = _open_right_hand()
    near = hand_from_landmarks(_image_points(world, (320, 240), 1200.0), world, SIZE, True, 1.0)
    far = hand_from_landmarks(_image_points(world, (320, 240), 600.0), world, SIZE, True, 1.0)
    assert far.wrist_position[2] == pytest.approx(2 * near.wrist_position[2], rel=0.01)
    assert near.wrist_position[2] < 0  # in front of the camera
    right = hand_from_landmarks(_image_points(world, (500, 120), 1000.0), world, SIZE, True, 1.0)
    assert right.wrist_position[0] > 0 and right.wrist_position[1] > 0  # right and up


def test_a_left_hand_has_the_same_frame_mirrored() -> None:
    world = _open_right_hand() * np.array([-1.0, 1.0, 1.0])  # the mirror image: a left hand
    hand = hand_from_landmarks(_image_points(world, (320, 240), 1000.0), world, SIZE, False, 1.0)
    rotation = quaternion_to_matrix(hand.wrist_rotation)
    assert np.allclose(rotation, np.eye(3), atol=0.1), rotation


def test_the_real_hand_landmarker_runs_on_a_photo_without_hands() -> None:
    from skimage import data

    tracker = HandTracker()
    try:
        image = np.ascontiguousarray(data.astronaut())
        for i in range(3):
            assert tracker.track(image, i / 30) == (None, None)
        assert tracker.inference_s > 0
    finally:
        tracker.close()
