"""The hands of an avatar frame, drawn beside the avatar's head.

Each :class:`~holocall_desktop.model.avatar.HandData` becomes a hand of boxes: a palm and five
fingers of three segments each, every joint bent by the finger's curl. Hand frame
(``docs/protocol.md``, *HandData*): origin at the wrist, fingers along +y, the palm facing +z;
for the identity rotation the hand is held up with its palm towards the camera. The wrist is
placed relative to the head: ``wrist − head position`` in the tracking camera's frame, which is
the avatar's own frame (x right, y up, z towards the viewer), so the hands move with the head's
seat and offset. Hands below :data:`MIN_CONFIDENCE` are hidden.

Geometry is built with numpy per frame (a few hundred vertices), drawn as one flat-shaded mesh.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from vispy import scene
from vispy.visuals.transforms import MatrixTransform

from holocall_desktop.model.avatar import AvatarFrame, HandData, quaternion_to_matrix

F64 = npt.NDArray[np.float64]
MIN_CONFIDENCE = 0.3
SKIN = (0.87, 0.71, 0.6, 1.0)
#: metres. Finger bases on the palm's top edge (x for a right hand; mirrored for the left),
#: segment lengths, and the most each joint bends when the finger is fully curled (radians)
FINGER_X = (0.028, 0.009, -0.010, -0.028)
FINGER_LENGTHS = (
    (0.040, 0.025, 0.020),  # index
    (0.045, 0.028, 0.022),  # middle
    (0.042, 0.026, 0.021),  # ring
    (0.033, 0.020, 0.018),  # little
)
THUMB_LENGTHS = (0.030, 0.025, 0.022)
JOINT_BEND = np.array([1.3, 1.5, 1.1])
PALM = (0.08, 0.085, 0.025)  # width, length, thickness
FINGER_WIDTH, FINGER_THICKNESS = 0.017, 0.015

_BOX_FACES = np.array(
    [
        [0, 1, 2], [0, 2, 3], [4, 6, 5], [4, 7, 6], [0, 4, 5], [0, 5, 1],
        [1, 5, 6], [1, 6, 2], [2, 6, 7], [2, 7, 3], [3, 7, 4], [3, 4, 0],
    ],
    dtype=np.uint32,
)  # fmt: skip


def _rotate(v: F64, axis: F64, angle: F64) -> F64:
    """Rodrigues: each row of ``v`` about the matching unit ``axis`` by ``angle`` (vectorised)."""
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    dot = np.sum(v * axis, axis=1, keepdims=True)
    return v * cos + np.cross(axis, v) * sin + axis * dot * (1.0 - cos)


def _boxes(start: F64, direction: F64, side: F64, length: F64, width: float, depth: float) -> F64:
    """Eight corners per box: from ``start`` along unit ``direction`` for ``length``, ``width``
    along unit ``side``, ``depth`` along their cross product. Shapes (n, 3) → (n, 8, 3)."""
    normal = np.cross(direction, side)
    w, d = side * width / 2, normal * depth / 2
    base = np.stack([-w - d, w - d, w + d, -w + d], axis=1) + start[:, None, :]
    tip = base + (direction * length[:, None])[:, None, :]
    return np.concatenate([base, tip], axis=1)


def hand_boxes(hand: HandData, right: bool) -> F64:
    """The hand's boxes in its own frame (metres): (16, 8, 3), the palm first."""
    s = 1.0 if right else -1.0
    curl = np.clip(np.asarray(hand.finger_curl, dtype=np.float64), 0.0, 1.0)
    x_axis = np.array([1.0, 0.0, 0.0])
    boxes = [_boxes(np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]),
                    x_axis[None], np.array([PALM[1]]), PALM[0], PALM[2])]  # fmt: skip
    # four fingers: bending about x towards the palm (+z), one joint at a time for all four
    start = np.array([[s * fx, PALM[1], 0.0] for fx in FINGER_X])
    up = np.tile([0.0, 1.0, 0.0], (4, 1))
    axes = np.tile(x_axis, (4, 1))
    lengths = np.asarray(FINGER_LENGTHS)
    # the thumb: from the palm's side, up and out, curling across the palm
    t_dir = np.array([s * 0.5, 0.8, 0.3])
    t_dir /= np.linalg.norm(t_dir)
    t_axis = np.cross(t_dir, np.array([-s * 0.6, 0.2, 0.8]))
    t_axis /= np.linalg.norm(t_axis)
    t_start = np.array([s * (PALM[0] / 2 - 0.005), 0.025, 0.008])
    for joint in range(3):
        angle = curl[1:] * JOINT_BEND[: joint + 1].sum()
        direction = _rotate(up, axes, angle)
        boxes.append(_boxes(start, direction, axes, lengths[:, joint], FINGER_WIDTH,
                            FINGER_THICKNESS))  # fmt: skip
        start = start + direction * lengths[:, joint : joint + 1]
        t_angle = np.array([curl[0] * 0.9 * (joint + 1)])
        t_d = _rotate(t_dir[None], t_axis[None], t_angle)
        t_side = np.cross(t_axis, t_d[0])[None]
        t_side /= np.linalg.norm(t_side)
        boxes.append(_boxes(t_start[None], t_d, t_side, np.array([THUMB_LENGTHS[joint]]),
                            FINGER_WIDTH * 1.1, FINGER_THICKNESS))  # fmt: skip
        t_start = t_start + t_d[0] * THUMB_LENGTHS[joint]
    return np.concatenate(boxes, axis=0)


