"""Where an anchor_sync puts a participant: the floor point under its position, kept near the
table, facing the anchor's forward on the floor."""

from __future__ import annotations

import math

import numpy as np

from holocall_desktop.model.room import MAX_ANCHOR_RADIUS, seat_at


def test_identity_faces_minus_z_from_the_floor_point() -> None:
    seat = seat_at(2, (0.5, 1.6, 1.0), (0, 0, 0, 1))
    assert seat.index == 2
    assert np.allclose(seat.position, (0.5, 0.0, 1.0))
    assert np.allclose(seat.facing, (0.0, 0.0, -1.0))


def test_a_quarter_turn_about_y_faces_minus_x() -> None:
    s = math.sin(math.pi / 4)
    seat = seat_at(1, (1.2, 0.0, -0.3), (0, s, 0, s))
    assert np.allclose(seat.facing, (-1.0, 0.0, 0.0), atol=1e-6)


def test_far_away_is_brought_near_the_table_and_looking_up_faces_the_centre() -> None:
    s = math.sin(math.pi / 4)
    seat = seat_at(1, (300.0, 0.0, 400.0), (s, 0, 0, s))  # -z turned straight down
    assert math.isclose(float(np.hypot(seat.position[0], seat.position[2])), MAX_ANCHOR_RADIUS)
    toward_centre = -seat.position / np.linalg.norm(seat.position)
    assert np.allclose(seat.facing, toward_centre)
