"""The "Audio devices" dialog: pick the microphone and the speaker (remembered by name)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from holocall_desktop.audio.errors import AudioDeviceError

DEFAULT = ""  # the system's default device


def fill_device_boxes(
    mic_box: QComboBox, speaker_box: QComboBox, microphone: str, speaker: str, message: QLabel
) -> None:
    """The system default and every microphone / speaker, with the remembered ones chosen (a
    remembered device not connected now stays selectable); why there are none in ``message``."""
    for box in (mic_box, speaker_box):
        box.addItem("System default", DEFAULT)
    try:
        from holocall_desktop.audio.devices import list_devices

        devices = list_devices()
    except (AudioDeviceError, OSError) as exc:
        devices = []
        message.setText(str(exc))
    for dev in devices:
        if dev.is_input:
            mic_box.addItem(dev.name, dev.name)
        if dev.max_output_channels > 0:
            speaker_box.addItem(dev.name, dev.name)
    if not devices and not message.text():
        message.setText("No audio devices were found; calls go on without voice.")
    for box, name in ((mic_box, microphone), (speaker_box, speaker)):
        index = box.findData(name)
        if index < 0 and name:
            box.addItem(f"{name} (not connected)", name)
            index = box.count() - 1
        box.setCurrentIndex(max(0, index))


class AudioDevicesDialog(QDialog):
    def __init__(self, microphone: str, speaker: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audio devices")
        form = QFormLayout(self)
        self.mic_box = QComboBox()
        self.speaker_box = QComboBox()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        fill_device_boxes(self.mic_box, self.speaker_box, microphone, speaker, self.message)
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
