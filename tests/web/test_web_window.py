"""The window with a browser in the call: the web client in a real headless Chromium joins the
demo's room (the window and the simulated participant); its camera is drawn on a panel at its
seat, under its name (pixels), and the panel goes when the browser leaves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from holocall_desktop.demo import DemoBackend
from holocall_desktop.transport.api import CallState, MediaMode
from holocall_desktop.transport.invite import format_invite
from tests.web.chromium import Chromium

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def demo() -> Iterator[DemoBackend]:
    backend = DemoBackend(startup_timeout=30.0)
    yield backend
    backend.stop()


def _browser_id(window: Any) -> str | None:
    return next((u for u in window.room.participants if u.startswith("Web-")), None)


def test_the_window_draws_a_browsers_camera_at_its_seat(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    window.resize(1280, 800)  # a room wide enough to see every seat
    config = demo.start(window.settings.user_id, "Tester")
    assert window.join_call(config)
    qtbot.waitUntil(lambda: window.call.state is CallState.JOINED, timeout=20000)
    assert config.room_id and config.invite_secret
    link = format_invite(config.server, config.room_id, config.invite_secret, scheme="web")
    page = Chromium(f"{link}&name=Web")
    try:
        qtbot.waitUntil(lambda: _browser_id(window) is not None, timeout=30000)
        uid = _browser_id(window)
        assert uid is not None
        panels = window.view.videos
        qtbot.waitUntil(lambda: uid in panels.pictures, timeout=30000)
        p = window.room.participants[uid]
        assert p.mode is MediaMode.VIDEO and p.name == "Web"
        assert window.scene.participants[uid].label.text == "Web"
        picture = panels.pictures[uid]
        h, w = picture.shape[:2]  # 640x480, or smaller when Chrome scales its sending down
        assert w >= 320 and abs(w / h - 4 / 3) < 0.02, picture.shape
        # the panel is where its picture is drawn: hiding it changes those pixels, and what is
        # drawn there has the picture's colours
        points = [(u, v) for u in (0.2, 0.5, 0.8) for v in (0.2, 0.5, 0.8)]
        pixels = [tuple(int(c) for c in panels.picture_to_canvas(uid, u, v)) for u, v in points]
        shown = window.scene.render()
        panels.panels[uid].visible = False
        hidden = window.scene.render()
        panels.panels[uid].visible = True
        h, w = shown.shape[:2]
        inside = [(x, y) for x, y in pixels if 0 <= x < w and 0 <= y < h]
        assert len(inside) == len(points), (pixels, (w, h))
        changed = [np.abs(shown[y, x, :3].astype(int) - hidden[y, x, :3]).sum() for x, y in inside]
        assert sum(d > 30 for d in changed) >= 6, changed
        drawn = np.mean([shown[y, x, :3] for x, y in inside], axis=0)
        assert np.abs(drawn - picture.reshape(-1, 3).mean(axis=0)).max() < 60, drawn
        page.evaluate("window.holocall.leave()")
        qtbot.waitUntil(lambda: uid not in panels.panels, timeout=20000)
    finally:
        page.close()
    window.leave_call()
