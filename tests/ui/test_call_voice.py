"""Voice in the window: the simulated participant's voice arrives through real aiortc (Opus)
into real PortAudio devices on a private PulseAudio null sink, spatialised at her seat; she is
highlighted while she talks; mute and per-participant volume reach the audio engine."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from holocall_desktop.audio.virtual import VirtualSoundServer
from holocall_desktop.demo import DemoBackend
from holocall_desktop.transport.api import CallState

pytestmark = pytest.mark.gui

AVA = "ava-simulated"


def test_the_simulated_voice_is_heard_from_her_seat(
    sound: VirtualSoundServer, make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    assert window.join_call(demo.start(window.settings.user_id, "Listener"))
    assert window.call.audio is not None, window.voice_label.toolTip()
    audio = window.call.audio
    qtbot.waitUntil(lambda: window.call.state is CallState.JOINED, timeout=20000)
    assert window.mute_button.isEnabled()

    # her voice reaches our mixer and she becomes the active speaker, highlighted
    qtbot.waitUntil(lambda: audio.levels().get(AVA) is not None, timeout=20000)
    qtbot.waitUntil(lambda: audio.levels()[AVA].rms_dbfs > -50.0, timeout=30000)
    qtbot.waitUntil(lambda: audio.active_speaker() == AVA, timeout=15000)
    qtbot.waitUntil(lambda: "🔊" in window.participants_panel.text_of(AVA), timeout=5000)
    label = window.scene.participants[AVA].label
    assert tuple(label.color.rgba[0][:3]) != (1.0, 1.0, 1.0)  # not white: highlighted
    # across the table, straight ahead: her voice is centred
    info = {p.user_id: p for p in audio.participant_audio()}[AVA]
    assert abs(info.azimuth_deg) < 10.0

    window.mute_button.click()
    assert audio.muted and window.mute_button.text() == "Unmute"
    window.mute_button.click()
    assert not audio.muted

    panel = window.participants_panel
    for i in range(panel.list.count()):
        if panel.list.item(i).data(Qt.ItemDataRole.UserRole) == AVA:  # (her name may come later)
            panel.list.setCurrentRow(i)
    assert panel.selected() == AVA and panel.volume.isEnabled()
    panel.volume.setValue(50)
    assert audio.volume(AVA) == pytest.approx(0.5)
