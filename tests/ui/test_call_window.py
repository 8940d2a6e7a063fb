"""Calls in the window: a real in-process signaling server, a simulated participant streaming
the synthetic person over real aiortc, and the window joining like a guest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from holocall_desktop.demo import GREETING, DemoBackend
from holocall_desktop.transport.api import CallConfig, CallState
from holocall_desktop.ui.main_window import SELF_ID

pytestmark = pytest.mark.gui

AVA = "ava-simulated"


def _shirts(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rgb = image[..., :3].astype(int)
    red = (rgb[..., 0] > 120) & (rgb[..., 0] > rgb[..., 1] + 60) & (rgb[..., 0] > rgb[..., 2] + 60)
    blue = (rgb[..., 2] > 120) & (rgb[..., 2] > rgb[..., 0] + 60)
    return red, blue


def _join(window: Any, qtbot: Any, demo: DemoBackend) -> CallConfig:
    config = demo.start(window.settings.user_id, "Tester")
    assert window.join_call(config)
    qtbot.waitUntil(lambda: window.call.state is CallState.JOINED, timeout=20000)
    qtbot.waitUntil(lambda: window.call.frames_shown.get(AVA, 0) >= 3, timeout=30000)
    qtbot.waitUntil(lambda: not window.scene.animate(0.0), timeout=5000)  # materialised
    return config


def test_joining_shows_the_remote_hologram_self_view_and_stats(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    config = _join(window, qtbot, demo)
    assert SELF_ID not in window.scene.participants  # you are in the corner now, not at a seat
    engine = window.call.engine
    assert engine is not None and engine.my_seat >= 0
    assert engine.my_seat != window.room.participants[AVA].server_seat  # the server seated us apart

    image = window.scene.render()
    red, blue = _shirts(image)
    h, w = red.shape
    x, y, sw, sh = window.scene.self_view_rect
    room = np.ones_like(red)
    room[y : y + sh, x : x + sw] = False
    # Ava (red shirt, seed 1) sits across the table in the room; you (blue) in the self-view,
    # drawn over the table behind it (the narrow window puts the table under the corner)
    assert (red & room)[: h * 3 // 4, w // 4 : w * 3 // 4].sum() > 500
    assert blue[y : y + sh, x : x + sw].sum() > 50
    assert not (blue & room).any()

    assert "Ava (simulated)" in window.participants_panel.text_of(AVA)
    assert "hologram" in window.participants_panel.text_of(AVA)
    qtbot.waitUntil(lambda: len(window.stats_panel.series(AVA, "fps_in")) >= 1, timeout=15000)
    qtbot.waitUntil(lambda: window.call.join_time() is not None, timeout=10000)
    assert 0 < window.call.join_time() < 30
    link = window.copy_invite_link()
    assert link is not None and config.room_id in link

    window.leave_call()
    qtbot.waitUntil(lambda: AVA not in window.scene.participants, timeout=5000)
    assert SELF_ID in window.scene.participants  # back to the preview at the table
    assert window.scene.self_view_rect is None
    assert window.join_button.text() == "Join call…"


def test_a_participant_who_leaves_disappears(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    _join(window, qtbot, demo)
    assert demo.remote is not None
    demo.remote.stop()
    qtbot.waitUntil(lambda: AVA not in window.room, timeout=15000)
    qtbot.waitUntil(lambda: AVA not in window.scene.participants, timeout=5000)
    assert window.participants_panel.text_of(AVA) == ""
    red, _ = _shirts(window.scene.render())
    assert red.sum() < 50
    assert window.call.active  # you are still in the (now empty) room


def test_an_unreachable_server_is_reported_in_one_line(make_window: Any, qtbot: Any) -> None:
    window = make_window("synthetic")
    config = CallConfig(
        server="http://127.0.0.1:9",
        user_id="tester",
        display_name="Tester",
        room_id="room1",
        invite_secret="not-a-real-secret",
    )
    window.join_call(config)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=30000)
    message = window.banner.message
    assert message and "\n" not in message and "Traceback" not in message
    assert window.join_button.text() == "Join call…"
    assert SELF_ID in window.scene.participants


def test_chat_in_the_window_shows_text_as_text_and_reaches_the_others(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    _join(window, qtbot, demo)
    panel = window.chat_panel
    button = window.call_bar.chat_button
    # Ava greets you once you are connected; the hidden panel counts it on its button
    qtbot.waitUntil(lambda: bool(panel.lines), timeout=15000)
    assert panel.lines[0].text == GREETING and panel.lines[0].name == "Ava (simulated)"
    assert button.text() == "Chat (1)"
    button.click()
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    assert button.text() == "Chat"
    # what you write goes to Ava as it is; markup stays characters on both sides
    text = "<b>not bold</b> & <i>not italic</i>"
    panel.entry.setText(text)
    qtbot.keyClick(panel.entry, Qt.Key.Key_Return)
    assert panel.entry.text() == ""
    remote = demo.remote
    assert remote is not None
    qtbot.waitUntil(lambda: any(x.text == text for x in remote.room.chat), timeout=15000)
    line = next(x for x in remote.room.chat if x.text == text)
    assert line.name == "Tester" and not line.mine
    shown = panel.log.toPlainText()
    assert text in shown and GREETING in shown and "Tester" in shown
    # the message is one run of plain characters, not bold: no markup was applied
    block = panel.log.document().lastBlock()
    fragments = []
    it = block.begin()
    while not it.atEnd():
        fragments.append(it.fragment())
        it += 1
    assert [f.text() for f in fragments] == [text]
    assert fragments[0].charFormat().fontWeight() != QFont.Weight.Bold
    # a message that is too long is refused with the reason, and kept to edit
    panel.entry.setMaxLength(10_000)
    panel.entry.setText("x" * 600)
    panel.send()
    assert "at most 500" in panel.error.text() and panel.entry.text() == "x" * 600


def test_recording_from_the_window_and_being_asked_when_others_record(
    make_window: Any, qtbot: Any, demo: DemoBackend, tmp_path: Path
) -> None:
    from holocall_desktop.session.call_replay import CallReplay
    from holocall_desktop.session.recording import CallRecording

    window = make_window("synthetic")
    window.settings.recordings_dir = str(tmp_path / "calls")
    _join(window, qtbot, demo)
    remote = demo.remote
    assert remote is not None
    me = window.settings.user_id
    remote.session.set_consent(True, True)  # Ava lets others record her
    # Record: everyone learns it (Ava's app sees us recording), the status bar says REC
    window.call_bar.record_button.click()
    qtbot.waitUntil(lambda: remote.room.participants[me].recording, timeout=10000)
    assert "REC" in window.statusBar().currentMessage()
    qtbot.wait(3000)
    window.call_bar.record_button.click()  # stop
    qtbot.waitUntil(lambda: not remote.room.participants[me].recording, timeout=10000)
    files = list((tmp_path / "calls").glob("call-*.holocall"))
    assert len(files) == 1 and "saved" in window.statusBar().currentMessage()
    report = CallReplay(files[0]).run()
    ava = next(p for p in report["participants"] if p["userId"] == AVA)
    assert ava["allows"] == ["voice", "hologram"] and ava["decoded"] >= 10
    # Ava records: the window shows REC at her name and asks; until we answer, nothing of us
    recording = CallRecording(remote.session, tmp_path / "ava.holocall")
    try:
        qtbot.waitUntil(lambda: window.recording_controls.question is not None, timeout=10000)
        assert "REC" in window.participants_panel.text_of(AVA)
        assert window.call_bar.is_shown(window.call_bar.consent_button)
        box = window.recording_controls.question
        assert "Ava (simulated) is recording this call." in box.text()
        voice_only = next(b for b in box.buttons() if b.text() == "Voice only")
        voice_only.click()
        qtbot.waitUntil(lambda: remote.room.participants[me].allows_audio_recording, timeout=10000)
        assert not remote.room.participants[me].allows_hologram_recording
    finally:
        recording.stop()


def test_the_call_bar_has_icons_tooltips_and_shortcuts(
    make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    from holocall_desktop.ui.call_bar import SHORTCUTS

    window = make_window("synthetic")
    bar = window.call_bar
    assert window.toolBarArea(bar) is Qt.ToolBarArea.BottomToolBarArea
    for button in (bar.mute_button, bar.camera_button, bar.share_button, bar.chat_button):
        assert not button.icon().isNull()
        assert "Ctrl+Shift+" in button.toolTip()
    _join(window, qtbot, demo)
    assert bar.join_button.text() == "Leave call"
    assert SHORTCUTS["leave"] in bar.join_button.toolTip()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    assert window.media.camera_on
    qtbot.keyClick(window, Qt.Key.Key_O, ctrl_shift)  # camera off
    qtbot.waitUntil(lambda: not window.media.camera_on, timeout=5000)
    assert bar.camera_button.text() == "Camera off"
    qtbot.keyClick(window, Qt.Key.Key_C, ctrl_shift)  # the chat panel
    qtbot.waitUntil(lambda: bar.chat_button.isChecked(), timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_H, ctrl_shift)  # leave
    qtbot.waitUntil(lambda: bar.join_button.text() == "Join call…", timeout=10000)
    qtbot.keyClick(window, Qt.Key.Key_H, ctrl_shift)  # outside a call: nothing
    assert window.call is None
