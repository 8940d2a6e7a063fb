"""What can be shared as a screen: a video file (in a loop, at its own speed) and a monitor of
the display (the test session's Xvfb); what cannot be, refused in one line."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from holocall_desktop.capture.screen import (
    MAX_SHARE_FPS,
    DisplayScreen,
    ScreenError,
    VideoFileScreen,
    list_screens,
    open_screen,
)
from tests.capture.screen_video import make_screen_video, shows_quadrants


def _rgb(frame: object) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")  # type: ignore[attr-defined]


def test_a_video_file_plays_at_its_speed_and_loops(tmp_path: Path) -> None:
    video = make_screen_video(tmp_path / "talk.webm", seconds=1.0, fps=20)
    source = VideoFileScreen(video)
    assert source.title == "talk.webm"
    assert source.size == (640, 360)
    assert source.fps == MAX_SHARE_FPS  # a 20 fps file is shared at 10
    # 0.5 s plain, 0.5 s swapped, then again from the start: read until the loop came back
    shown: list[str | None] = []
    start = time.monotonic()
    first_swap = None
    while time.monotonic() < start + 10.0:
        shown.append(shows_quadrants(_rgb(source.read())))
        if first_swap is None and shown[-1] == "swapped":
            first_swap = time.monotonic() - start
        changes = [b for a, b in itertools.pairwise(shown) if a != b]
        if changes[:2] == ["swapped", "plain"]:
            break
        time.sleep(0.05)
    source.close()
    assert None not in shown
    assert shown[0] == "plain"
    assert changes[:2] == ["swapped", "plain"], shown
    assert first_swap is not None and first_swap >= 0.45  # not faster than the file's own speed


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "cannot open the video"), (b"\x1a\x45\xdf\xa3" + bytes(64), "cannot open the video")],
)
def test_a_file_that_is_no_video_is_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "not-a-video.webm"
    path.write_bytes(content)
    with pytest.raises(ScreenError, match=reason) as info:
        VideoFileScreen(path)
    assert "\n" not in str(info.value)


def test_a_file_without_video_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "voice.ogg"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libopus", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 960), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    with pytest.raises(ScreenError, match="holds no video"):
        VideoFileScreen(path)


def test_the_display_is_captured() -> None:
    screens = list_screens()
    assert screens and screens[0].startswith("Screen 1 (")
    source = open_screen("screen")
    assert isinstance(source, DisplayScreen) and source.title == "Screen 1"
    w, h = source.size
    frame = source.read()
    assert (frame.width, frame.height) == (w, h) and w % 2 == 0 and h % 2 == 0
    source.close()
    with pytest.raises(ScreenError, match="there is no screen 9"):
        DisplayScreen(9)


def test_open_screen_explains_what_it_takes(tmp_path: Path) -> None:
    with pytest.raises(ScreenError, match="no such video file"):
        open_screen(str(tmp_path / "missing.mp4"))
