"""The window's source row (layout only; the window wires it to the session). The call's bar
is in ``ui/call_bar.py``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QToolBar,
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
