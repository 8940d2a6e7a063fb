"""The HoloCall main window: the 3-D room, the source picker, playback controls, statistics.

Frames come from a :class:`~holocall_desktop.capture.runner.SourceRunner` (capture thread) through
its latest-frame mailbox; a GUI timer takes the newest one and hands it to the scene. Errors from
any source are shown in the window's banner as one line; nothing here shows a stack trace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
from PySide6.QtCore import QObject, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.audio.engine import AudioEngine
from holocall_desktop.avatar.tracker import FaceTrackingWorker, TrackingState
from holocall_desktop.capture.base import FrameSource, PlaybackControl, SourceError
from holocall_desktop.capture.runner import Processor, SourceRunner
from holocall_desktop.demo import DemoBackend, DemoError
from holocall_desktop.model import DepthFrame
from holocall_desktop.render.scene import HoloScene
from holocall_desktop.transport.api import CallConfig, CallState
from holocall_desktop.ui.call_controller import CallController
from holocall_desktop.ui.call_panels import ParticipantsPanel, StatsPanel
from holocall_desktop.ui.settings import AppSettings
from holocall_desktop.ui.widgets import ErrorBanner, PlaybackBar, RateMeter

log = logging.getLogger(__name__)

SELF_ID = "self"
OPEN_RECORDING = "__open__"
RECORDING_FILTER = "RealSense recordings (*.bag *.db3);;All files (*)"


class _Bridge(QObject):
    """Carries notifications from worker threads to the GUI thread (queued signals)."""

    error = Signal(str)
    finished = Signal()
    demo_ready = Signal(object)
    audio_error = Signal(str)


def describe_source(spec: str) -> str:
    if spec == "synthetic":
        return "Synthetic person"
    if spec.startswith("webcam"):
        what = spec.partition(":")[2] or "0"
        return f"Webcam {what if what.isdigit() else Path(what).name}"
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
        self._bridge.demo_ready.connect(self._on_demo_ready)
        self._bridge.audio_error.connect(self._on_audio_error)
        self._demo: DemoBackend | None = None
        self.avatar_worker: FaceTrackingWorker | None = None
        self._avatar_automatic = False
        self.face_state: TrackingState | None = None

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

        self.participants_panel = ParticipantsPanel()
        self.stats_panel = StatsPanel()
        self.call = CallController(self.scene, self.participants_panel, self.stats_panel, self)
        self.call.state_changed.connect(self._on_call_state)
        self.participants_dock = self._dock("Participants", self.participants_panel, right=True)
        self.stats_dock = self._dock("Call statistics", self.stats_panel, right=False)
        self._build_toolbar(remove_background)
        self._build_call_toolbar()
        self._last_tick = time.monotonic()
        self._last_audio_ui = 0.0
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

        initial = source or self.settings.source or default_source()
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
        self.avatar_button = QPushButton("Avatar mode")
        self.avatar_button.setCheckable(True)
        self.avatar_button.setToolTip(
            "Appear as an avatar driven by your face (colour camera) instead of a hologram"
        )
        self.avatar_button.toggled.connect(lambda on: self.set_avatar_mode(on))
        bar.addWidget(self.avatar_button)

    def _fill_sources(self) -> None:
        box = self.source_box
        box.clear()
        box.addItem("Synthetic person", "synthetic")
        for dev in _cameras():
            box.addItem(f"{dev[0]} ({dev[1]})", f"camera:{dev[1]}")
        for index in list_webcams():
            box.addItem(f"Webcam {index} (avatar)", f"webcam:{index}")
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
        if not self.call.active:
            self.scene.add_participant(SELF_ID, _preview_label(spec))
        # no depth camera (a webcam): appear as an avatar, automatically
        if not getattr(source, "has_depth", True):
            self.set_avatar_mode(True, automatic=True)
        elif self._avatar_automatic:
            self.set_avatar_mode(False)
        if SELF_ID in self.scene.participants:  # a new preview keeps a manual avatar choice
            self.scene.use_avatar(SELF_ID, self.avatar_worker is not None)
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
        now = time.monotonic()
        self.scene.animate(now - self._last_tick)
        self._last_tick = now
        self.call.poll()
        self._poll_avatar()
        if now - self._last_audio_ui > 0.05:  # meters and the active speaker at 20 Hz
            self._last_audio_ui = now
            self._update_audio()
        if self.runner is None:
            return
        captured = self.runner.mailbox.take()
        if captured is None:
            return
        frame = captured.frame
        first = self.last_frame is None
        if self.avatar_worker is not None:
            self.avatar_worker.submit_depth_frame(frame)  # results arrive in _poll_avatar
        elif self.call.active:
            self.scene.set_self_frame(frame if self.call.camera_on else None)
            self.call.send(captured)
        elif SELF_ID in self.scene.participants:
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
        self.call.after_draw()
        if self.last_frame is not None:
            self._rate.tick(time.perf_counter() - self._draw_started)

    def _update_stats(self) -> None:
        frame = self.last_frame
        size = f"{frame.width}×{frame.height}" if frame is not None else "no frame"
        call = self._call_status()
        self.stats_label.setText(
            call + f"{self._rate.fps:5.1f} fps · draw {self._rate.frame_ms:5.1f} ms · {size}"
        )
        pb = self._playback()
        if pb is not None:
            self.playback.set_position(pb.position)

    def _call_status(self) -> str:
        if not self.call.active:
            return ""
        people = len(self.call.infos) + 1
        parts = [f"In call · {people} {'person' if people == 1 else 'people'}"]
        join = self.call.join_time()
        if join is not None:
            parts.append(f"joined in {join:.1f} s")
        latencies = [s.latency_ms for s in self.call.last_stats if s.latency_ms is not None]
        if latencies:
            parts.append(f"latency {max(latencies):.0f} ms")
        return " · ".join(parts) + "   |   "

    @property
    def fps(self) -> float:
        return self._rate.fps

    # -- avatar mode ------------------------------------------------------------------------
    def set_avatar_mode(self, on: bool, automatic: bool = False) -> bool:
        """Track the face in the source's colour images and appear as an avatar (True), or go
        back to the hologram. False when the face model is missing (the banner says why)."""
        self._avatar_automatic = automatic and on
        if on and self.avatar_worker is None:
            from holocall_desktop.avatar.model_files import FaceModelError
            from holocall_desktop.avatar.tracker import FaceTracker, FaceTrackingWorker

            try:
                self.avatar_worker = FaceTrackingWorker(FaceTracker()).start()
            except FaceModelError as exc:
                self.show_error(exc.user_message)
                self._set_avatar_button(False)
                return False
        elif not on and self.avatar_worker is not None:
            worker, self.avatar_worker = self.avatar_worker, None
            threading.Thread(target=worker.stop, name="face-tracker-stop", daemon=True).start()
            self.face_state = None
        self._set_avatar_button(on)
        self.call.set_avatar_mode(on)
        if SELF_ID in self.scene.participants:
            self.scene.use_avatar(SELF_ID, on)
        if not on and self.call.active:
            self.scene.set_self_avatar(None)
        return True

    def _set_avatar_button(self, on: bool) -> None:
        if self.avatar_button.isChecked() != on:
            self.avatar_button.blockSignals(True)
            self.avatar_button.setChecked(on)
            self.avatar_button.blockSignals(False)

    def _poll_avatar(self) -> None:
        worker = self.avatar_worker
        if worker is None:
            return
        if worker.error is not None:
            self.show_error(f"Face tracking stopped: {worker.error}")
            self.set_avatar_mode(False)
            return
        result = worker.results.take()
        if result is None:
            return
        self.face_state = result.state
        if result.frame is None:
            return
        if self.call.active:
            self.call.send_avatar(result.frame)
            if self.call.camera_on:
                self.scene.set_self_avatar(result.frame)
        elif SELF_ID in self.scene.participants:
            self.scene.set_avatar_frame(SELF_ID, result.frame)

    # -- calls ------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, right: bool) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        area = (
            Qt.DockWidgetArea.RightDockWidgetArea
            if right
            else Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.addDockWidget(area, dock)
        dock.hide()
        return dock

    def _build_call_toolbar(self) -> None:
        self.addToolBarBreak()
        bar = QToolBar("Call")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.join_button = QPushButton("Join call…")
        self.join_button.clicked.connect(self._join_or_leave)
        self.camera_button = QPushButton("Camera on")
        self.camera_button.setCheckable(True)
        self.camera_button.setChecked(True)
        self.camera_button.toggled.connect(self._toggle_camera)
        self.mute_button = QPushButton("Mute")
        self.mute_button.setCheckable(True)
        self.mute_button.setEnabled(False)
        self.mute_button.toggled.connect(self._toggle_mute)
        self.level_meter = QProgressBar()
        self.level_meter.setRange(0, 60)  # -60..0 dBFS
        self.level_meter.setTextVisible(False)
        self.level_meter.setFixedWidth(90)
        self.level_meter.setToolTip("Your microphone level")
        self.voice_label = QLabel("")
        self.audio_button = QPushButton("Audio…")
        self.audio_button.clicked.connect(self.edit_audio_devices)
        self.participants_panel.volume.valueChanged.connect(self._set_volume)
        self.invite_button = QPushButton("Copy invite link")
        self.invite_button.clicked.connect(self.copy_invite_link)
        self.stats_button = QPushButton("Statistics")
        self.stats_button.setCheckable(True)
        self.stats_button.toggled.connect(self.stats_dock.setVisible)
        buttons = (self.join_button, self.camera_button, self.mute_button, self.level_meter)
        for w in (*buttons, self.audio_button, self.invite_button, self.stats_button):
            bar.addWidget(w)
        bar.addWidget(self.voice_label)
        self._sync_call_controls()

    def _join_or_leave(self) -> None:
        if self.call.active:
            self.leave_call()
            return
        from holocall_desktop.ui.join_dialog import JoinDialog

        dialog = JoinDialog(
            self.settings.call_server,
            self.settings.display_name,
            self.settings.user_id,
            parent=self,
        )
        if dialog.exec() != JoinDialog.DialogCode.Accepted or dialog.result_config is None:
            return
        self.join_call(dialog.result_config)

    def join_call(self, config: CallConfig) -> bool:
        """Start a call (joins or creates the room); False with the reason in the banner."""
        self.banner.hide()
        self.settings.display_name = config.display_name
        if config.create_room:
            self.settings.call_server = config.server
        audio = self._start_audio()
        try:
            self.call.start(config, audio)
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        self.scene.remove_participant(SELF_ID)
        self.participants_dock.show()
        self.resizeDocks([self.participants_dock], [260], Qt.Orientation.Horizontal)
        self._sync_call_controls()
        return True

    def _start_audio(self) -> AudioEngine | None:
        """The microphone and speaker for a call; None (voice off, reason shown) if they fail."""
        from holocall_desktop.audio.engine import AudioEngine
        from holocall_desktop.audio.errors import AudioDeviceError

        audio = AudioEngine(
            self.settings.microphone or None,
            self.settings.speaker or None,
            on_error=lambda exc: self._bridge.audio_error.emit(str(exc)),
        )
        try:
            audio.start()
        except AudioDeviceError as exc:
            audio.close()
            self._set_voice_status(f"Voice off: {exc}")
            return None
        self._set_voice_status(audio.processing_message)
        return audio

    def _set_voice_status(self, message: str) -> None:
        self.voice_label.setText(message[:80] + ("…" if len(message) > 80 else ""))
        self.voice_label.setToolTip(message)

    def _on_audio_error(self, message: str) -> None:
        self._set_voice_status(f"Voice off: {message}")
        self.statusBar().showMessage(message, 8000)

    def _toggle_mute(self, muted: bool) -> None:
        self.mute_button.setText("Unmute" if muted else "Mute")
        if self.call.audio is not None:
            self.call.audio.set_muted(muted)

    def _set_volume(self, percent: int) -> None:
        uid = self.participants_panel.selected()
        if uid is not None and self.call.audio is not None:
            self.call.audio.set_volume(uid, percent / 100.0)

    def edit_audio_devices(self) -> None:
        from holocall_desktop.audio.errors import AudioDeviceError
        from holocall_desktop.ui.audio_dialog import AudioDevicesDialog

        dialog = AudioDevicesDialog(self.settings.microphone, self.settings.speaker, self)
        if dialog.exec() != AudioDevicesDialog.DialogCode.Accepted:
            return
        mic, speaker = dialog.choice()
        self.settings.microphone, self.settings.speaker = mic, speaker
        if self.call.audio is not None:
            try:
                self.call.audio.set_devices(mic or None, speaker or None)
                self._set_voice_status(self.call.audio.processing_message)
            except AudioDeviceError as exc:
                self._set_voice_status(f"Voice off: {exc}")

    def _update_audio(self) -> None:
        audio = self.call.audio
        if audio is None:
            self.level_meter.setValue(0)
            return
        level = audio.input_level()
        self.level_meter.setValue(int(max(0.0, min(60.0, level.rms_dbfs + 60.0))))
        self.call.update_speakers()

    def leave_call(self) -> None:
        self.call.leave()
        self._back_to_preview()

    def _back_to_preview(self) -> None:
        self.scene.set_self_frame(None)
        self.participants_dock.hide()
        if self.runner is not None and SELF_ID not in self.scene.participants:
            self.scene.add_participant(SELF_ID, _preview_label(self.source_spec))
        self._sync_call_controls()

    def _toggle_camera(self, on: bool) -> None:
        self.camera_button.setText("Camera on" if on else "Camera off")
        self.call.set_camera(on)
        if not on:
            self.scene.set_self_frame(None)

    def copy_invite_link(self) -> str | None:
        link = self.call.invite_link()
        if link:
            QGuiApplication.clipboard().setText(link)
            self.statusBar().showMessage(f"Invite link copied: {link}", 8000)
        return link

    def start_demo(self, backend: DemoBackend) -> None:
        """Start the demo's server and simulated participant (off the GUI thread), then join."""
        self._demo = backend
        name = self.settings.display_name or "You"
        user_id = self.settings.user_id
        self.statusBar().showMessage("Starting the demo call…")

        def work() -> None:
            try:
                self._bridge.demo_ready.emit(backend.start(user_id, name))
            except DemoError as exc:
                self._bridge.error.emit(str(exc))

        threading.Thread(target=work, name="demo-start", daemon=True).start()

    def _on_demo_ready(self, config: CallConfig) -> None:
        if self._demo is not None:
            self.join_call(config)

    def _on_call_state(self, state: CallState, message: str) -> None:
        if state is CallState.FAILED:
            self.show_error(message)
            self._back_to_preview()
        elif state is CallState.LEFT:
            self._back_to_preview()
        elif message:
            self.statusBar().showMessage(message, 5000)
        self._sync_call_controls()

    def _sync_call_controls(self) -> None:
        active = self.call.active
        self.join_button.setText("Leave call" if active else "Join call…")
        self.camera_button.setEnabled(active)
        self.mute_button.setEnabled(active and self.call.audio is not None)
        self.level_meter.setEnabled(active and self.call.audio is not None)
        if not active:
            self.voice_label.setText("")
        self.invite_button.setEnabled(active and self.call.invite_link() is not None)

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
        self.call.close(timeout=3.0)
        if self.avatar_worker is not None:
            self.avatar_worker.stop()
            self.avatar_worker = None
        if self._demo is not None:
            self._demo.stop()
            self._demo = None
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


