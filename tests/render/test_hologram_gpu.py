"""The GPU deprojection (shaders/hologram.vert) against the CPU reference (processing.deproject)."""

from __future__ import annotations

import numpy as np
import pytest

from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics
from holocall_desktop.processing.deproject import deproject_frame, sample_colors
from holocall_desktop.render.scene import HoloScene
from tests.render.conftest import foreground_mask, map_to_canvas

pytestmark = pytest.mark.gui

W, H = 160, 120
INTR = Intrinsics(W, H, fx=120.0, fy=118.0, ppx=81.3, ppy=58.7)


def _sparse_frame(rng: np.random.Generator, count: int) -> tuple[DepthFrame, np.ndarray]:
    """A depth image with ``count`` isolated valid pixels, each with its own colour."""
    depth = np.zeros((H, W), np.uint16)
    color = np.zeros((H, W, 3), np.uint8)
    # pixels on a coarse jittered lattice so their splats never overlap on screen
    us = np.arange(10, W - 10, 24)
    vs = np.arange(10, H - 10, 24)
    cells = np.array([(u, v) for v in vs for u in us])[:count]
    cells += rng.integers(-4, 5, size=cells.shape)
    z_mm = rng.integers(900, 1700, size=len(cells))
    depth[cells[:, 1], cells[:, 0]] = z_mm
    palette = rng.permutation(
        np.array([(r, g, b) for r in (40, 140, 250) for g in (40, 140, 250) for b in (40, 250)])
    )
    colors = palette[: len(cells)].astype(np.uint8)
    color[cells[:, 1], cells[:, 0]] = colors
    frame = DepthFrame(
        depth=depth,
        depth_units=0.001,
        depth_intrinsics=INTR,
        timestamp=0.0,
        frame_number=0,
        color=color,
        color_intrinsics=INTR,
    )
    return frame, colors


def test_rendered_splats_sit_where_the_cpu_reference_projects_them(bare_scene: HoloScene) -> None:
    rng = np.random.default_rng(7)
    frame, _ = _sparse_frame(rng, 18)
    bare_scene.add_participant("p")
    bare_scene.set_frame("p", frame)
    bare_scene.hologram("p").set_splat(3.0)
    image = bare_scene.render()

    cloud = deproject_frame(frame)
    assert len(cloud) == 18
    expected = map_to_canvas(bare_scene, "p", cloud.points)
    found = 0
    for (x, y), rgb in zip(expected, cloud.colors, strict=True):
        match = np.all(np.abs(image[..., :3].astype(int) - rgb.astype(int)) <= 3, axis=-1)
        ys, xs = np.nonzero(match)
        near = (np.abs(xs - x) < 12) & (np.abs(ys - y) < 12)
        assert near.sum() > 0, f"no splat of colour {rgb} near ({x:.1f}, {y:.1f})"
        cx, cy = xs[near].mean() + 0.5, ys[near].mean() + 0.5  # pixel centres
        assert abs(cx - x) <= 1.0 and abs(cy - y) <= 1.0, (
            f"splat at ({cx:.2f}, {cy:.2f}) vs ({x:.2f}, {y:.2f})"
        )
        found += 1
    assert found == 18
    # invalid depth (every other pixel) draws nothing: foreground only around the 18 points
    fg = foreground_mask(image)
    ys, xs = np.nonzero(fg)
    dist = np.min(
        np.hypot(
            xs[:, None] + 0.5 - expected[None, :, 0], ys[:, None] + 0.5 - expected[None, :, 1]
        ),
        axis=1,
    )
    assert dist.max() < 12


def test_depth_range_drops_points_outside_near_far(bare_scene: HoloScene) -> None:
    rng = np.random.default_rng(3)
    frame, _ = _sparse_frame(rng, 18)
    bare_scene.add_participant("p")
    bare_scene.set_frame("p", frame)
    holo = bare_scene.hologram("p")
    holo.set_splat(3.0)
    full = foreground_mask(bare_scene.render()).sum()
    holo.set_range(0.1, 1.3)
    part = foreground_mask(bare_scene.render()).sum()
    holo.set_range(0.1, 0.5)
    none = foreground_mask(bare_scene.render()).sum()
    kept = (frame.depth_metres() > 0) & (frame.depth_metres() <= 1.3)
    assert 0 < kept.sum() < 18
    assert 0 < part < full
    assert none == 0


def test_colour_is_looked_up_through_the_extrinsics(bare_scene: HoloScene) -> None:
    """A colour camera with other intrinsics, 25 mm to the side: same colours as the CPU lookup."""
    depth = np.zeros((H, W), np.uint16)
    depth[20:100, 30:130] = 1200
    cw, ch = 200, 150
    color_intr = Intrinsics(cw, ch, fx=150.0, fy=151.0, ppx=99.0, ppy=76.0)
    yy, xx = np.mgrid[0:ch, 0:cw]
    color = np.stack(
        [(xx * 255 // cw), (yy * 255 // ch), ((xx // 10 + yy // 10) % 2) * 255], -1
    ).astype(np.uint8)
    extr = Extrinsics(translation=np.array([0.025, 0.0, 0.0]))
    frame = DepthFrame(
        depth=depth,
        depth_units=0.001,
        depth_intrinsics=INTR,
        timestamp=0.0,
        frame_number=0,
        color=color,
        color_intrinsics=color_intr,
        depth_to_color=extr,
    )
    bare_scene.add_participant("p")
    bare_scene.set_frame("p", frame)
    bare_scene.hologram("p").set_splat(1.0)
    image = bare_scene.render()
    cloud = deproject_frame(frame, stride=7)
    expected_rgb = sample_colors(cloud.points, color, color_intr, extr)
    xy = map_to_canvas(bare_scene, "p", cloud.points)
    got = image[np.floor(xy[:, 1]).astype(int), np.floor(xy[:, 0]).astype(int), :3].astype(int)
    close = np.abs(got - expected_rgb.astype(int)).max(axis=1) <= 12
    assert close.mean() > 0.9, f"only {close.mean():.0%} of sampled splats have the CPU colour"
