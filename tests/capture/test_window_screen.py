"""Another app's window as the shared screen, on the test session's Xvfb: listed by its title
and size (never this process's own windows), read as its own pixels wherever it moves, and a
closed or unknown window refused in one line."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from holocall_desktop.capture.screen import ScreenError, open_screen
from holocall_desktop.capture.window_screen import WindowScreen, find_window, list_windows
from tests.capture.pattern_window import pattern_window


def _rgb(source: WindowScreen) -> np.ndarray:
    return source.read().to_ndarray(format="rgb24")  # type: ignore[no-any-return]


def test_a_window_is_listed_and_shared_until_it_closes() -> None:
    with pattern_window("Quarterly slides", "ff00ff", (320, 200)) as (proc, choice):
        assert choice.size == (320, 200)
        assert choice.label == "Window: Quarterly slides (320×200)"
        assert find_window("quarterly") == choice
        assert all(w.title != "Quarterly slides" for w in list_windows(exclude_pid=proc.pid))
        source = open_screen(choice.spec)
        assert isinstance(source, WindowScreen)
        assert source.title == "Quarterly slides" and source.size == (320, 200)
        picture = _rgb(source)
        assert picture.shape == (200, 320, 3)
        assert np.abs(picture.astype(int) - (255, 0, 255)).max() <= 2, picture.mean(axis=(0, 1))
        time.sleep(2.5)  # it moved: still its own pixels
        assert np.abs(_rgb(source).astype(int) - (255, 0, 255)).max() <= 2
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        with pytest.raises(ScreenError, match="the window 'Quarterly slides' was closed"):
            while time.monotonic() < deadline:
                source.read()
                time.sleep(0.1)
        source.close()


def test_what_is_no_window_is_refused_in_one_line() -> None:
    with pytest.raises(ScreenError, match="there is no window 0x7ffffff0 to share"):
        WindowScreen(0x7FFFFFF0)
    with pytest.raises(ScreenError, match="not a window id"):
        open_screen("window:slides")
    with pytest.raises(ScreenError, match="no window titled 'No such app' to share"):
        find_window("No such app")
    assert all(w.title for w in list_windows())
    assert os.environ.get("DISPLAY")  # the session's Xvfb: the lists above were real
