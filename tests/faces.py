"""A depth recording whose colour images hold a real face (for face tracking in calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from holocall_desktop.capture.recorder import record
from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model import DepthFrame


class FaceSource(SyntheticPersonSource):
    """The synthetic person's depth with a photo of a real face as the colour image."""

    def __init__(self, face: np.ndarray) -> None:
        super().__init__(640, 480, fps=15.0, realtime=False)
        self._face = face

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        frame = super().read(timeout)
        if frame is None or frame.color is None:
            return frame
        h, w = frame.color.shape[:2]
        color = np.full_like(frame.color, 90)
        side = min(h, self._face.shape[0])
        x = (w - side) // 2
        color[:side, x : x + side] = self._face[:side, :side]
        return DepthFrame(
            frame.depth,
            frame.depth_units,
            frame.depth_intrinsics,
            frame.timestamp,
            frame.frame_number,
            color,
            frame.color_intrinsics,
            frame.depth_to_color,
        )


def record_face(path: Path, frames: int = 45) -> Path:
    """Record ``frames`` frames of the synthetic person with scikit-image's astronaut photo as
    the colour image to ``path``; returns it."""
    from skimage import data

    record(FaceSource(data.astronaut()), path, max_frames=frames)
    return path
