"""The "Depth settings" dialog: camera mode, the SDK's post-processing filters, background range."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.capture.filters import FilterSettings

CAMERA_MODES: tuple[tuple[int, int, int], ...] = (
    (848, 480, 30),
    (640, 480, 30),
    (848, 480, 60),
    (640, 480, 60),
    (1280, 720, 30),
    (848, 480, 15),
)


@dataclass(frozen=True)
class DepthSettings:
    camera_mode: tuple[int, int, int] = CAMERA_MODES[0]
    filters: FilterSettings = field(default_factory=FilterSettings)
    background_near: float = 0.2
    background_far: float = 2.0
    largest_component: bool = False


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    layout.addStretch(1)
    return box


def _spin(lo: float, hi: float, step: float, value: float, decimals: int = 2) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setDecimals(decimals)
    s.setValue(value)
    return s


class DepthSettingsDialog(QDialog):
    def __init__(self, current: DepthSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Depth settings")
        f = current.filters
        layout = QVBoxLayout(self)

        camera = QGroupBox("RealSense camera")
        cam_form = QFormLayout(camera)
        self.mode_box = QComboBox()
        for w, h, fps in CAMERA_MODES:
            self.mode_box.addItem(f"{w}×{h} at {fps} fps", (w, h, fps))
        index = self.mode_box.findData(current.camera_mode)
        self.mode_box.setCurrentIndex(max(0, index))
        cam_form.addRow("Depth mode", self.mode_box)
        layout.addWidget(camera)

        filters = QGroupBox("Post-processing filters (camera and recordings)")
        form = QFormLayout(filters)
        self.decimation = QCheckBox("Decimation")
        self.decimation.setChecked(f.decimation)
        self.decimation_magnitude = QSpinBox()
        self.decimation_magnitude.setRange(2, 8)
        self.decimation_magnitude.setValue(f.decimation_magnitude)
        form.addRow(_row(self.decimation, self.decimation_magnitude))
        self.threshold = QCheckBox("Threshold (m)")
        self.threshold.setChecked(f.threshold)
        self.threshold_min = _spin(0.0, 10.0, 0.05, f.threshold_min)
        self.threshold_max = _spin(0.1, 16.0, 0.1, f.threshold_max)
        form.addRow(_row(self.threshold, self.threshold_min, self.threshold_max))
        self.spatial = QCheckBox("Spatial smoothing, alpha")
        self.spatial.setChecked(f.spatial)
        self.spatial_alpha = _spin(0.25, 1.0, 0.05, f.spatial_alpha)
        form.addRow(_row(self.spatial, self.spatial_alpha))
        self.temporal = QCheckBox("Temporal smoothing, alpha")
        self.temporal.setChecked(f.temporal)
        self.temporal_alpha = _spin(0.0, 1.0, 0.05, f.temporal_alpha)
        form.addRow(_row(self.temporal, self.temporal_alpha))
        self.hole_filling = QCheckBox("Hole filling")
        self.hole_filling.setChecked(f.hole_filling)
        self.hole_mode = QComboBox()
        for label in ("from the left", "farthest around", "nearest around"):
            self.hole_mode.addItem(label)
        self.hole_mode.setCurrentIndex(f.hole_filling_mode)
        form.addRow(_row(self.hole_filling, self.hole_mode))
        layout.addWidget(filters)

        background = QGroupBox("Background removal")
        bg_form = QFormLayout(background)
        self.near = _spin(0.0, 10.0, 0.05, current.background_near)
        self.far = _spin(0.1, 16.0, 0.1, current.background_far)
        bg_form.addRow("Keep from (m)", self.near)
        bg_form.addRow("to (m)", self.far)
        self.largest = QCheckBox("Keep only the largest connected shape (the person)")
        self.largest.setChecked(current.largest_component)
        bg_form.addRow(self.largest)
        layout.addWidget(background)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def settings(self) -> DepthSettings:
        """What the dialog shows; ``ValueError`` (with a readable message) for contradictions."""
        if self.near.value() >= self.far.value():
            raise ValueError("background removal: 'keep from' must be nearer than 'to'")
        filters = FilterSettings(
            decimation=self.decimation.isChecked(),
            decimation_magnitude=self.decimation_magnitude.value(),
            threshold=self.threshold.isChecked(),
            threshold_min=self.threshold_min.value(),
            threshold_max=self.threshold_max.value(),
            spatial=self.spatial.isChecked(),
            spatial_alpha=self.spatial_alpha.value(),
            temporal=self.temporal.isChecked(),
            temporal_alpha=self.temporal_alpha.value(),
            hole_filling=self.hole_filling.isChecked(),
            hole_filling_mode=self.hole_mode.currentIndex(),
        )
        return DepthSettings(
            camera_mode=tuple(self.mode_box.currentData()),
            filters=filters,
            background_near=self.near.value(),
            background_far=self.far.value(),
            largest_component=self.largest.isChecked(),
        )


def ask_depth_settings(
    current: DepthSettings, parent: QWidget | None = None
) -> DepthSettings | None:
    """The settings the user chose (None when cancelled); ``ValueError`` if they conflict."""
    dialog = DepthSettingsDialog(current, parent)
    if dialog.exec() != DepthSettingsDialog.DialogCode.Accepted:
        return None
    return dialog.settings()
