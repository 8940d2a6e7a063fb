"""The window's recording controls: *Record* in the call bar, the consent question, REC.

:class:`RecordingControls` follows the room model: when someone starts recording the call,
the window asks its user what that participant may keep (voice and hologram, voice only, or
nothing) and tells everyone the answer (our consent message); the answer holds for the rest
of the call and can be changed at any time (*Consent* in the call bar, shown while
someone records; a withdrawn consent stops their recording of you at once). *Record* records
the call to a file in the recordings folder (``AppSettings.recordings_dir``, by default the
videos folder's ``HoloCall``), everyone being asked by their own app; the status bar shows
REC while it runs, the participant list REC next to whoever records. Leaving the call stops
the recording.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QMessageBox, QStatusBar, QWidget

from holocall_desktop.session.call import CallSession
from holocall_desktop.session.recording import CallRecording
from holocall_desktop.session.room import (
    CallStateChanged,
    ParticipantAdded,
    ParticipantChanged,
    RoomEvent,
    RoomModel,
)
from holocall_desktop.transport.api import CallState
from holocall_desktop.ui.call_bar import CallBar
from holocall_desktop.ui.settings import AppSettings

#: the answers to "X is recording this call": (voice, hologram)
ANSWERS = {
    "Allow voice and hologram": (True, True),
    "Voice only": (True, False),
    "Refuse": (False, False),
}


class Window(Protocol):
    """What these controls use of the main window."""

    settings: AppSettings
    call: CallSession | None
    call_bar: CallBar
    room: RoomModel

    def statusBar(self) -> QStatusBar: ...


def recordings_folder(settings: AppSettings) -> Path:
    if settings.recordings_dir:
        return Path(settings.recordings_dir)
    videos = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
    return Path(videos or Path.home()) / "HoloCall"


class RecordingControls:
    def __init__(self, window: Window) -> None:
        self.window = window
        self.button = window.call_bar.record_button
        self.recording: CallRecording | None = None
        self.asked: set[str] = set()  # recorders the user was asked about in this call
        self.question: QMessageBox | None = None
        self.button.toggled.connect(self.set_recording)
        window.call_bar.consent_button.clicked.connect(lambda: self.ask(self._recorder_name()))
        window.room.subscribe(self._on_event)

    @property
    def status(self) -> QStatusBar:
        return self.window.statusBar()

    # ---- recording ourselves -----------------------------------------------------------------

    def set_recording(self, on: bool) -> None:
        if on and self.recording is None:
            call = self.window.call
            if call is None or not call.active:
                self._uncheck()
                return
            folder = recordings_folder(self.window.settings)
            path = folder / time.strftime("call-%Y%m%d-%H%M%S.holocall")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self.recording = CallRecording(call, path)
            except OSError as exc:
                self._uncheck()
                self.status.showMessage(str(exc), 8000)
                return
            self.status.showMessage(f"● REC — recording the call to {path}")
        elif not on:
            self._stop()

    def _stop(self) -> None:
        recording, self.recording = self.recording, None
        if recording is None:
            return
        recording.stop()
        self._uncheck()
        why = f" ({recording.error})" if recording.error else ""
        self.status.showMessage(f"Recording saved to {recording.path}{why}", 8000)

    def _uncheck(self) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(False)
        self.button.blockSignals(False)

    # ---- others recording us -----------------------------------------------------------------

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, CallStateChanged):
            if event.state in (CallState.LEFT, CallState.FAILED):
                self._stop()
                self.asked.clear()
        elif isinstance(event, ParticipantAdded | ParticipantChanged):
            p = event.participant
            if p.recording and p.user_id not in self.asked:
                self.asked.add(p.user_id)
                self.ask(p.name)
        bar = self.window.call_bar
        bar.set_shown(bar.consent_button, bool(self._recorder_name()))

    def _recorder_name(self) -> str:
        """Who records the call ("" when nobody does)."""
        names = [p.name for p in self.window.room.participants.values() if p.recording]
        return ", ".join(names)

    def ask(self, name: str) -> None:
        """Ask the user what ``name``'s recording may keep of them (not modal: the call goes
        on; until they answer, nothing of them is recorded)."""
        parent = self.window if isinstance(self.window, QWidget) else None
        box = QMessageBox(parent)
        box.setWindowTitle("Recording")
        box.setIcon(QMessageBox.Icon.Question)
        box.setText(f"{name} is recording this call.")
        box.setInformativeText(
            "What may the recording keep of you? Until you answer, nothing of you is recorded."
        )
        for text in ANSWERS:
            box.addButton(text, QMessageBox.ButtonRole.AcceptRole)
        box.buttonClicked.connect(lambda b: self.answer(b.text()))
        box.setModal(False)
        self.question = box
        box.show()

    def answer(self, text: str) -> None:
        call = self.window.call
        if call is None:
            return
        voice, hologram = ANSWERS[text]
        call.set_consent(voice, hologram)
        kept = {(True, True): "your voice and hologram", (True, False): "your voice"}
        self.status.showMessage(
            f"Recordings may keep {kept.get((voice, hologram), 'nothing of you')}", 8000
        )
