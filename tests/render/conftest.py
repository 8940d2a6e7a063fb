"""Rendering tests: real vispy + Qt OpenGL (Mesa llvmpipe under Xvfb), checked by pixels."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from holocall_desktop.render.scene import BACKGROUND, HoloScene


@pytest.fixture(scope="session")
def gl_app() -> None:
    import vispy

    vispy.use(app="pyside6")


#: Closed test canvases stay referenced until the session ends. If the garbage collector
#: destroyed one while another canvas is drawing, Qt would make the dead canvas's GL context
#: current to free its objects, and the drawing canvas would compile its shaders in the wrong
#: context (seen as random "Shader compilation error" with an empty log).
CLOSED_CANVASES: list[object] = []


def keep_until_exit(closed: object) -> None:
    CLOSED_CANVASES.append(closed)


@pytest.fixture
def bare_scene(gl_app: None) -> Iterator[HoloScene]:
    """A scene without room furniture, so every non-background pixel is hologram."""
    scene = HoloScene(size=(480, 360), show_room=False, show=True)
    yield scene
    scene.close()
    keep_until_exit(scene)


def foreground_mask(image: npt.NDArray[np.uint8], tol: int = 6) -> npt.NDArray[np.bool_]:
    bg = np.round(np.asarray(BACKGROUND[:3]) * 255).astype(int)
    return np.abs(image[..., :3].astype(int) - bg).max(axis=-1) > tol


def map_to_canvas(
    scene: HoloScene, pid: str, points: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Canvas pixel coordinates (x right, y down) of depth-camera points, via vispy's transforms."""
    mapped = np.asarray(scene.capture_to_canvas(pid).map(points.astype(np.float64)))
    return mapped[:, :2] / mapped[:, 3:4]


def splat_reference(
    scene: HoloScene,
    pid: str,
    points: npt.NDArray[np.float32],
    colors: npt.NDArray[np.uint8],
    shape: tuple[int, int],
    radius: int = 1,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint8]]:
    """CPU rendering of points as (2·radius+1)² squares, nearest point wins: (mask, rgb image)."""
    h, w = shape
    xy = map_to_canvas(scene, pid, points)
    # far to near, so nearer points overwrite farther ones
    cam = np.asarray(scene.capture_to_canvas(pid).map(points.astype(np.float64)))
    order = np.argsort(-cam[:, 2] / cam[:, 3])
    xs = np.floor(xy[order, 0]).astype(int)
    ys = np.floor(xy[order, 1]).astype(int)
    rgb = colors[order]
    mask = np.zeros((h, w), bool)
    image = np.zeros((h, w, 3), np.uint8)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            x, y = xs + dx, ys + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            mask[y[ok], x[ok]] = True
            image[y[ok], x[ok]] = rgb[ok]
    return mask, image
