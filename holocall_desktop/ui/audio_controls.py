"""The window's voice controls: starting the audio for a call, devices, meters, volumes.

Functions of the window (they read its settings and write its call bar), kept apart from the
window's layout. The voices themselves follow the room model through
:class:`~holocall_desktop.session.call.Voices`.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtWidgets import QStatusBar, QWidget

from holocall_desktop.audio.engine import AudioEngine
from holocall_desktop.audio.errors import AudioDeviceError
from holocall_desktop.session.call import CallSession
from holocall_desktop.ui.call_bar import CallBar
from holocall_desktop.ui.call_panels import ParticipantsPanel
from holocall_desktop.ui.settings import AppSettings


class MainWindow(Protocol):
    """What these controls use of the window."""

    settings: AppSettings
    call: CallSession | None
    call_bar: CallBar
    participants_panel: ParticipantsPanel
    _bridge: Any  # its audio_error signal carries device failures to the GUI thread

    def statusBar(self) -> QStatusBar: ...


def start_audio(window: MainWindow) -> AudioEngine | None:
    """The microphone and speaker for a call; None (voice off, reason shown) if they fail."""
    settings = window.settings
    audio = AudioEngine(
        settings.microphone or None,
        settings.speaker or None,
        on_error=lambda exc: window._bridge.audio_error.emit(str(exc)),
    )
    try:
        audio.start()
    except AudioDeviceError as exc:
        audio.close()
        window.call_bar.set_voice_status(f"Voice off: {exc}")
        return None
    window.call_bar.set_voice_status(audio.processing_message)
    return audio


def audio_failed(window: MainWindow, message: str) -> None:
    window.call_bar.set_voice_status(f"Voice off: {message}")
    window.statusBar().showMessage(message, 8000)


def _audio(window: MainWindow) -> AudioEngine | None:
    return window.call.audio if window.call is not None else None


def set_muted(window: MainWindow, muted: bool) -> None:
    audio = _audio(window)
    if audio is not None:
        audio.set_muted(muted)


def set_volume(window: MainWindow, percent: int) -> None:
    uid = window.participants_panel.selected()
    audio = _audio(window)
    if uid is not None and audio is not None:
        audio.set_volume(uid, percent / 100.0)


def edit_devices(window: MainWindow) -> None:
    from holocall_desktop.ui.audio_dialog import AudioDevicesDialog

    settings = window.settings
    parent = window if isinstance(window, QWidget) else None
    dialog = AudioDevicesDialog(settings.microphone, settings.speaker, parent)
    if dialog.exec() != AudioDevicesDialog.DialogCode.Accepted:
        return
    mic, speaker = dialog.choice()
    settings.microphone, settings.speaker = mic, speaker
    audio = _audio(window)
    if audio is not None:
        try:
            audio.set_devices(mic or None, speaker or None)
            window.call_bar.set_voice_status(audio.processing_message)
        except AudioDeviceError as exc:
            window.call_bar.set_voice_status(f"Voice off: {exc}")


def update_meters(window: MainWindow) -> None:
    """Your microphone level, and who is speaking (into the room model)."""
    call = window.call
    meter = window.call_bar.level_meter
    if call is None or call.audio is None:
        meter.setValue(0)
        return
    level = call.audio.input_level()
    meter.setValue(int(max(0.0, min(60.0, level.rms_dbfs + 60.0))))
    if call.voices is not None:
        call.voices.poll_speaker()
