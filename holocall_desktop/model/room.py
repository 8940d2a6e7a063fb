"""The shared room: metres, right-handed, y up; seats around a round virtual table.

The same seat poses drive rendering (where a hologram stands) and spatial audio (where a voice
comes from). Seat 0 is the local viewer's; the others are spread evenly around the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix4 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Seat:
    index: int
    position: npt.NDArray[np.float64]  # floor point of the seat (x, 0, z)
    facing: npt.NDArray[np.float64]  # unit horizontal vector from the seat towards the table centre

    @property
    def yaw(self) -> float:
        """Rotation about +y (radians) that turns -z (a model's default 'forward') to ``facing``."""
        return math.atan2(-float(self.facing[0]), -float(self.facing[2]))


#: how far from the table's centre an anchor may place someone (metres)
MAX_ANCHOR_RADIUS = 4.0


def seat_at(
    index: int, position: npt.ArrayLike, rotation: npt.ArrayLike, limit: float = MAX_ANCHOR_RADIUS
) -> Seat:
    """The place an ``anchor_sync`` gives a participant: the floor point under ``position``
    (brought within ``limit`` metres of the table's centre), facing where the anchor's rotation
    turns -z (a model's forward), on the floor; towards the centre when that is straight up or
    down. ``rotation`` is a unit quaternion (x, y, z, w)."""
    x, _y, z = (float(v) for v in np.asarray(position, dtype=np.float64).reshape(3))
    floor = np.array([x, 0.0, z])
    distance = float(np.hypot(x, z))
    if distance > limit:
        floor *= limit / distance
    qx, qy, qz, qw = (float(v) for v in np.asarray(rotation, dtype=np.float64).reshape(4))
    # -z turned by the quaternion (the third column of its matrix, negated), on the floor
    forward = -np.array([2 * (qx * qz + qw * qy), 0.0, 1 - 2 * (qx * qx + qy * qy)])
    if np.hypot(forward[0], forward[2]) < 1e-3:
        forward = -floor if np.hypot(floor[0], floor[2]) > 1e-3 else np.array([0.0, 0.0, 1.0])
    return Seat(index=index, position=floor, facing=forward / np.linalg.norm(forward))


@dataclass(frozen=True)
class RoomLayout:
    table_radius: float = 0.6
    seat_distance: float = 1.1  # from the table centre to a seated person
    table_height: float = 0.75
    max_seats: int = 10

    def seat(self, index: int, count: int) -> Seat:
        """Seat ``index`` of ``count`` evenly spaced seats; seat 0 is at +z (the local viewer)."""
        if not 0 <= index < count <= self.max_seats:
            raise ValueError(f"seat {index} of {count} is outside the room (max {self.max_seats})")
        angle = 2.0 * math.pi * index / count
        direction = np.array([math.sin(angle), 0.0, math.cos(angle)])
        position = direction * self.seat_distance
        return Seat(index=index, position=position, facing=-direction)

    def viewer_eye(self, eye_height: float = 1.25) -> npt.NDArray[np.float64]:
        """Where the local viewer's eyes are (seat 0, slightly behind the seat)."""
        seat = self.seat(0, 2)
        return seat.position + np.array([0.0, eye_height, 0.0]) - seat.facing * 0.4


def capture_to_room(
    seat: Seat, capture_distance: float = 1.3, camera_height: float = 1.25
) -> Matrix4:
    """4x4 matrix taking depth-camera coordinates (x right, y down, z forward) into the room.

    The remote camera is placed as if it stood ``capture_distance`` metres in front of the
    seated person, towards the table centre, looking at them: a person captured at that distance
    then stands on their seat, facing the table.
    """
    forward = -seat.facing  # camera looks from the table side towards the seat
    down = np.array([0.0, -1.0, 0.0])
    right = np.cross(down, forward)  # x = y × z keeps the camera frame right-handed
    m = np.eye(4)
    m[:3, 0] = right
    m[:3, 1] = down
    m[:3, 2] = forward
    m[:3, 3] = seat.position - forward * capture_distance + np.array([0.0, camera_height, 0.0])
    return m


def arrange_seats(my_seat: int, others: dict[str, int], room_size: int) -> dict[str, int]:
    """Where each remote participant sits around the table, as seen by the local viewer.

    ``others`` maps user ids to the seats the server gave them (0 .. room_size-1); the viewer
    always sits at display seat 0 and the others follow in the server's seat order, starting
    from the viewer's right, so every participant sees the same order around the table and the
    table has exactly one place per participant (two face each other, three form a triangle).
    Returns user id → display seat index in ``1 .. len(others)``.
    """
    if room_size < 1:
        raise ValueError(f"room size must be positive, got {room_size}")
    order = sorted(others, key=lambda uid: ((others[uid] - my_seat) % room_size, uid))
    return {uid: i + 1 for i, uid in enumerate(order)}
