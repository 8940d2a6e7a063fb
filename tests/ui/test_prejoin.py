"""The pre-join screen: your own picture as it comes (pixels), your name and where to join, the
camera and audio devices, the microphone's level from a real (virtual) sound server, and what
is chosen applied; a microphone that is not there says so in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from holocall_desktop.audio import AudioIO
from holocall_desktop.audio.virtual import VirtualSoundServer
from holocall_desktop.ui.join_dialog import PREVIEW_SIZE, prejoin_dialog

pytestmark = pytest.mark.gui


def _pixels(widget: Any) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * h)
    return data.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3)


def test_the_prejoin_screen_shows_you_and_meters_the_microphone(
    make_window: Any, qtbot: Any, sound: VirtualSoundServer, tmp_path: Path, d435_bag: Path
) -> None:
    window = make_window("synthetic")
    window.settings.display_name = "Tester"
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=15000)
    dialog = prejoin_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.preview_label.pixmap() is not None, timeout=5000)
    qtbot.waitUntil(lambda: not dialog.preview_label.pixmap().isNull(), timeout=5000)
    # your own picture: the synthetic person's blue shirt in the preview
    shot = _pixels(dialog.preview_label).astype(int)
    assert shot.shape[:2] == (PREVIEW_SIZE[1], PREVIEW_SIZE[0])
    blue = (shot[..., 2] > 120) & (shot[..., 2] > shot[..., 0] + 60)
    assert blue.sum() > 300
    assert dialog.name_edit.text() == "Tester"
    assert dialog.source_box.currentData() == "synthetic"
    # the microphone (the sound server's monitor) hears a tone played into the sink
    assert dialog.level is not None and dialog.meter.isEnabled()
    speaker = AudioIO(None, None, capture=False, playback=True)
    speaker.start()
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(480) / 48000)).astype(np.float32)
    block = np.repeat(tone[:, None], 2, axis=1)
    loudest = 0

    def heard() -> bool:
        nonlocal loudest
        while speaker.output_queued < 480 * 8:
            speaker.write(block)
        loudest = max(loudest, dialog.meter.value())
        return loudest > 40  # above -20 dBFS on the meter's 60 dB

    try:
        qtbot.waitUntil(heard, timeout=10000)
    finally:
        speaker.close()
    dialog.grab().save(str(tmp_path / "prejoin.png"))
    # another camera: the window switches at once (a recording here), and the preview follows
    window.settings.recent_recording = ""
    dialog.source_box.addItem("Recording", str(d435_bag))
    dialog.source_box.setCurrentIndex(dialog.source_box.count() - 1)
    dialog.source_box.activated.emit(dialog.source_box.count() - 1)
    qtbot.waitUntil(lambda: window.source_spec == str(d435_bag), timeout=5000)
    # choose: a new room on a server
    dialog.create_radio.setChecked(True)
    dialog.server_edit.setText("http://127.0.0.1:3000/")
    dialog.name_edit.setText("  Zoë ")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    choice = dialog.choice
    assert choice is not None and choice.source == str(d435_bag)
    assert choice.config.create_room and choice.config.server == "http://127.0.0.1:3000"
    assert choice.config.display_name == "Zoë"
    assert dialog.level is None  # the microphone is closed with the screen


def test_a_microphone_that_is_not_there_says_so(make_window: Any, qtbot: Any) -> None:
    window = make_window("synthetic")
    window.settings.microphone = "Nonexistent USB Mic"
    dialog = prejoin_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    message = dialog.audio_message.text()
    assert message.startswith("Voice off:") and "\n" not in message
    assert dialog.level is None and not dialog.meter.isEnabled()
    dialog.name_edit.setText("")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.choice is None and "your name" in dialog.error_label.text()
    dialog.reject()
