"""The webcam source: colour without depth (avatar mode), from a camera index or a video file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from holocall_desktop.capture.base import SourceError
from holocall_desktop.capture.open import open_source
from holocall_desktop.capture.webcam import WebcamSource, parse_webcam_spec


def _video(path: Path, frames: int = 6) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :, 2] = 40 * i  # red rises frame by frame (BGR order in OpenCV)
        writer.write(img)
    writer.release()
    return path


def test_specs() -> None:
    assert parse_webcam_spec("webcam") == 0
    assert parse_webcam_spec("webcam:2") == 2
    assert parse_webcam_spec("webcam:/videos/me.avi") == "/videos/me.avi"


def test_a_video_file_gives_colour_frames_without_depth(tmp_path: Path) -> None:
    source = open_source(f"webcam:{_video(tmp_path / 'v.avi')}", realtime=False)
    assert isinstance(source, WebcamSource) and source.has_depth is False
    source.start()
    try:
        frames = [source.read() for _ in range(8)]  # loops after the 6th
    finally:
        source.stop()
    assert all(f is not None for f in frames)
    first = frames[0]
    assert first is not None and first.color is not None
    assert first.color.shape == (48, 64, 3) and not first.depth.any()
    assert first.depth_intrinsics == first.color_intrinsics
    reds = [int(f.color[..., 0].mean()) for f in frames if f is not None and f.color is not None]
    assert reds[1] > reds[0] + 20  # RGB, in order
    assert abs(reds[6] - reds[0]) < 10  # looped back to the start
    assert [f.frame_number for f in frames if f is not None] == list(range(8))


def test_a_missing_camera_is_a_clear_error() -> None:
    source = open_source("webcam:97")
    with pytest.raises(SourceError, match="cannot be opened"):
        source.start()
    with pytest.raises(SourceError, match="before start"):
        source.read()


def test_a_looped_mpeg1_video_starts_again_at_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "v.mpg"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"PIM1"), 25, (64, 48))
    assert writer.isOpened(), "OpenCV cannot write MPEG-1 here"
    for i in range(40):
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :, 2] = 6 * i  # red rises frame by frame
        writer.write(img)
    writer.release()
    source = WebcamSource(str(path), realtime=False, loop=True)
    source.start()
    try:
        reds = []
        for _ in range(45):
            frame = source.read()
            assert frame is not None and frame.color is not None
            reds.append(float(frame.color[..., 0].mean()))
    finally:
        source.stop()
    wrap = next(i for i in range(1, len(reds)) if reds[i] < reds[i - 1] - 50)
    assert abs(reds[wrap] - reds[0]) < 8, (wrap, reds[wrap], reds[0])  # not frame ~12


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [("missing.avi", None, "not found"), ("junk.avi", b"this is not a video", "cannot be decoded")],
)
def test_a_bad_video_file_says_what_is_wrong(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    source = WebcamSource(str(path))
    with pytest.raises(SourceError, match=reason) as err:
        source.start()
    assert "not connected" not in str(err.value)