def hands_mesh(frame: AvatarFrame) -> tuple[F64, npt.NDArray[np.uint32]] | None:
    """Vertices (relative to the head, metres, the avatar's frame) and faces of the frame's
    confident hands; None without any."""
    parts = []
    for hand, right in ((frame.left_hand, False), (frame.right_hand, True)):
        if hand is None or hand.confidence < MIN_CONFIDENCE:
            continue
        corners = hand_boxes(hand, right).reshape(-1, 3)
        rot = quaternion_to_matrix(hand.wrist_rotation).astype(np.float64)
        offset = np.asarray(hand.wrist_position, np.float64) - np.asarray(frame.head_position)
        parts.append(corners @ rot.T + offset)
    if not parts:
        return None
    vertices = np.concatenate(parts)
    boxes = len(vertices) // 8
    faces = (_BOX_FACES[None] + 8 * np.arange(boxes, dtype=np.uint32)[:, None, None]).reshape(-1, 3)
    return vertices, faces


class AvatarHands:
    """The hands of one avatar, a child of its node (hidden with it)."""

    def __init__(self, parent: Any) -> None:
        triangle = np.eye(3, dtype=np.float32)  # a placeholder until the first hands
        self.mesh = scene.visuals.Mesh(
            triangle, np.array([[0, 1, 2]], np.uint32), color=SKIN, shading="flat", parent=parent
        )
        light = self.mesh.shading_filter
        light.light_dir = (0.3, -0.4, -1.0)  # from above the viewer's shoulder
        light.ambient_light = (1, 1, 1, 0.45)
        light.specular_light = (1, 1, 1, 0.05)
        self.mesh.visible = False

    def show(self, frame: AvatarFrame, head_to_room: npt.ArrayLike) -> None:
        """Draw ``frame``'s hands; ``head_to_room``: the 4x4 (column vectors) that puts the
        head's centre, unrotated, in the room (the seat and the head's offset)."""
        built = hands_mesh(frame)
        if built is None:
            self.mesh.visible = False
            return
        vertices, faces = built
        self.mesh.set_data(vertices=vertices.astype(np.float32), faces=faces, color=SKIN)
        m = np.asarray(head_to_room, dtype=np.float64).reshape(4, 4)
        self.mesh.transform = MatrixTransform(m.T.astype(np.float32))  # vispy acts on rows
        self.mesh.visible = True
