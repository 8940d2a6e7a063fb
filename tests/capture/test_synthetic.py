"""The synthetic person source: geometry, determinism, noise model, animation, ground truth."""

from __future__ import annotations

import time

import numpy as np
import pytest

from holocall_desktop.capture import FrameSource, SourceError
from holocall_desktop.capture.synthetic import (
    CAMERA_HEIGHT,
    WALL_Z,
    SyntheticPersonSource,
    noise_sigma,
)


@pytest.fixture(scope="module")
def src() -> SyntheticPersonSource:
    return SyntheticPersonSource(realtime=False)


def test_is_a_frame_source_with_d435_geometry(src: SyntheticPersonSource) -> None:
    assert isinstance(src, FrameSource)
    f = src.frame(0)
    assert f.depth.shape == (480, 848) and f.depth.dtype == np.uint16
    assert f.color is not None and f.color.shape == (480, 848, 3) and f.color.dtype == np.uint8
    assert f.depth_units == 0.001
    di = f.depth_intrinsics
    assert 421 <= di.fx <= 430 and 421 <= di.fy <= 430
    assert abs(di.ppx - 424) < 1 and abs(di.ppy - 240) < 1
    assert f.color_intrinsics == di
    assert np.allclose(f.depth_to_color.as_matrix(), np.eye(4))


def test_other_resolution_keeps_field_of_view() -> None:
    s = SyntheticPersonSource(640, 480, realtime=False)
    f = s.frame(3)
    assert f.depth.shape == (480, 640)
    assert f.depth_intrinsics.fx == pytest.approx(426.0 * 640 / 848)


def test_deterministic_for_seed_and_frame() -> None:
    a = SyntheticPersonSource(realtime=False, seed=7).frame(12)
    b = SyntheticPersonSource(realtime=False, seed=7).frame(12)
    c = SyntheticPersonSource(realtime=False, seed=8).frame(12)
    assert np.array_equal(a.depth, b.depth) and a.color is not None and b.color is not None
    assert np.array_equal(a.color, b.color)
    assert not np.array_equal(a.depth, c.depth)


def test_read_sequence_without_realtime() -> None:
    s = SyntheticPersonSource(fps=15.0, realtime=False, seed=0)
    with pytest.raises(SourceError):
        s.read()
    s.start()
    frames = [s.read() for _ in range(4)]
    s.stop()
    assert [f.frame_number for f in frames if f] == [0, 1, 2, 3]
    assert [f.timestamp for f in frames if f] == pytest.approx([0, 1 / 15, 2 / 15, 3 / 15])
    assert frames[2] is not None and np.array_equal(frames[2].depth, s.frame(2).depth)
    assert not s.finished


def test_realtime_paces_with_the_wall_clock() -> None:
    s = SyntheticPersonSource(160, 96, fps=20.0, realtime=True)
    s.start()
    t0 = time.monotonic()
    numbers = []
    for _ in range(6):
        f = s.read(timeout=1.0)
        assert f is not None
        numbers.append(f.frame_number)
    elapsed = time.monotonic() - t0
    s.stop()
    assert numbers == sorted(set(numbers))
    assert elapsed >= (numbers[-1] - 0.5) / 20.0  # frame n is not delivered before n/fps


def test_realtime_read_times_out() -> None:
    s = SyntheticPersonSource(160, 96, fps=0.5, realtime=True)
    s.start()
    assert s.read() is not None  # frame 0 is due at once
    t0 = time.monotonic()
    assert s.read(timeout=0.05) is None  # frame 1 is due in 2 s
    assert time.monotonic() - t0 < 1.0


def test_person_in_front_of_wall_and_floor(src: SyntheticPersonSource) -> None:
    truth = src.truth(0)
    z = truth.depth_m
    person = z[truth.person_mask]
    assert 0.05 < truth.person_mask.mean() < 0.3
    assert 1.1 < np.median(person) < 1.5
    assert person.min() > 1.0
    background = z[~truth.person_mask]
    assert np.isclose(background.max(), WALL_Z, atol=1e-3)
    # The bottom rows far from the person see the floor, nearer than the wall.
    assert z[-1, 5] == pytest.approx(CAMERA_HEIGHT / ((479 - 239.5) / 426.0), rel=1e-3)
    # The head is above the torso and roughly centred.
    u, v = truth.head_pixel
    assert 380 < u < 470 and 120 < v < 230
    assert truth.person_mask[round(v), round(u)]


