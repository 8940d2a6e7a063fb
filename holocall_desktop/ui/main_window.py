"""The HoloCall main window: the 3-D room, the source picker, playback controls, statistics.

Frames come from a :class:`~holocall_desktop.capture.runner.SourceRunner` (capture thread) through
its latest-frame mailbox; a GUI timer takes the newest one and hands it to the scene. Errors from
any source are shown in the window's banner as one line; nothing here shows a stack trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
from PySide6.QtCore import QObject, QPoint, QRect, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.capture.base import FrameSource, PlaybackControl, SourceError
from holocall_desktop.capture.runner import Processor, SourceRunner
from holocall_desktop.model import DepthFrame
from holocall_desktop.render.scene import HoloScene
from holocall_desktop.ui.settings import AppSettings
from holocall_desktop.ui.widgets import ErrorBanner, PlaybackBar, RateMeter

log = logging.getLogger(__name__)

SELF_ID = "self"
OPEN_RECORDING = "__open__"
RECORDING_FILTER = "RealSense recordings (*.bag *.db3);;All files (*)"


class _Bridge(QObject):
    """Carries notifications from the capture thread to the GUI thread (queued signals)."""

    error = Signal(str)
    finished = Signal()


def describe_source(spec: str) -> str:
    if spec == "synthetic":
        return "Synthetic person"
    if spec.startswith("camera"):
        serial = spec.partition(":")[2]
        return f"RealSense camera {serial}".strip()
    return Path(spec).name


class MainWindow(QMainWindow):
    frame_drawn = Signal(int)  # frame number, after the scene got a new frame

    def __init__(
        self,
        settings: AppSettings | None = None,
        source: str | None = None,
        remove_background: bool | None = None,
        scene_size: tuple[int, int] = (1024, 640),
    ) -> None:
        super().__init__()
        self.setWindowTitle("HoloCall")
        self.settings = settings or AppSettings()
        self.runner: SourceRunner | None = None
        self.source_spec = ""
        self.frames_drawn = 0
        self.last_frame: DepthFrame | None = None
        self._rate = RateMeter()
        self._draw_started = 0.0
        self._bridge = _Bridge()
        self._bridge.error.connect(self.show_error)
        self._bridge.finished.connect(self._on_finished)

        self.scene = HoloScene(size=scene_size)
        self.scene.canvas.events.draw.connect(self._on_draw_start, position="first")
        self.scene.canvas.events.draw.connect(self._on_draw_end, position="last")

        self.banner = ErrorBanner()
        self.playback = PlaybackBar()
        self.playback.hide()
        self._wire_playback()

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.scene.canvas.native, 1)
        layout.addWidget(self.playback)
        self.setCentralWidget(central)

        self._build_toolbar(remove_background)
        self.stats_label = QLabel("")
        self.statusBar().addPermanentWidget(self.stats_label)

        if self.settings.geometry:
            self.restoreGeometry(self.settings.geometry)
        else:
            self.resize(scene_size[0], scene_size[1] + 120)

        self._timer = QTimer(self)
        self._timer.setInterval(8)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        self._stats_timer = QTimer(self)
        self._stats_timer.setInterval(500)
        self._stats_timer.timeout.connect(self._update_stats)
        self._stats_timer.start()

        initial = source or self.settings.source or "synthetic"
        self.open_source(initial)

    # -- toolbar ---------------------------------------------------------------------------
    def _build_toolbar(self, remove_background: bool | None) -> None:
        bar = QToolBar("Source")
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Source "))
        self.source_box = QComboBox()
        self.source_box.setMinimumWidth(260)
        self._fill_sources()
        self.source_box.activated.connect(self._on_source_chosen)
        bar.addWidget(self.source_box)
        self.background_box = QCheckBox("Remove background")
        checked = (
            self.settings.remove_background if remove_background is None else remove_background
        )
        self.background_box.setChecked(checked)
        self.background_box.toggled.connect(self._on_background_toggled)
        bar.addWidget(self.background_box)
        depth = QPushButton("Depth settings…")
        depth.clicked.connect(self.edit_depth_settings)
        bar.addWidget(depth)
        reset = QPushButton("Reset view")
        reset.clicked.connect(self.scene.reset_camera)
        bar.addWidget(reset)

    def _fill_sources(self) -> None:
        box = self.source_box
        box.clear()
        box.addItem("Synthetic person", "synthetic")
        for dev in _cameras():
            box.addItem(f"{dev[0]} ({dev[1]})", f"camera:{dev[1]}")
        recent = self.settings.recent_recording
        if recent and Path(recent).exists():
            box.addItem(f"Recording: {Path(recent).name}", recent)
        box.addItem("Open recording…", OPEN_RECORDING)

    def _select_in_box(self, spec: str) -> None:
        index = self.source_box.findData(spec)
        if index < 0:
            self.source_box.insertItem(self.source_box.count() - 1, describe_source(spec), spec)
            index = self.source_box.findData(spec)
        self.source_box.setCurrentIndex(index)

    def _on_source_chosen(self, index: int) -> None:
        spec = self.source_box.itemData(index)
        if spec == OPEN_RECORDING:
            start_dir = (
                str(Path(self.settings.recent_recording).parent)
                if self.settings.recent_recording
                else ""
            )
            path, _ = QFileDialog.getOpenFileName(
                self, "Open recording", start_dir, RECORDING_FILTER
            )
            if not path:
                self._select_in_box(self.source_spec)
                return
            spec = path
        self.open_source(str(spec))

    def _on_background_toggled(self, checked: bool) -> None:
        self.settings.remove_background = checked
        if self.runner is not None:
            self.runner.processors = self._processors()

    # -- sources ---------------------------------------------------------------------------
    def _processors(self) -> list[Processor]:
        if not self.background_box.isChecked():
            return []
        from holocall_desktop.processing.background import remove_background

        depth = self.settings.depth
        near, far, largest = depth.background_near, depth.background_far, depth.largest_component
        return [lambda frame: remove_background(frame, near, far, largest)]

    def edit_depth_settings(self) -> None:
        from holocall_desktop.ui.depth_settings import DepthSettingsDialog

        dialog = DepthSettingsDialog(self.settings.depth, self)
        if dialog.exec() != DepthSettingsDialog.DialogCode.Accepted:
            return
        try:
            self.settings.depth = dialog.settings()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if self.source_spec:
            self.open_source(self.source_spec)  # the camera mode and filters apply on opening

    def open_source(self, spec: str) -> bool:
        """Switch to another source; on failure the banner says why and the old one is gone."""
        self.close_source()
        self.banner.hide()
        self.source_spec = spec
        self._select_in_box(spec)
        try:
            source = _open(spec, self.settings)
        except SourceError as exc:
            self.show_error(str(exc))
            return False
        if isinstance(source, PlaybackControl):
            self.settings.recent_recording = spec
            source.speed = self.settings.speed
            self.playback.set_options(self.settings.loop, self.settings.speed)
            self.playback.play_button.setChecked(True)
            self.playback.set_duration(0.0)
            self.playback.show()
        else:
            self.playback.hide()
        self.settings.source = spec
        self.scene.add_participant(SELF_ID, f"You · {describe_source(spec)}")
        self.runner = SourceRunner(
            source,
            processors=self._processors(),
            on_error=self._bridge.error.emit,
            on_finished=self._bridge.finished.emit,
        )
        self.runner.start()
        self.statusBar().showMessage(f"Source: {describe_source(spec)}")
        return True

    def close_source(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        self.scene.remove_participant(SELF_ID)
        self.last_frame = None

    def _playback(self) -> PlaybackControl | None:
        if self.runner is not None and isinstance(self.runner.source, PlaybackControl):
            return self.runner.source
        return None

    # -- playback --------------------------------------------------------------------------
    def _wire_playback(self) -> None:
        pb = self.playback
        pb.play_toggled.connect(
            lambda playing: self._control(lambda s: s.resume() if playing else s.pause())
        )
        pb.step_requested.connect(lambda: self._control(lambda s: s.step()))
        pb.seek_requested.connect(lambda t: self._control(lambda s: s.seek(t)))
        pb.loop_toggled.connect(self._set_loop)
        pb.speed_changed.connect(self._set_speed)

    def _control(self, command: Callable[[PlaybackControl], None]) -> None:
        """Run a playback command on the capture thread (the only thread touching the source)."""
        runner = self.runner
        if runner is not None and isinstance(runner.source, PlaybackControl):
            runner.call(lambda source: command(cast(PlaybackControl, source)))

    def _set_loop(self, loop: bool) -> None:
        self.settings.loop = loop

        def apply(source: PlaybackControl) -> None:
            source.loop = loop

        self._control(apply)

    def _set_speed(self, speed: float) -> None:
        self.settings.speed = speed

        def apply(source: PlaybackControl) -> None:
            source.speed = speed

        self._control(apply)

    def _on_finished(self) -> None:
        self.statusBar().showMessage("End of recording", 3000)

    # -- frames ----------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.runner is None:
            return
        captured = self.runner.mailbox.take()
        if captured is None:
            return
        frame = captured.frame
        first = self.last_frame is None
        self.scene.set_frame(SELF_ID, frame)
        self.last_frame = frame
        self.frames_drawn += 1
        if first and self._playback() is not None:
            pb = self._playback()
            assert pb is not None
            self.playback.set_duration(pb.duration)
        self.frame_drawn.emit(frame.frame_number)

    def _on_draw_start(self, _event: object) -> None:
        self._draw_started = time.perf_counter()

    def _on_draw_end(self, _event: object) -> None:
        if self.last_frame is not None:
            self._rate.tick(time.perf_counter() - self._draw_started)

    def _update_stats(self) -> None:
        frame = self.last_frame
        size = f"{frame.width}×{frame.height}" if frame is not None else "no frame"
        self.stats_label.setText(
            f"{self._rate.fps:5.1f} fps · draw {self._rate.frame_ms:5.1f} ms · {size}"
        )
        pb = self._playback()
        if pb is not None:
            self.playback.set_position(pb.position)

    @property
    def fps(self) -> float:
        return self._rate.fps

    def screenshot(self) -> QPixmap:
        """The window as the user sees it (the GL canvas is rendered offscreen and composited)."""
        pixmap = self.grab()
        widget = self.scene.canvas.native
        image = np.ascontiguousarray(self.scene.render()[..., :3])
        h, w = image.shape[:2]
        qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        painter = QPainter(pixmap)
        painter.drawImage(QRect(widget.mapTo(self, QPoint(0, 0)), widget.size()), qimage)
        painter.end()
        return pixmap

    # -- errors and shutdown ---------------------------------------------------------------
    def show_error(self, message: str) -> None:
        log.warning("%s", message)
        self.banner.show_message(message)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        self._stats_timer.stop()
        self.close_source()
        self.settings.geometry = bytes(self.saveGeometry().data())
        self.settings.sync()
        self.scene.close()
        super().closeEvent(event)


def _open(spec: str, settings: AppSettings) -> FrameSource:
    from holocall_desktop.capture.open import open_source

    depth = settings.depth
    filters = depth.filters if depth.filters.any_enabled else None
    return open_source(
        spec, realtime=True, loop=settings.loop, filters=filters, camera_mode=depth.camera_mode
    )


def _cameras() -> list[tuple[str, str]]:
    try:
        from holocall_desktop.capture.realsense import list_devices

        return [(d.name, d.serial) for d in list_devices()]
    except Exception:  # no SDK backend, no USB: the picker simply lists no camera
        log.debug("camera enumeration failed", exc_info=True)
        return []
