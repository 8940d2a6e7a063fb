"""The window's two toolbars: the source row and the call row (layout only; the window wires
them to the session)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolBar,
    QWidget,
)

from holocall_desktop.ui.sources import (
    OPEN_RECORDING,
    RECORDING_FILTER,
    cameras,
    describe_source,
    list_webcams,
)


class SourceBar(QToolBar):
    """Source picker, background removal, depth settings, reset view, avatar mode."""

    def __init__(self, remove_background: bool) -> None:
        super().__init__("Source")
        self.setMovable(False)
        self.addWidget(QLabel(" Source "))
        self.source_box = QComboBox()
        self.source_box.setMinimumWidth(260)
        self.addWidget(self.source_box)
        self.background_box = QCheckBox("Remove background")
        self.background_box.setChecked(remove_background)
        self.addWidget(self.background_box)
        self.depth_button = QPushButton("Depth settings…")
        self.addWidget(self.depth_button)
        self.reset_button = QPushButton("Reset view")
        self.addWidget(self.reset_button)
        self.avatar_button = QPushButton("Avatar mode")
        self.avatar_button.setCheckable(True)
        self.avatar_button.setToolTip(
            "Appear as an avatar driven by your face (colour camera) instead of a hologram"
        )
        self.addWidget(self.avatar_button)

    def fill(self, recent_recording: str) -> None:
        box = self.source_box
        box.clear()
        box.addItem("Synthetic person", "synthetic")
        for name, serial in cameras():
            box.addItem(f"{name} ({serial})", f"camera:{serial}")
        for index in list_webcams():
            box.addItem(f"Webcam {index} (avatar)", f"webcam:{index}")
        if recent_recording and Path(recent_recording).exists():
            box.addItem(f"Recording: {Path(recent_recording).name}", recent_recording)
        box.addItem("Open recording…", OPEN_RECORDING)

    def select(self, spec: str) -> None:
        box = self.source_box
        index = box.findData(spec)
        if index < 0:
            box.insertItem(box.count() - 1, describe_source(spec), spec)
            index = box.findData(spec)
        box.setCurrentIndex(index)

    def chosen(self, index: int, recent_recording: str) -> str | None:
        """The source at ``index``; for "Open recording…" the file the user picks (None when
        cancelled)."""
        spec = self.source_box.itemData(index)
        if spec != OPEN_RECORDING:
            return str(spec)
        start = str(Path(recent_recording).parent) if recent_recording else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", start, RECORDING_FILTER)
        return path or None

    def set_avatar_checked(self, on: bool) -> None:
        if self.avatar_button.isChecked() != on:
            self.avatar_button.blockSignals(True)
            self.avatar_button.setChecked(on)
            self.avatar_button.blockSignals(False)


class CallBar(QToolBar):
    """Join/leave, camera, microphone, audio devices, invite link, statistics, chat, screen
    share, recording."""

    def __init__(self) -> None:
        super().__init__("Call")
        self.setMovable(False)
        self._actions: dict[QWidget, QAction] = {}
        self.join_button = QPushButton("Join call…")
        self.camera_button = QPushButton("Camera on")
        self.camera_button.setCheckable(True)
        self.camera_button.setChecked(True)
        self.mute_button = QPushButton("Mute")
        self.mute_button.setCheckable(True)
        self.mute_button.setEnabled(False)
        self.level_meter = QProgressBar()
        self.level_meter.setRange(0, 60)  # -60..0 dBFS
        self.level_meter.setTextVisible(False)
        self.level_meter.setFixedWidth(90)
        self.level_meter.setToolTip("Your microphone level")
        self.voice_label = QLabel("")
        self.audio_button = QPushButton("Audio…")
        self.invite_button = QPushButton("Copy invite link")
        self.stats_button = QPushButton("Statistics")
        self.stats_button.setCheckable(True)
        self.chat_button = QPushButton("Chat")
        self.chat_button.setCheckable(True)
        self.chat_button.setToolTip("Messages to everyone in the call")
        self.share_button = QPushButton("Share screen")
        self.share_button.setCheckable(True)
        self.share_button.setToolTip("Show your screen to everyone in the call")
        self.popout_button = QPushButton("Pop out screen")
        self.popout_button.setToolTip("Show the shared screen in a window of its own")
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip(
            "Record the call to a file: everyone is asked, and only what each allows is kept"
        )
        self.consent_button = QPushButton("Recording consent…")
        self.consent_button.setToolTip("Change what recordings of this call may keep of you")
        for w in (
            self.join_button,
            self.camera_button,
            self.mute_button,
            self.level_meter,
            self.audio_button,
            self.invite_button,
            self.stats_button,
            self.chat_button,
            self.share_button,
            self.popout_button,
            self.record_button,
            self.consent_button,
            self.voice_label,
        ):
            self._actions[w] = self.addWidget(w)
        self.set_shown(self.popout_button, False)  # shown while someone shares with us
        self.set_shown(self.consent_button, False)  # shown while someone records
        self.camera_button.toggled.connect(
            lambda on: self.camera_button.setText("Camera on" if on else "Camera off")
        )
        self.mute_button.toggled.connect(
            lambda muted: self.mute_button.setText("Unmute" if muted else "Mute")
        )

    def set_shown(self, widget: QWidget, on: bool) -> None:
        """Show or hide one of the bar's widgets (through its action: a toolbar shows the
        widget of a visible action again whatever the widget was told)."""
        self._actions[widget].setVisible(on)

    def is_shown(self, widget: QWidget) -> bool:
        """Whether the bar shows ``widget`` (in the bar, or in its overflow menu)."""
        return self._actions[widget].isVisible()

    def set_voice_status(self, message: str) -> None:
        self.voice_label.setText(message[:80] + ("…" if len(message) > 80 else ""))
        self.voice_label.setToolTip(message)

    def sync(self, active: bool, voice: bool, invite: bool) -> None:
        self.join_button.setText("Leave call" if active else "Join call…")
        self.camera_button.setEnabled(active)
        self.mute_button.setEnabled(active and voice)
        self.level_meter.setEnabled(active and voice)
        if not active:
            self.voice_label.setText("")
        self.invite_button.setEnabled(active and invite)
        self.record_button.setEnabled(active)
        self.share_button.setEnabled(active)