def _preview_label(spec: str) -> str:
    """The name over the local preview: you, or the recording being replayed."""
    if Path(spec).suffix.lower() in (".bag", ".db3"):
        return f"Recording · {describe_source(spec)}"
    return f"You · {describe_source(spec)}"


def list_webcams() -> list[int]:
    """Colour cameras OpenCV can open by index (Linux: the /dev/video* nodes; elsewhere index 0
    is offered and opening it says whether it exists)."""
    import sys

    if sys.platform.startswith("linux"):
        nodes = Path("/dev").glob("video[0-9]*")
        return sorted(int(p.name[5:]) for p in nodes if p.name[5:].isdigit())
    return [0]


def default_source() -> str:
    """What a new user sees first: their RealSense, else their webcam (as an avatar), else the
    built-in synthetic person."""
    cameras = _cameras()
    if cameras:
        return f"camera:{cameras[0][1]}"
    webcams = list_webcams()
    if webcams:
        return f"webcam:{webcams[0]}"
    return "synthetic"


def _cameras() -> list[tuple[str, str]]:
    try:
        from holocall_desktop.capture.realsense import list_devices

        return [(d.name, d.serial) for d in list_devices()]
    except Exception:  # no SDK backend, no USB: the picker simply lists no camera
        log.debug("camera enumeration failed", exc_info=True)
        return []
