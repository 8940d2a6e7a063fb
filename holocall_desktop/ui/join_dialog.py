"""The pre-join screen: your own picture, your name, where to join, and your camera,
microphone (with its level) and speaker, before you are in the call.

:class:`PreJoinDialog` shows the colour picture of the window's current source (what your
hologram is made of) as it comes, lets you pick another source and the audio devices, and
meters the chosen microphone (``audio/level.py``); a microphone that cannot be opened says why
under the meter and the call goes on without voice. :func:`ask_join` applies what was chosen
(the source, the devices, remembered in the settings) and returns the call to start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.audio.errors import AudioDeviceError
from holocall_desktop.audio.level import FLOOR_DB, MicrophoneLevel
from holocall_desktop.model import DepthFrame
from holocall_desktop.transport.api import CallConfig
from holocall_desktop.transport.invite import InviteError, parse_invite
from holocall_desktop.ui.audio_dialog import DEFAULT, fill_device_boxes
from holocall_desktop.ui.settings import AppSettings
from holocall_desktop.ui.sources import OPEN_RECORDING
from holocall_desktop.ui.toolbars import SourceBar
from holocall_desktop.ui.widgets import to_pixmap

PREVIEW_SIZE = (320, 240)
#: how often the preview and the meter are refreshed
REFRESH_MS = 66


@dataclass(frozen=True)
class PreJoinChoice:
    config: CallConfig
    source: str  # the source spec chosen
    microphone: str  # "" = the system default
    speaker: str


class PreJoinDialog(QDialog):
    def __init__(
        self,
        settings: AppSettings,
        preview: Callable[[], npt.NDArray[np.uint8] | None],
        sources: list[tuple[str, str]],
        source: str,
        invite: str = "",
        parent: QWidget | None = None,
        on_source: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join a call")
        self._user_id = settings.user_id
        self._preview = preview
        self._choice: PreJoinChoice | None = None
        self.level: MicrophoneLevel | None = None
        columns = QHBoxLayout(self)
        columns.addLayout(self._build_preview(sources, source))
        if on_source is not None:  # another camera: switched to at once (the preview shows it)
            self.source_box.activated.connect(lambda i: on_source(str(self.source_box.itemData(i))))
        right = QVBoxLayout()
        columns.addLayout(right)
        right.addLayout(self._build_where(settings.call_server, settings.display_name, invite))
        right.addLayout(self._build_audio(settings.microphone, settings.speaker))
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #e57373")
        self.error_label.setWordWrap(True)
        right.addWidget(self.error_label)
        right.addStretch(1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Join now")
        buttons.accepted.connect(self._try_accept)
        buttons.rejected.connect(self.reject)
        right.addWidget(buttons)
        self.finished.connect(self._close_meter)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)
        self._timer.start()
        self._open_meter()

    # ---- layout ------------------------------------------------------------------------------

    def _build_preview(self, sources: list[tuple[str, str]], source: str) -> QVBoxLayout:
        column = QVBoxLayout()
        self.preview_label = QLabel("Waiting for your picture…")
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setFixedSize(*PREVIEW_SIZE)
        self.preview_label.setStyleSheet("background: #111; color: #bbb; border-radius: 6px")
        column.addWidget(self.preview_label)
        self.source_box = QComboBox()
        for label, spec in sources:
            self.source_box.addItem(label, spec)
        index = self.source_box.findData(source)
        if index < 0:
            self.source_box.addItem(source, source)
            index = self.source_box.count() - 1
        self.source_box.setCurrentIndex(index)
        self.source_box.setToolTip("What your hologram is made of (the window switches to it)")
        form = QFormLayout()
        form.addRow("Camera", self.source_box)
        column.addLayout(form)
        column.addStretch(1)
        return column

    def _build_where(self, server: str, name: str, invite: str) -> QFormLayout:
        form = QFormLayout()
        self.join_radio = QRadioButton("Join with an invite link")
        self.create_radio = QRadioButton("Start a new room")
        group = QButtonGroup(self)
        group.addButton(self.join_radio)
        group.addButton(self.create_radio)
        self.invite_edit = QLineEdit(invite)
        self.invite_edit.setPlaceholderText("holocall://host:3000/room?invite=…")
        self.server_edit = QLineEdit(server)
        self.server_edit.setPlaceholderText("http://host:3000")
        self.name_edit = QLineEdit(name)
        self.name_edit.setMaxLength(40)
        form.addRow("Your name", self.name_edit)
        form.addRow(self.join_radio)
        form.addRow("Invite link", self.invite_edit)
        form.addRow(self.create_radio)
        form.addRow("Server", self.server_edit)
        (self.join_radio if invite or not server else self.create_radio).setChecked(True)
        self.join_radio.toggled.connect(self._sync_enabled)
        self._sync_enabled()
        return form

    def _build_audio(self, microphone: str, speaker: str) -> QFormLayout:
        form = QFormLayout()
        self.mic_box, self.speaker_box = QComboBox(), QComboBox()
        self.audio_message = QLabel("")
        self.audio_message.setWordWrap(True)
        fill_device_boxes(self.mic_box, self.speaker_box, microphone, speaker, self.audio_message)
        self.meter = QProgressBar()
        self.meter.setRange(0, int(-FLOOR_DB))
        self.meter.setTextVisible(False)
        self.meter.setToolTip("Your microphone's level: speak to see it move")
        form.addRow("Microphone", self.mic_box)
        form.addRow("Level", self.meter)
        form.addRow("Speaker", self.speaker_box)
        form.addRow(self.audio_message)
        self.mic_box.currentIndexChanged.connect(self._open_meter)
        return form

    # ---- the picture and the meter -----------------------------------------------------------

    def _refresh(self) -> None:
        image = self._preview()
        if image is not None:
            pixmap = to_pixmap(image).scaled(
                self.preview_label.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.preview_label.setPixmap(pixmap)
        if self.level is not None:
            try:
                self.meter.setValue(int(self.level.level_db() - FLOOR_DB))
            except AudioDeviceError as exc:
                self._close_meter()
                self.audio_message.setText(f"Voice off: {exc}")

    def _open_meter(self) -> None:
        self._close_meter()
        chosen = str(self.mic_box.currentData() or DEFAULT)
        try:
            level = MicrophoneLevel(chosen or None)
            level.start()
        except (AudioDeviceError, OSError) as exc:
            self.meter.setEnabled(False)
            self.audio_message.setText(f"Voice off: {exc}")
            return
        self.level = level
        self.meter.setEnabled(True)
        self.audio_message.setText(f"Listening to {level.name}")

    def _close_meter(self) -> None:
        level, self.level = self.level, None
        self.meter.setValue(0)
        if level is not None:
            level.close()

    # ---- the answer --------------------------------------------------------------------------

    def _sync_enabled(self) -> None:
        joining = self.join_radio.isChecked()
        self.invite_edit.setEnabled(joining)
        self.server_edit.setEnabled(not joining)

    def config(self) -> CallConfig:
        """The call to start, or ``ValueError`` with a message for the user."""
        name = self.name_edit.text().strip()
        if not name:
            raise ValueError("Please enter your name: the others see it above your hologram.")
        if self.join_radio.isChecked():
            try:
                invite = parse_invite(self.invite_edit.text())
            except InviteError as exc:
                raise ValueError(str(exc)) from None
            return CallConfig(
                server=invite.server,
                user_id=self._user_id,
                display_name=name,
                room_id=invite.room_id,
                invite_secret=invite.invite_secret,
            )
        server = self.server_edit.text().strip().rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise ValueError("The server address starts with http:// or https://")
        return CallConfig(server=server, user_id=self._user_id, display_name=name, create_room=True)

    def _try_accept(self) -> None:
        try:
            config = self.config()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        self._choice = PreJoinChoice(
            config,
            str(self.source_box.currentData()),
            str(self.mic_box.currentData() or DEFAULT),
            str(self.speaker_box.currentData() or DEFAULT),
        )
        self.accept()

    @property
    def choice(self) -> PreJoinChoice | None:
        return self._choice


class Window(Protocol):
    """What :func:`ask_join` uses of the main window."""

    settings: AppSettings
    source_spec: str
    source_bar: SourceBar
    last_frame: DepthFrame | None

    def open_source(self, spec: str) -> bool: ...


def prejoin_dialog(window: Window, invite: str = "") -> PreJoinDialog:
    """The pre-join screen for ``window`` (its sources, its current picture)."""
    box = window.source_bar.source_box
    sources = [
        (box.itemText(i), str(box.itemData(i)))
        for i in range(box.count())
        if box.itemData(i) != OPEN_RECORDING
    ]

    def picture() -> npt.NDArray[np.uint8] | None:
        frame = window.last_frame
        return frame.color if frame is not None else None

    parent = window if isinstance(window, QWidget) else None
    return PreJoinDialog(
        window.settings,
        picture,
        sources,
        window.source_spec,
        invite,
        parent,
        on_source=window.open_source,
    )


def ask_join(window: Window) -> CallConfig | None:
    """Show the pre-join screen (a camera chosen there is opened at once); remember the devices
    chosen; the call to start (None when cancelled)."""
    dialog = prejoin_dialog(window)
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.choice is None:
        return None
    choice = dialog.choice
    window.settings.microphone, window.settings.speaker = choice.microphone, choice.speaker
    if choice.source != window.source_spec:
        window.open_source(choice.source)
    return choice.config
