"""What a participant shares as its screen: a monitor of the display (PyPI ``mss``), one window
(``capture/window_screen``) or a video file played in a loop (PyAV), read as ``av.VideoFrame``
pictures.

Each source is a ``transport.screen.ScreenSource``, read from one thread, the screen sender's,
which paces it: each ``read`` returns the picture to show now. Nothing here scales or encodes;
the sender makes each receiver's size. Failures raise :class:`ScreenError` with a one-line
reason.
"""

from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from av import VideoFrame

from holocall_desktop.capture.screen_base import MAX_SHARE_FPS, ScreenError, reason

__all__ = [
    "MAX_SHARE_FPS",
    "DisplayScreen",
    "ScreenError",
    "VideoFileScreen",
    "list_screens",
    "open_screen",
    "reason",
]

if TYPE_CHECKING:
    from holocall_desktop.capture.window_screen import WindowScreen


class VideoFileScreen:
    """A video file as the shared screen, from its start, in a loop, at its own speed: each read
    returns the frame due at the time passed since the first read."""

    def __init__(self, path: str | os.PathLike[str], fps: float = MAX_SHARE_FPS) -> None:
        self.path = Path(path)
        try:
            self._container: Any = av.open(str(self.path))
        except (OSError, av.FFmpegError) as exc:
            raise ScreenError(f"{self.path}: cannot open the video: {reason(exc)}") from None
        videos = self._container.streams.video
        if not videos:
            self._container.close()
            raise ScreenError(f"{self.path}: the file holds no video")
        self._stream = videos[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or Fraction(25)
        self._frame_s = 1.0 / float(rate)
        self.fps = float(min(float(rate), fps, MAX_SHARE_FPS))  # how often to read
        self._frames = self._container.decode(self._stream)
        self._current = self._next_frame()
        self.size = (int(self._current.width), int(self._current.height))  # pictures read
        self._shown = 0.0  # media time of self._current, from the start of the loop
        self._loop_start = 0.0  # media time the current loop started at, summed over loops
        self._t0: float | None = None

    @property
    def title(self) -> str:
        return self.path.name[:100]

    def _next_frame(self) -> VideoFrame:
        for _attempt in range(2):
            try:
                return next(self._frames)
            except StopIteration:
                try:  # the end: again from the start
                    self._container.seek(0)
                except (OSError, av.FFmpegError) as exc:
                    raise ScreenError(
                        f"{self.path}: cannot loop the video: {reason(exc)}"
                    ) from None
                self._frames = self._container.decode(self._stream)
            except (OSError, av.FFmpegError) as exc:
                why = reason(exc)
                raise ScreenError(f"{self.path}: the video cannot be decoded: {why}") from None
        raise ScreenError(f"{self.path}: the video has no frame to show")

    def read(self) -> VideoFrame:
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = now - self._t0
        # frames are counted, not timestamped: a file's timestamps may jump or restart
        while self._shown + self._frame_s <= due:
            self._current = self._next_frame()
            self._shown += self._frame_s
        return self._current

    def close(self) -> None:
        self._container.close()


class DisplayScreen:
    """One monitor of the display (``mss``: X11, Windows, macOS), 1 = the first."""

    def __init__(self, monitor: int = 1, fps: float = MAX_SHARE_FPS) -> None:
        import mss

        self.monitor = monitor
        self.fps = float(min(fps, MAX_SHARE_FPS))  # how often to read
        self._mss: Any = None
        try:
            with mss.MSS() as grabber:
                monitors = grabber.monitors
        except Exception as exc:  # mss raises its ScreenShotError, or OSError without a display
            raise ScreenError(f"cannot capture the screen: {reason(exc)}") from None
        if not 1 <= monitor < len(monitors):
            raise ScreenError(
                f"there is no screen {monitor} (this display has {len(monitors) - 1})"
            )
        self._area = dict(monitors[monitor])
        self.size = (int(self._area["width"]) & ~1, int(self._area["height"]) & ~1)
        self._area["width"], self._area["height"] = self.size

    @property
    def title(self) -> str:
        return f"Screen {self.monitor}"

    def read(self) -> VideoFrame:
        import mss

        try:
            if self._mss is None:  # mss' handle belongs to the thread that opened it
                self._mss = mss.MSS()
            shot = self._mss.grab(self._area)
        except Exception as exc:
            raise ScreenError(f"cannot capture the screen: {reason(exc)}") from None
        w, h = self.size
        pixels = np.frombuffer(shot.bgra, np.uint8).reshape(shot.height, shot.width, 4)
        return VideoFrame.from_ndarray(np.ascontiguousarray(pixels[:h, :w]), format="bgra")

    def close(self) -> None:
        if self._mss is not None:
            self._mss.close()
            self._mss = None


def list_screens() -> list[str]:
    """The display's monitors as ``DisplayScreen`` numbers them (1 first), with their sizes;
    :class:`ScreenError` when there is no display to capture."""
    import mss

    try:
        with mss.MSS() as grabber:
            monitors = grabber.monitors[1:]
    except Exception as exc:
        raise ScreenError(f"cannot capture the screen: {reason(exc)}") from None
    return [f"Screen {i} ({m['width']}×{m['height']})" for i, m in enumerate(monitors, 1)]


def open_screen(spec: str) -> VideoFileScreen | DisplayScreen | WindowScreen:
    """``screen`` or ``screen:N`` (a monitor), ``window:ID`` (an X11 window, its id in hex or
    decimal; ``capture/window_screen``), else the path of a video file."""
    if spec == "screen":
        return DisplayScreen()
    if spec.startswith("screen:") and spec[7:].isdigit():
        return DisplayScreen(int(spec[7:]))
    if spec.startswith("window:"):
        from holocall_desktop.capture.window_screen import WindowScreen

        try:
            window_id = int(spec[7:], 0)
        except ValueError:
            raise ScreenError(f"{spec}: not a window id") from None
        return WindowScreen(window_id)
    if not Path(spec).is_file():
        raise ScreenError(
            f"{spec}: no such video file (or 'screen', 'screen:N' for a monitor, 'window:ID')"
        )
    return VideoFileScreen(spec)
