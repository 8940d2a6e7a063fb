"""The "Audio devices" dialog: pick the microphone and the speaker (remembered by name)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from holocall_desktop.audio.errors import AudioDeviceError

DEFAULT = ""  # the system's default device


class AudioDevicesDialog(QDialog):
    def __init__(self, microphone: str, speaker: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audio devices")
        form = QFormLayout(self)
        self.mic_box = QComboBox()
        self.speaker_box = QComboBox()
        for box in (self.mic_box, self.speaker_box):
            box.addItem("System default", DEFAULT)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        try:
            from holocall_desktop.audio.devices import list_devices

            devices = list_devices()
        except (AudioDeviceError, OSError) as exc:
            devices = []
            self.message.setText(str(exc))
        for dev in devices:
            if dev.is_input:
                self.mic_box.addItem(dev.name, dev.name)
            if dev.max_output_channels > 0:
                self.speaker_box.addItem(dev.name, dev.name)
        if not devices and not self.message.text():
            self.message.setText("No audio devices were found; calls go on without voice.")
        for box, name in ((self.mic_box, microphone), (self.speaker_box, speaker)):
            index = box.findData(name)
            if index < 0 and name:  # remembered but not connected now: keep it selectable
                box.addItem(f"{name} (not connected)", name)
                index = box.count() - 1
            box.setCurrentIndex(max(0, index))
        form.addRow("Microphone", self.mic_box)
        form.addRow("Speaker", self.speaker_box)
        form.addRow(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> tuple[str, str]:
        """(microphone, speaker) names; "" = the system default."""
        return str(self.mic_box.currentData()), str(self.speaker_box.currentData())
