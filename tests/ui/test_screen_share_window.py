"""Screen sharing in the window, against the demo's simulated participant over real aiortc: a
video Ava shares is drawn on the panel behind the table and in the pop-out window (pixels);
the window shares the test session's Xvfb screen and Ava receives it; stopping either way
clears it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from holocall_desktop.capture.screen import VideoFileScreen
from holocall_desktop.demo import DemoBackend
from holocall_desktop.transport.api import CallState
from tests.capture.pattern_window import pattern_window
from tests.capture.screen_video import QUADRANTS, make_screen_video

pytestmark = pytest.mark.gui

AVA = "ava-simulated"


def _close(pixel: Any, colour: tuple[int, int, int], tolerance: int = 45) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def _joined(window: Any, qtbot: Any, demo: DemoBackend) -> Any:
    config = demo.start(window.settings.user_id, "Tester")
    assert window.join_call(config)
    qtbot.waitUntil(lambda: window.call.state is CallState.JOINED, timeout=20000)
    qtbot.waitUntil(lambda: window.call.frames_shown.get(AVA, 0) >= 1, timeout=30000)
    assert demo.remote is not None
    return demo.remote


def test_a_shared_video_is_drawn_in_the_room_and_popped_out(
    make_window: Any, qtbot: Any, demo: DemoBackend, tmp_path: Path
) -> None:
    window = make_window("synthetic")
    ava = _joined(window, qtbot, demo)
    assert not window.call_bar.is_shown(window.call_bar.popout_button)
    video = make_screen_video(tmp_path / "slides.webm", seconds=4.0)
    ava.session.share_screen(VideoFileScreen(video))
    panel = window.view.screen
    # 640x360 on an open link; a busy machine's estimate may send a smaller picture first
    qtbot.waitUntil(
        lambda: panel.sharer == AVA and panel.size is not None and panel.size[0] >= 320,
        timeout=40000,
    )
    w, h = panel.size
    assert abs(w / h - 16 / 9) < 0.03, panel.size
    assert "slides.webm" in panel.label.text and "Ava" in panel.label.text
    assert window.call_bar.is_shown(window.call_bar.popout_button)

    def drawn() -> bool:
        image = window.scene.render()
        for u, v, colour in ((0.25, 0.2, QUADRANTS[0]), (0.75, 0.2, QUADRANTS[1])):
            x, y = panel.picture_to_canvas(u, v)
            if not _close(image[int(y), int(x)], colour) and not _close(
                image[int(y), int(x)], QUADRANTS[::-1][0 if u < 0.5 else 1]
            ):
                return False
        return True

    qtbot.waitUntil(drawn, timeout=10000)  # the top quadrants on the panel, plain or swapped
    popout = window.screen_share.pop_out()
    qtbot.waitUntil(
        lambda: popout.picture.pixmap() is not None and not popout.picture.pixmap().isNull(),
        timeout=10000,
    )
    grabbed = popout.picture.pixmap().toImage()
    w, h = grabbed.width(), grabbed.height()
    assert abs(w / h - 16 / 9) < 0.05  # scaled with its aspect kept
    corner = grabbed.pixelColor(w // 4, h // 5)
    assert _close((corner.red(), corner.green(), corner.blue()), QUADRANTS[0]) or _close(
        (corner.red(), corner.green(), corner.blue()), QUADRANTS[3]
    )

    ava.session.share_screen(None)
    qtbot.waitUntil(lambda: panel.sharer is None and not panel.visible, timeout=10000)
    assert not window.call_bar.is_shown(window.call_bar.popout_button)
    window.leave_call()
    qtbot.waitUntil(lambda: not popout.isVisible(), timeout=5000)


def test_the_window_shares_its_screen_and_stops(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    ava = _joined(window, qtbot, demo)
    button = window.call_bar.share_button
    assert button.isEnabled() and button.text() == "Share screen"
    button.click()  # one Xvfb screen: shared without asking
    qtbot.waitUntil(lambda: window.room.my_screen is not None, timeout=10000)
    assert button.isChecked() and button.text() == "Stop sharing"
    assert window.screen_share.label.text() == "● Sharing Screen 1"
    me = window.settings.user_id
    qtbot.waitUntil(lambda: ava.screens.screens.counts.get(me, 0) >= 3, timeout=20000)
    picture = ava.screens.screens.last(me)
    assert picture is not None
    h, w = picture.shape[:2]
    assert max(w, h) <= 1280 and picture.std() > 5  # the screen (the window on it), scaled
    participant = ava.room.participants[me]
    assert participant.screen is not None and participant.screen.title == "Screen 1"
    button.click()
    qtbot.waitUntil(lambda: window.room.my_screen is None, timeout=10000)
    assert not button.isChecked() and button.text() == "Share screen"
    assert window.screen_share.label.text() == ""
    qtbot.waitUntil(lambda: ava.room.participants[me].screen is None, timeout=10000)


def test_the_window_offers_another_apps_window_and_shares_it(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog

    window = make_window("synthetic")
    ava = _joined(window, qtbot, demo)
    with pattern_window("Team notes", "2040e0", (320, 200)):
        choices = window.screen_share.choices()
        label = "Window: Team notes (320×200)"
        assert next(iter(choices)).startswith("Screen 1 (") and label in choices
        assert not any("HoloCall" in name for name in choices)  # never our own window
        asked: list[list[str]] = []

        def pick() -> None:  # the user picks the window in the dialog the button opens
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QInputDialog):
                QTimer.singleShot(100, pick)
                return
            asked.append(dialog.comboBoxItems())
            dialog.setTextValue(label)
            dialog.accept()

        QTimer.singleShot(100, pick)
        window.call_bar.share_button.click()
        qtbot.waitUntil(lambda: window.room.my_screen is not None, timeout=10000)
        assert asked and label in asked[0]
        assert window.screen_share.label.text() == "● Sharing Team notes"
        me = window.settings.user_id
        qtbot.waitUntil(lambda: ava.screens.screens.counts.get(me, 0) >= 3, timeout=20000)
        picture = ava.screens.screens.last(me)
        assert picture is not None and picture.shape == (200, 320, 3)
        assert np.abs(picture.astype(int) - (0x20, 0x40, 0xE0)).mean() < 12  # its colour
    # the app quit: the share stops and the banner says why
    qtbot.waitUntil(lambda: window.room.my_screen is None, timeout=10000)
    assert not window.call_bar.share_button.isChecked()
    qtbot.waitUntil(lambda: "'Team notes' was closed" in window.banner.label.text(), timeout=5000)