def test_clean_depth_matches_truth() -> None:
    s = SyntheticPersonSource(realtime=False, noise=False)
    f = s.frame(5)
    truth = s.truth(5)
    assert np.all(f.depth > 0)
    err = np.abs(f.depth_metres() - truth.depth_m)
    assert err.max() <= 0.0005 + 1e-6  # quantisation to 1 mm only


def test_noise_grows_with_distance(src: SyntheticPersonSource) -> None:
    truth = src.truth(0)
    f = src.frame(0)
    valid = f.depth > 0
    err = f.depth_metres() - truth.depth_m
    person = truth.person_mask & valid
    wall = (~truth.person_mask) & valid & np.isclose(truth.depth_m, WALL_Z)
    # Interior person pixels only (edges carry occlusion artefacts).
    rms_person = float(np.sqrt(np.mean(err[person & (np.abs(err) < 0.1)] ** 2)))
    rms_wall = float(np.sqrt(np.mean(err[wall] ** 2)))
    fx = f.depth_intrinsics.fx
    z_person = float(np.median(truth.depth_m[person]))
    assert rms_person == pytest.approx(noise_sigma(z_person, fx), rel=0.25)
    assert rms_wall == pytest.approx(noise_sigma(WALL_Z, fx), rel=0.1)
    assert rms_wall > 5 * rms_person


def test_invalid_pixels_at_silhouette_and_random(src: SyntheticPersonSource) -> None:
    truth = src.truth(0)
    f = src.frame(0)
    invalid = f.depth == 0
    assert 0.002 < invalid.mean() < 0.1
    # The occlusion band lies left of the person: scan a torso row.
    v = round(truth.head_pixel[1]) + 120
    row_mask = truth.person_mask[v]
    left_edge = int(np.argmax(row_mask))
    band = invalid[v, left_edge - 8 : left_edge - 1]
    assert band.mean() > 0.7
    # Right of the person there is no such band.
    right_edge = len(row_mask) - int(np.argmax(row_mask[::-1]))
    assert invalid[v, right_edge + 2 : right_edge + 9].mean() < 0.3
    # Random dropouts also hit the middle of the wall.
    assert invalid[:100, :200].mean() > 0.0005


def test_animation_mouth_blink_and_head_turn(src: SyntheticPersonSource) -> None:
    poses = [src.pose(n) for n in range(0, 150)]
    mouths = [p.mouth_open for p in poses]
    assert min(mouths) < 0.1 and max(mouths) > 0.8
    assert any(p.eyes_closed for p in poses) and not all(p.eyes_closed for p in poses)
    # Mouth region differs between a closed- and an open-mouth frame (colour and depth).
    closed = int(np.argmin(mouths))
    opened = int(np.argmax(mouths))
    tc, to = src.truth(closed), src.truth(opened)
    fc, fo = src.frame(closed), src.frame(opened)
    assert fc.color is not None and fo.color is not None
    u, v = (round(c) for c in to.mouth_pixel)
    patch = np.s_[v - 6 : v + 7, u - 10 : u + 11]
    diff = np.abs(fc.color[patch].astype(int) - fo.color[patch].astype(int)).mean()
    assert diff > 20
    assert to.depth_m[v, u] > tc.depth_m[v, u] + 0.005  # open mouth is a cavity
    # Head turns: the nose tip moves left and right of the head centre.
    yaws = [p.head_yaw for p in poses]
    left, right = int(np.argmin(yaws)), int(np.argmax(yaws))
    assert yaws[right] > 0.4 and yaws[left] < -0.4
    offs = []
    for n in (left, right):
        t = src.truth(n)
        offs.append(t.nose_pixel[0] - t.head_pixel[0])
        # The nose really is in the depth image: nearer than the head centre's surroundings.
        nu, nv = (round(c) for c in t.nose_pixel)
        assert t.person_mask[nv, nu]
    assert offs[0] < -15 and offs[1] > 15
    dl, dr = src.truth(left).depth_m, src.truth(right).depth_m
    hu, hv = (round(c) for c in src.truth(left).head_pixel)
    assert not np.allclose(
        dl[hv - 30 : hv + 30, hu - 30 : hu + 30], dr[hv - 30 : hv + 30, hu - 30 : hu + 30]
    )


def test_arms_sway() -> None:
    s = SyntheticPersonSource(realtime=False, noise=False)
    a, b = s.truth(0).person_mask, s.truth(19).person_mask
    assert (a ^ b).sum() > 500
