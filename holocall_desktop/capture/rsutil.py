"""Small helpers shared by the pyrealsense2-based sources: conversions and SDK call guards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyrealsense2 as rs

from holocall_desktop.model import Extrinsics, Intrinsics

T = TypeVar("T")

#: Colour formats we can turn into RGB.
COLOR_FORMATS = (rs.format.rgb8, rs.format.bgr8, rs.format.rgba8, rs.format.bgra8, rs.format.yuyv)


def to_intrinsics(i: Any) -> Intrinsics:
    """``rs.intrinsics`` → :class:`Intrinsics`."""
    model = str(i.model).rsplit(".", 1)[-1]
    c = [float(x) for x in i.coeffs]
    return Intrinsics(
        width=int(i.width),
        height=int(i.height),
        fx=float(i.fx),
        fy=float(i.fy),
        ppx=float(i.ppx),
        ppy=float(i.ppy),
        model=model,
        coeffs=(c[0], c[1], c[2], c[3], c[4]),
    )


def to_rs_intrinsics(i: Intrinsics) -> Any:
    """:class:`Intrinsics` → ``rs.intrinsics``."""
    out = rs.intrinsics()
    out.width, out.height = i.width, i.height
    out.fx, out.fy, out.ppx, out.ppy = i.fx, i.fy, i.ppx, i.ppy
    out.model = getattr(rs.distortion, i.model, rs.distortion.none)
    out.coeffs = list(i.coeffs)
    return out


def to_extrinsics(e: Any) -> Extrinsics:
    """``rs.extrinsics`` (column-major rotation) → :class:`Extrinsics`."""
    rot = np.asarray(e.rotation, dtype=np.float64).reshape(3, 3).T
    return Extrinsics(rotation=rot, translation=np.asarray(e.translation, dtype=np.float64))


def to_rs_extrinsics(e: Extrinsics) -> Any:
    out = rs.extrinsics()
    out.rotation = [float(x) for x in np.asarray(e.rotation).T.reshape(-1)]
    out.translation = [float(x) for x in np.asarray(e.translation).reshape(-1)]
    return out


def depth_units_of(scale: float) -> float:
    """The SDK reports depth units as float32 (0.0010000000474974513); round to 7 digits."""
    return float(f"{float(scale):.7g}")


def to_rgb(data: npt.NDArray[Any], fmt: Any) -> npt.NDArray[np.uint8]:
    """A colour frame's pixels in ``fmt`` → a new contiguous RGB ``uint8`` array."""
    if fmt == rs.format.rgb8:
        return np.array(data, dtype=np.uint8, copy=True)
    if fmt == rs.format.bgr8:
        return np.ascontiguousarray(data[..., ::-1], dtype=np.uint8)
    if fmt == rs.format.rgba8:
        return np.ascontiguousarray(data[..., :3], dtype=np.uint8)
    if fmt == rs.format.bgra8:
        return np.ascontiguousarray(data[..., 2::-1], dtype=np.uint8)
    if fmt == rs.format.yuyv:
        import cv2

        yuyv = np.asarray(data, dtype=np.uint8).reshape(data.shape[0], data.shape[1], 2)
        return np.asarray(cv2.cvtColor(yuyv, cv2.COLOR_YUV2RGB_YUYV), dtype=np.uint8)
    raise ValueError(f"unsupported colour format {fmt}")


class SdkTimeout(Exception):
    """An SDK call did not return in time (its thread is left behind as a daemon)."""


def call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` on a daemon thread; re-raise its exception, or :class:`SdkTimeout` if it hangs.

    librealsense can block forever on bad input or a vanished device; this keeps the caller
    responsive (the stuck thread is abandoned).
    """
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    t = threading.Thread(target=run, name=f"rs:{what}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise SdkTimeout(f"{what} did not finish within {timeout:g} s")
    if error:
        raise error[0]
    return result[0]
