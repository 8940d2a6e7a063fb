"""What the system hands to the running app (macOS: QFileOpenEvent) joins or plays it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QFileOpenEvent

from holocall_desktop.ui.open_events import OpenRequests

SECRET = "v7CKxjvPL9leMU4AglKQEeMPWyEOA9fx"


def _open(qapp: Any, window: Any, event: QFileOpenEvent) -> None:
    requests = OpenRequests(window)
    qapp.installEventFilter(requests)
    try:
        QCoreApplication.sendEvent(qapp, event)
    finally:
        qapp.removeEventFilter(requests)


def test_an_opened_recording_plays_in_the_window(
    make_window: Any, qtbot: Any, qapp: Any, d435_db3: Path
) -> None:
    window = make_window("synthetic")
    _open(qapp, window, QFileOpenEvent(QUrl.fromLocalFile(str(d435_db3))))
    qtbot.waitUntil(lambda: window.source_box.currentData() == str(d435_db3), timeout=15000)
    qtbot.waitUntil(lambda: window.last_frame is not None and window.last_frame.width == 640)


def test_an_opened_invite_link_joins_and_a_bad_one_says_why(
    make_window: Any, qtbot: Any, qapp: Any
) -> None:
    window = make_window("synthetic")
    _open(qapp, window, QFileOpenEvent(QUrl("holocall://example.invalid:1/room1")))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10000)
    assert "invite" in window.banner.message.lower(), window.banner.message
    assert window.call is None
    joined: list[Any] = []
    window.join_call = lambda config: joined.append(config) or True  # the call itself: elsewhere
    link = f"holocalls://calls.example.org:8443/room1?invite={SECRET}"
    _open(qapp, window, QFileOpenEvent(QUrl(link)))
    (config,) = joined
    assert config.server == "https://calls.example.org:8443"
    assert (config.room_id, config.invite_secret) == ("room1", SECRET)
