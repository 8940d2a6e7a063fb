"""What every shared-screen source has in common: its read rate's ceiling and its one-line
error (``capture/screen.py`` and ``capture/window_screen.py`` both use them)."""

from __future__ import annotations

#: the most frames a second a shared screen is read at (a slide or a document needs few; a
#: video shared this way plays choppy, as in the meeting apps' default screen share)
MAX_SHARE_FPS = 10


class ScreenError(RuntimeError):
    """The screen or the video file cannot be shared (the reason is one line)."""


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
