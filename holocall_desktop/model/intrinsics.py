"""Pinhole camera calibration, in the RealSense convention.

Camera coordinates: x right, y down, z forward (metres). Like librealsense
(``rs2_deproject_pixel_to_point`` / ``rs2_project_point_to_pixel``), integer pixel coordinates
are pixel centres and a point projects to continuous coordinates ``u = x/z * fx + ppx``,
``v = y/z * fy + ppy``; column ``u`` of the image is the pixel whose centre is at ``u``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float
    model: str = "none"
    coeffs: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"intrinsics size must be positive, got {self.width}x{self.height}")
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")

    def scaled(self, factor: float) -> Intrinsics:
        """Intrinsics of the same camera at ``factor`` times the resolution (decimation)."""
        return Intrinsics(
            width=round(self.width * factor),
            height=round(self.height * factor),
            fx=self.fx * factor,
            fy=self.fy * factor,
            ppx=self.ppx * factor,
            ppy=self.ppy * factor,
            model=self.model,
            coeffs=self.coeffs,
        )

    def as_matrix(self) -> npt.NDArray[np.float64]:
        return np.array(
            [[self.fx, 0.0, self.ppx], [0.0, self.fy, self.ppy], [0.0, 0.0, 1.0]], dtype=np.float64
        )


def _identity_rotation() -> npt.NDArray[np.float64]:
    return np.eye(3, dtype=np.float64)


def _zero_translation() -> npt.NDArray[np.float64]:
    return np.zeros(3, dtype=np.float64)


@dataclass(frozen=True)
class Extrinsics:
    """Rigid transform from one camera's coordinates to another's: ``p_to = R @ p_from + t``."""

    rotation: npt.NDArray[np.float64] = field(default_factory=_identity_rotation)
    translation: npt.NDArray[np.float64] = field(default_factory=_zero_translation)

    def __post_init__(self) -> None:
        rot = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        trans = np.asarray(self.translation, dtype=np.float64).reshape(3)
        object.__setattr__(self, "rotation", rot)
        object.__setattr__(self, "translation", trans)

    def as_matrix(self) -> npt.NDArray[np.float64]:
        m = np.eye(4, dtype=np.float64)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Extrinsics):
            return NotImplemented
        return bool(
            np.allclose(self.rotation, other.rotation)
            and np.allclose(self.translation, other.translation)
        )

    __hash__ = None  # type: ignore[assignment]
