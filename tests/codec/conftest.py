"""Frames for the codec tests: the synthetic person and the real D435 recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from holocall_desktop.model import DepthFrame


def person_only(frame: DepthFrame) -> DepthFrame:
    """The person alone, as the sender codes it (background removed, 0.2-2 m)."""
    from holocall_desktop.processing.background import remove_background

    return remove_background(frame, near=0.2, far=2.0)


@pytest.fixture(scope="session")
def person_frames() -> list[DepthFrame]:
    """Six frames of the synthetic person at 848x480, background removed, 5 frames apart."""
    from holocall_desktop.capture.synthetic import SyntheticPersonSource

    src = SyntheticPersonSource(848, 480, 30.0, realtime=False, seed=1)
    return [person_only(src.frame(n)) for n in range(0, 30, 5)]


@pytest.fixture(scope="session")
def d435_frames(d435_db3: Path) -> list[DepthFrame]:
    """Both framesets of the real D435 office recording, read by pyrealsense2 playback."""
    from holocall_desktop.capture.playback import PlaybackSource

    src = PlaybackSource(d435_db3, realtime=False)
    src.start()
    frames: list[DepthFrame] = []
    try:
        while (frame := src.read(5.0)) is not None:
            frames.append(frame)
    finally:
        src.stop()
    assert frames, "the recording gave no frames"
    return frames


def depth_rmse_mm(a: DepthFrame, b: DepthFrame) -> float:
    """RMSE (mm) of ``b`` against ``a`` over pixels valid in both."""
    both = (a.depth > 0) & (b.depth > 0)
    err = (a.depth.astype(np.float64) - b.depth.astype(np.float64))[both]
    return float(np.sqrt(np.mean(err**2)) * a.depth_units * 1000.0)


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]) -> float:
    err = (a.astype(np.float64) - b.astype(np.float64))[mask]
    mse = float(np.mean(err**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
