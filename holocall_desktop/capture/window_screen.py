"""One window of the display as the shared screen, on X11 (PyPI ``python-xlib``).

:func:`list_windows` lists the top-level windows a user may share (titled, shown, not this
process's own): the window manager's client list where there is one, else the root window's
children. :class:`WindowScreen` reads one window's own pixels (``XGetImage`` on it, wherever it
is on the screen), so the share follows the window when it moves. A window made larger than it
was when sharing began is cropped to that size, a smaller one padded with black (the receivers
keep one picture size). A window hidden or minimised shows its last picture until it comes
back; a window closed ends the share with the reason in one line (:class:`ScreenError`).

Without X11 (Windows, macOS, a Wayland session without XWayland) there are no windows to list
and a window cannot be shared: a monitor still can (``capture/screen.DisplayScreen``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

import numpy as np
from av import VideoFrame

from holocall_desktop.capture.screen_base import MAX_SHARE_FPS, ScreenError, reason

#: windows smaller than this each way are not offered (tool tips, docks' slivers)
MIN_SIDE = 32
_IS_VIEWABLE = 2  # X.IsViewable


@dataclasses.dataclass(frozen=True)
class WindowChoice:
    """A window that can be shared."""

    window_id: int
    title: str
    size: tuple[int, int]

    @property
    def label(self) -> str:
        return f"Window: {self.title} ({self.size[0]}×{self.size[1]})"

    @property
    def spec(self) -> str:
        """What :func:`capture.screen.open_screen` opens it by."""
        return f"window:{self.window_id:#x}"


def _display() -> Any:
    """A connection to the X display, or ``None`` where there is none to list windows of."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")) or not os.environ.get(
        "DISPLAY"
    ):
        return None
    from Xlib import display, error

    try:
        return display.Display()
    except (error.DisplayError, OSError):
        return None


def _title(d: Any, window: Any) -> str:
    name, utf8_type = d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING")
    utf8 = window.get_full_text_property(name, utf8_type)
    text = utf8 if utf8 else window.get_wm_name()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text or "").split())[:100]


def _pid(d: Any, window: Any) -> int | None:
    prop = window.get_full_property(d.intern_atom("_NET_WM_PID"), 0)  # 0: any type
    return int(prop.value[0]) if prop is not None and len(prop.value) else None


def list_windows(exclude_pid: int | None = None) -> list[WindowChoice]:
    """The windows a user may share, by title (``exclude_pid``: leave out that process's own,
    this one's by default); empty without an X display."""
    from Xlib import error

    d = _display()
    if d is None:
        return []
    own = os.getpid() if exclude_pid is None else exclude_pid
    try:
        root = d.screen().root
        clients = root.get_full_property(d.intern_atom("_NET_CLIENT_LIST"), 0)
        if clients is not None and len(clients.value):
            windows = [d.create_resource_object("window", int(x)) for x in clients.value]
        else:  # no window manager: the root's children are the windows
            windows = list(root.query_tree().children)
        found: list[WindowChoice] = []
        for window in windows:
            try:
                if window.get_attributes().map_state != _IS_VIEWABLE:
                    continue
                title = _title(d, window)
                if not title or _pid(d, window) == own:
                    continue
                g = window.get_geometry()
            except error.XError:
                continue  # closed while we looked
            if g.width >= MIN_SIDE and g.height >= MIN_SIDE:
                found.append(WindowChoice(int(window.id), title, (int(g.width), int(g.height))))
        return sorted(found, key=lambda w: (w.title.lower(), w.window_id))
    finally:
        d.close()


def find_window(title: str) -> WindowChoice:
    """The first shareable window whose title holds ``title`` (case ignored)."""
    windows = list_windows()
    for window in windows:
        if title.lower() in window.title.lower():
            return window
    there = ", ".join(repr(w.title) for w in windows[:8]) or "none"
    raise ScreenError(f"no window titled {title!r} to share (windows: {there})")


class WindowScreen:
    """One window's pixels (see the module doc)."""

    def __init__(self, window_id: int, fps: float = MAX_SHARE_FPS) -> None:
        from Xlib import error

        self.window_id = window_id
        self.fps = float(min(fps, MAX_SHARE_FPS))  # how often to read
        d = _display()
        if d is None:
            raise ScreenError("windows can be shared only on an X11 display (share a screen)")
        try:
            window = d.create_resource_object("window", window_id)
            g = window.get_geometry()
            self._title = _title(d, window) or f"Window {window_id:#x}"
        except error.XError:
            raise ScreenError(f"there is no window {window_id:#x} to share") from None
        finally:
            d.close()
        self.size = (max(2, int(g.width) & ~1), max(2, int(g.height) & ~1))
        self._d: Any = None  # the reading thread's own connection
        self._last: np.ndarray[Any, np.dtype[np.uint8]] | None = None

    @property
    def title(self) -> str:
        return self._title

    def read(self) -> VideoFrame:
        from Xlib import X, error

        if self._d is None:
            self._d = _display()
            if self._d is None:
                raise ScreenError("the display went away")
            self._window = self._d.create_resource_object("window", self.window_id)
        try:
            g = self._window.get_geometry()
            w, h = int(g.width), int(g.height)
            image = self._window.get_image(0, 0, w, h, X.ZPixmap, 0xFFFFFFFF)
        except error.BadMatch:  # hidden or minimised: its last picture until it is back
            return self._frame(self._last)
        except (error.BadWindow, error.BadDrawable):
            raise ScreenError(f"the window {self._title!r} was closed") from None
        except (error.XError, OSError, error.ConnectionClosedError) as exc:
            raise ScreenError(f"cannot capture the window: {reason(exc)}") from None
        data = image.data if isinstance(image.data, bytes) else bytes(image.data)
        if len(data) != w * h * 4:
            raise ScreenError(f"cannot capture the window: a {image.depth}-bit picture")
        pixels = np.frombuffer(data, np.uint8).reshape(h, w, 4)
        self._last = pixels
        return self._frame(pixels)

    def _frame(self, pixels: np.ndarray[Any, np.dtype[np.uint8]] | None) -> VideoFrame:
        width, height = self.size
        canvas = np.zeros((height, width, 4), np.uint8)
        if pixels is not None:
            h, w = min(height, pixels.shape[0]), min(width, pixels.shape[1])
            canvas[:h, :w] = pixels[:h, :w]
        canvas[:, :, 3] = 255
        return VideoFrame.from_ndarray(canvas, format="bgra")

    def close(self) -> None:
        if self._d is not None:
            self._d.close()
            self._d = None
