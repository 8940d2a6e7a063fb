"""CPU deprojection: depth pixels to 3-D points, and the colour of each point.

This is the numeric reference for the GPU path (``shaders/hologram.vert`` does the same per
vertex). Conventions follow librealsense: integer pixel coordinates are pixel centres,
``x = (u - ppx) / fx * z``, ``y = (v - ppy) / fy * z``; camera axes x right, y down, z forward.
Lens distortion is not modelled (RealSense depth streams report none; colour distortion is small).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PointCloud:
    """Valid points of one frame: ``points`` (N, 3) metres in depth-camera coordinates,
    ``colors`` (N, 3) uint8 RGB (grey where the colour camera does not see the point),
    ``pixels`` (N, 2) the (u, v) depth pixel each point came from."""

    points: FloatArray
    colors: npt.NDArray[np.uint8]
    pixels: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.points.shape[0])


NO_COLOR = np.array([128, 128, 128], dtype=np.uint8)


def pixel_grid(width: int, height: int, stride: int = 1) -> npt.NDArray[np.int32]:
    """(N, 2) integer (u, v) pixel coordinates, row-major, every ``stride``-th pixel."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    us = np.arange(0, width, stride, dtype=np.int32)
    vs = np.arange(0, height, stride, dtype=np.int32)
    uu, vv = np.meshgrid(us, vs)
    return np.stack([uu.ravel(), vv.ravel()], axis=1)


def deproject_pixels(
    pixels: npt.NDArray[np.int32], z: FloatArray, intrinsics: Intrinsics
) -> FloatArray:
    """3-D points (N, 3) for pixels (N, 2) at depths ``z`` (N,) in metres."""
    z = np.asarray(z, dtype=np.float32)
    x = (pixels[:, 0].astype(np.float32) - np.float32(intrinsics.ppx)) / np.float32(intrinsics.fx)
    y = (pixels[:, 1].astype(np.float32) - np.float32(intrinsics.ppy)) / np.float32(intrinsics.fy)
    return np.stack([x * z, y * z, z], axis=1)


def project_points(points: FloatArray, intrinsics: Intrinsics) -> FloatArray:
    """Continuous pixel coordinates (N, 2) of camera-space points (N, 3) with z > 0."""
    z = points[:, 2]
    u = points[:, 0] / z * np.float32(intrinsics.fx) + np.float32(intrinsics.ppx)
    v = points[:, 1] / z * np.float32(intrinsics.fy) + np.float32(intrinsics.ppy)
    return np.stack([u, v], axis=1).astype(np.float32)


def transform_points(points: FloatArray, extrinsics: Extrinsics) -> FloatArray:
    rot = extrinsics.rotation.astype(np.float32)
    trans = extrinsics.translation.astype(np.float32)
    return (points @ rot.T + trans).astype(np.float32)


def sample_colors(
    points: FloatArray,
    color: npt.NDArray[np.uint8],
    color_intrinsics: Intrinsics,
    depth_to_color: Extrinsics,
) -> npt.NDArray[np.uint8]:
    """Colour of each depth-camera point, looked up (nearest pixel) in the colour image."""
    in_color = transform_points(points, depth_to_color)
    uv = project_points(in_color, color_intrinsics)
    ui = np.floor(uv[:, 0] + 0.5).astype(np.int64)
    vi = np.floor(uv[:, 1] + 0.5).astype(np.int64)
    h, w = color.shape[:2]
    inside = (ui >= 0) & (ui < w) & (vi >= 0) & (vi < h) & (in_color[:, 2] > 0)
    out = np.empty((points.shape[0], 3), dtype=np.uint8)
    out[:] = NO_COLOR
    out[inside] = color[vi[inside], ui[inside]]
    return out


def deproject_frame(
    frame: DepthFrame, stride: int = 1, near: float = 0.0, far: float = float("inf")
) -> PointCloud:
    """The frame's valid points (depth within (near, far] metres) with their colours."""
    grid = pixel_grid(frame.width, frame.height, stride)
    z = frame.depth[grid[:, 1], grid[:, 0]].astype(np.float32) * np.float32(frame.depth_units)
    keep = (z > 0) & (z > near) & (z <= far)
    pixels = grid[keep]
    points = deproject_pixels(pixels, z[keep], frame.depth_intrinsics)
    if frame.color is not None and frame.color_intrinsics is not None:
        colors = sample_colors(points, frame.color, frame.color_intrinsics, frame.depth_to_color)
    else:
        colors = np.tile(NO_COLOR, (points.shape[0], 1))
    return PointCloud(points=points, colors=colors, pixels=pixels)
