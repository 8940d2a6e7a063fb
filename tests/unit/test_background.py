"""Background removal on synthetic frames (ground truth known) and edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model import DepthFrame, Intrinsics
from holocall_desktop.processing.background import foreground_mask, remove_background


@pytest.fixture(scope="module")
def person() -> SyntheticPersonSource:
    return SyntheticPersonSource(realtime=False, seed=1)


def test_keeps_the_person_and_removes_wall_and_floor(person: SyntheticPersonSource) -> None:
    f = person.frame(10)
    truth = person.truth(10)
    out = remove_background(f)
    kept = out.depth > 0
    assert out is not f and out.depth is not f.depth
    assert f.depth[~truth.person_mask].any()  # there was a background to remove
    assert not kept[~truth.person_mask].any()  # wall and floor (2.5 m+) are gone
    valid_person = truth.person_mask & (f.depth > 0)
    assert kept[valid_person].mean() > 0.99  # the person stays, values untouched
    assert np.array_equal(out.depth[kept], f.depth[kept])
    assert out.color is f.color and out.depth_intrinsics == f.depth_intrinsics
    assert out.timestamp == f.timestamp and out.frame_number == f.frame_number


def test_range_is_inclusive_in_metres() -> None:
    intr = Intrinsics(4, 1, 1.0, 1.0, 2.0, 0.5)
    depth = np.array([[0, 199, 200, 2000]], dtype=np.uint16)
    f = DepthFrame(
        depth=depth, depth_units=0.001, depth_intrinsics=intr, timestamp=0.0, frame_number=0
    )
    assert remove_background(f).depth.tolist() == [[0, 0, 200, 2000]]
    assert remove_background(f, near=0.1, far=1.0).depth.tolist() == [[0, 199, 200, 0]]
    half = DepthFrame(
        depth=depth, depth_units=0.0005, depth_intrinsics=intr, timestamp=0.0, frame_number=0
    )
    assert remove_background(half, near=0.1, far=0.5).depth.tolist() == [[0, 0, 200, 0]]
    with pytest.raises(ValueError):
        remove_background(f, near=2.0, far=1.0)


def test_largest_component_drops_clutter(person: SyntheticPersonSource) -> None:
    f = person.frame(0)
    depth = f.depth.copy()
    depth[20:60, 20:60] = 1000  # a box 1 m away, apart from the person
    cluttered = f.with_depth(depth)
    assert (remove_background(cluttered).depth[20:60, 20:60] > 0).all()
    out = remove_background(cluttered, largest_component=True)
    assert not (out.depth[20:60, 20:60] > 0).any()
    truth = person.truth(0)
    assert (out.depth > 0)[truth.person_mask & (f.depth > 0)].mean() > 0.97


def test_empty_frame_stays_empty() -> None:
    intr = Intrinsics(8, 6, 5.0, 5.0, 4.0, 3.0)
    f = DepthFrame(np.zeros((6, 8), np.uint16), 0.001, intr, 0.0, 0)
    assert not foreground_mask(f, largest_component=True).any()
