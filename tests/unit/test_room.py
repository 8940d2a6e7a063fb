"""Room layout: seats around the table and the capture-to-room placement."""

from __future__ import annotations

import numpy as np
import pytest

from holocall_desktop.model.room import RoomLayout, capture_to_room


def test_seats_are_evenly_spaced_and_face_the_table() -> None:
    layout = RoomLayout()
    for count in (2, 3, 6, 10):
        seats = [layout.seat(i, count) for i in range(count)]
        for s in seats:
            assert np.linalg.norm(s.position) == pytest.approx(layout.seat_distance)
            assert s.facing @ (-s.position / np.linalg.norm(s.position)) == pytest.approx(1.0)
        gaps = [
            np.linalg.norm(seats[i].position - seats[(i + 1) % count].position)
            for i in range(count)
        ]
        assert np.allclose(gaps, gaps[0])
    assert layout.seat(0, 2).position[2] > 0  # the viewer sits at +z


def test_seat_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the room"):
        RoomLayout().seat(3, 3)


def test_person_at_capture_distance_stands_on_the_seat_facing_the_table() -> None:
    layout = RoomLayout()
    seat = layout.seat(1, 3)
    m = capture_to_room(seat, capture_distance=1.3, camera_height=1.25)
    assert np.linalg.det(m[:3, :3]) == pytest.approx(1.0)  # a rotation, right-handed
    on_axis = m @ np.array([0.0, 0.0, 1.3, 1.0])
    assert on_axis[:3] == pytest.approx(seat.position + np.array([0.0, 1.25, 0.0]))
    above = m @ np.array([0.0, -0.5, 1.3, 1.0])  # camera y is down: -0.5 is up in the room
    assert above[1] == pytest.approx(1.75)
    nearer = m @ np.array([0.0, 0.0, 1.0, 1.0])  # nearer to the camera = nearer to the table
    assert np.linalg.norm(nearer[[0, 2]]) < np.linalg.norm(on_axis[[0, 2]])


def test_arrangement_is_relative_to_the_viewer_and_consistent() -> None:
    from holocall_desktop.model.room import arrange_seats

    # server seats: alice 0, bob 1, carol 4 in a room of 6
    seats = {"alice": 0, "bob": 1, "carol": 4}
    for me in seats:
        others = {u: s for u, s in seats.items() if u != me}
        shown = arrange_seats(seats[me], others, 6)
        assert sorted(shown.values()) == [1, 2]
    # everyone sees the same cyclic order: alice -> bob -> carol -> alice
    assert arrange_seats(0, {"bob": 1, "carol": 4}, 6) == {"bob": 1, "carol": 2}
    assert arrange_seats(1, {"alice": 0, "carol": 4}, 6) == {"carol": 1, "alice": 2}
    assert arrange_seats(4, {"alice": 0, "bob": 1}, 6) == {"alice": 1, "bob": 2}
