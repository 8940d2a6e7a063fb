"""The frame every capture source delivers and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from holocall_desktop.model.intrinsics import Extrinsics, Intrinsics


@dataclass(frozen=True)
class DepthFrame:
    """One timestamped depth + colour capture.

    - ``depth``: ``uint16`` array ``(H, W)``; 0 means "no measurement";
      metres = value * depth_units.
    - ``depth_units``: metres per depth unit (RealSense default 0.001).
    - ``color``: ``uint8`` RGB ``(Hc, Wc, 3)`` in the colour camera's own geometry, or ``None``.
    - ``depth_intrinsics`` / ``color_intrinsics``: pinhole calibration of each stream.
    - ``depth_to_color``: extrinsics mapping depth-camera points into the colour camera, so a
      renderer can look up the colour of every depth pixel (alignment happens on the GPU).
    - ``timestamp``: capture time in seconds (source clock; monotonic within a stream).
    - ``frame_number``: increasing index within the stream.
    """

    depth: npt.NDArray[np.uint16]
    depth_units: float
    depth_intrinsics: Intrinsics
    timestamp: float
    frame_number: int
    color: npt.NDArray[np.uint8] | None = None
    color_intrinsics: Intrinsics | None = None
    depth_to_color: Extrinsics = field(default_factory=Extrinsics)

    def __post_init__(self) -> None:
        if self.depth.dtype != np.uint16 or self.depth.ndim != 2:
            raise ValueError(
                f"depth must be a 2-D uint16 array, got {self.depth.dtype} {self.depth.shape}"
            )
        h, w = self.depth.shape
        di = self.depth_intrinsics
        if (di.width, di.height) != (w, h):
            raise ValueError(f"depth is {w}x{h} but its intrinsics say {di.width}x{di.height}")
        if not self.depth_units > 0:
            raise ValueError(f"depth_units must be positive, got {self.depth_units}")
        if self.color is not None:
            if self.color.dtype != np.uint8 or self.color.ndim != 3 or self.color.shape[2] != 3:
                raise ValueError(
                    f"color must be (H, W, 3) uint8, got {self.color.dtype} {self.color.shape}"
                )
            if self.color_intrinsics is None:
                raise ValueError("a colour image needs colour intrinsics")
            ci = self.color_intrinsics
            if (ci.width, ci.height) != (self.color.shape[1], self.color.shape[0]):
                raise ValueError(
                    f"color is {self.color.shape[1]}x{self.color.shape[0]} "
                    f"but its intrinsics say {ci.width}x{ci.height}"
                )

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])

    def depth_metres(self) -> npt.NDArray[np.float32]:
        return self.depth.astype(np.float32) * np.float32(self.depth_units)

    def valid_mask(self) -> npt.NDArray[np.bool_]:
        return self.depth > 0

    def with_depth(self, depth: npt.NDArray[np.uint16]) -> DepthFrame:
        """The same frame with another depth image of the same geometry (background removed…)."""
        return DepthFrame(
            depth=depth,
            depth_units=self.depth_units,
            depth_intrinsics=self.depth_intrinsics,
            timestamp=self.timestamp,
            frame_number=self.frame_number,
            color=self.color,
            color_intrinsics=self.color_intrinsics,
            depth_to_color=self.depth_to_color,
        )
