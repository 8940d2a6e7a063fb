"""The HoloCall main window: widgets and their wiring, nothing more.

What is captured and sent is decided by :class:`~holocall_desktop.session.media.LocalMedia`; the
call is a :class:`~holocall_desktop.session.call.CallSession`; who is in the room lives in the
:class:`~holocall_desktop.session.room.RoomModel` that the scene (through
:class:`~holocall_desktop.render.room_view.RoomView`) and the side panels subscribe to. A GUI
timer pumps the call's reports into the room, polls local media and hands new frames to the
view. Errors from any source are shown in the banner as one line; nothing here shows a trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QPixmap
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from holocall_desktop.avatar.model_files import FaceModelError
from holocall_desktop.capture.base import SourceError
from holocall_desktop.demo import DemoBackend, start_demo_backend
from holocall_desktop.model import DepthFrame
from holocall_desktop.render.room_view import SELF_ID, RoomView
from holocall_desktop.render.scene import HoloScene
from holocall_desktop.session.call import CallSession
from holocall_desktop.session.media import LocalMedia
from holocall_desktop.session.room import CallStateChanged, RoomEvent, RoomModel
from holocall_desktop.transport.api import CallConfig, CallState
from holocall_desktop.ui import audio_controls
from holocall_desktop.ui.call_bar import CallBar
from holocall_desktop.ui.call_panels import ParticipantsPanel, StatsPanel, call_status
from holocall_desktop.ui.chat_panel import add_chat_dock
from holocall_desktop.ui.playback_controls import PlaybackControls
from holocall_desktop.ui.recording_controls import RecordingControls
from holocall_desktop.ui.screen_share import ScreenShareControls
from holocall_desktop.ui.settings import AppSettings
from holocall_desktop.ui.sources import (
    default_source,
    describe_source,
    open_with_settings,
    preview_label,
    processors_for,
)
from holocall_desktop.ui.toolbars import SourceBar
from holocall_desktop.ui.widgets import (
    ErrorBanner,
    PlaybackBar,
    RateMeter,
    composite_screenshot,
    fitting_size,
    side_dock,
)

__all__ = ["SELF_ID", "MainWindow"]

log = logging.getLogger(__name__)


class _Bridge(QObject):
    """Carries notifications from worker threads to the GUI thread (queued signals)."""

    error = Signal(str)
    finished = Signal()
    demo_ready = Signal(object)
    audio_error = Signal(str)


class MainWindow(QMainWindow):
    frame_drawn = Signal(int)  # frame number, after the scene got a new frame
    error_shown = Signal(str)  # the banner shows this one-line error
    source_ended = Signal()  # a recording played to its end (loop off)

    def __init__(
        self,
        settings: AppSettings | None = None,
        source: str | None = None,
        remove_background: bool | None = None,
        scene_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("HoloCall")
        self.settings = settings or AppSettings()
        self.source_spec = ""
        self.frames_drawn = 0
        self.last_frame: DepthFrame | None = None
        self.call: CallSession | None = None
        self.demo: DemoBackend | None = None
        self._rate = RateMeter()
        self._bridge = b = _Bridge()
        b.error.connect(self.show_error)
        b.finished.connect(lambda: self.statusBar().showMessage("End of recording", 3000))
        b.finished.connect(self.source_ended)
        b.demo_ready.connect(lambda config: self.demo is not None and self.join_call(config))
        b.audio_error.connect(lambda m: audio_controls.audio_failed(self, m))
        self.room = RoomModel()
        self.room.subscribe(self._on_room)
        self.media = LocalMedia(on_error=b.error.emit, on_finished=b.finished.emit)
        self.scene = HoloScene(size=scene_size or (1024, 640))
        self.view = RoomView(self.scene, self.room)
        self.scene.canvas.events.draw.connect(self._rate.begin, position="first")
        self.scene.canvas.events.draw.connect(self._on_draw_end, position="last")
        self._build(remove_background)
        if not (self.settings.geometry and self.restoreGeometry(self.settings.geometry)):
            self.resize(fitting_size(self, scene_size))
        self._last_tick = time.monotonic()
        self._last_audio_ui = 0.0
        self._timer = _every(self, 8, self._poll)
        self._stats_timer = _every(self, 500, self._update_stats)
        self.open_source(source or self.settings.source or default_source())

    # -- layout and wiring -------------------------------------------------------------------
    def _build(self, remove_background: bool | None) -> None:
        self.banner = ErrorBanner()
        self.playback = pb = PlaybackBar()
        self.playback_controls = PlaybackControls(pb, self.media, self.settings)
        self.setCentralWidget(_column(self.banner, self.scene.canvas.native, pb))
        self.participants_panel = ParticipantsPanel(self.room)
        self.stats_panel = StatsPanel(self.room)
        self.participants_dock = side_dock(self, "Participants", self.participants_panel, True)
        self.stats_dock = side_dock(self, "Call statistics", self.stats_panel, False)
        remove = self.settings.remove_background if remove_background is None else remove_background
        self.source_bar = sb = SourceBar(remove)
        self.addToolBar(sb)
        sb.fill(self.settings.recent_recording)
        sb.source_box.activated.connect(self._on_source_chosen)
        sb.background_box.toggled.connect(self._on_background_toggled)
        sb.depth_button.clicked.connect(self.edit_depth_settings)
        sb.reset_button.clicked.connect(self.scene.reset_camera)
        sb.avatar_button.toggled.connect(lambda on: self.set_avatar_mode(on))
        self.call_bar = cb = CallBar()
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, cb)  # the meeting apps' bottom bar
        self.statusBar().addWidget(cb.voice_label)
        cb.join_button.clicked.connect(self._join_or_leave)
        cb.camera_button.toggled.connect(self.media.set_camera)
        cb.mute_button.toggled.connect(lambda muted: audio_controls.set_muted(self, muted))
        cb.audio_button.clicked.connect(lambda: audio_controls.edit_devices(self))
        cb.invite_button.clicked.connect(self.copy_invite_link)
        cb.stats_button.toggled.connect(self.stats_dock.setVisible)
        self.chat_panel = add_chat_dock(self, self.room, cb.chat_button, lambda: self.call)
        self.recording_controls = RecordingControls(self)
        self.screen_share = ScreenShareControls(self)
        self.participants_panel.volume.valueChanged.connect(
            lambda v: audio_controls.set_volume(self, v)
        )
        self.source_box, self.background_box = sb.source_box, sb.background_box
        self.avatar_button, self.join_button = sb.avatar_button, cb.join_button
        self.mute_button, self.voice_label = cb.mute_button, cb.voice_label
        self.stats_label = QLabel("")
        self.statusBar().addPermanentWidget(self.stats_label)
        self._sync_call_controls()

    # -- sources -----------------------------------------------------------------------------
    def _on_source_chosen(self, index: int) -> None:
        spec = self.source_bar.chosen(index, self.settings.recent_recording)
        if spec is None:  # the file dialog was cancelled
            self.source_bar.select(self.source_spec)
        else:
            self.open_source(spec)

    def _on_background_toggled(self, checked: bool) -> None:
        self.settings.remove_background = checked
        self.media.set_processors(processors_for(self.settings, checked))

    def edit_depth_settings(self) -> None:
        from holocall_desktop.ui.depth_settings import ask_depth_settings

        try:
            chosen = ask_depth_settings(self.settings.depth, self)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if chosen is None:
            return
        self.settings.depth = chosen
        if self.source_spec:
            self.open_source(self.source_spec)  # the camera mode and filters apply on opening

    def open_source(self, spec: str) -> bool:
        """Switch to another source; on failure the banner says why and the old one is gone."""
        self.close_source()
        self.banner.hide()
        self.source_spec = spec
        self.source_bar.select(spec)
        try:
            source = open_with_settings(spec, self.settings)
        except SourceError as exc:
            self.show_error(str(exc))
            return False
        self.playback_controls.opened(source, spec)
        self.settings.source = spec
        try:
            self.media.run(source, processors_for(self.settings, self.background_box.isChecked()))
        except FaceModelError as exc:  # a webcam without the face model: the banner says why
            self.show_error(exc.user_message)
        self.view.show_preview(preview_label(spec), self.media.avatar)
        self._avatar_changed()
        self.statusBar().showMessage(f"Source: {describe_source(spec)}")
        return True

    def close_source(self) -> None:
        self.media.stop()
        self.view.hide_preview()
        self.last_frame = None

    # -- frames ------------------------------------------------------------------------------
    def _poll(self) -> None:
        now = time.monotonic()
        self.scene.animate(now - self._last_tick)
        self._last_tick = now
        call = self.call
        if call is not None:
            call.pump()  # room events: the view and the panels update themselves
            if self.call is call:
                self.view.show_call(call)
        out = self.media.poll()
        if out.error is not None:
            self.show_error(out.error)
            self._avatar_changed()
        self.view.show_local(out, self.media.camera_on, self.media.avatar)
        if now - self._last_audio_ui > 0.05:  # meters and the active speaker at 20 Hz
            self._last_audio_ui = now
            audio_controls.update_meters(self)
        if out.frame is None:
            return
        if self.last_frame is None:
            self.playback_controls.first_frame()
        self.last_frame = out.frame
        self.frames_drawn += 1
        self.frame_drawn.emit(out.frame.frame_number)

    def _on_draw_end(self, _event: object) -> None:
        if self.call is not None:
            self.call.frames_drawn()
        if self.last_frame is not None:
            self._rate.end()

    def _update_stats(self) -> None:
        f = self.last_frame
        size = f"{f.width}×{f.height}" if f is not None else "no frame"
        rate = f"{self._rate.fps:5.1f} fps · draw {self._rate.frame_ms:5.1f} ms · {size}"
        self.stats_label.setText(call_status(self.call, self.room) + rate)
        self.playback_controls.tick()

    @property
    def fps(self) -> float:
        return self._rate.fps

    # -- avatar mode --------------------------------------------------------------------------
    def set_avatar_mode(self, on: bool, automatic: bool = False) -> bool:
        """Appear as an avatar (True) or the hologram; False if the face model is missing."""
        ok = True
        try:
            self.media.set_avatar(on, automatic)
        except FaceModelError as exc:
            self.show_error(exc.user_message)
            ok = False
        self._avatar_changed()
        return ok

    def _avatar_changed(self) -> None:
        self.source_bar.set_avatar_checked(self.media.avatar)
        self.view.set_avatar(self.media.avatar)

    # -- calls ---------------------------------------------------------------------------------
    def _join_or_leave(self) -> None:
        from holocall_desktop.ui.join_dialog import ask_join

        if self.call is not None and self.call.active:
            self.leave_call()
        elif (config := ask_join(self)) is not None:
            self.join_call(config)

    def join_call(self, config: CallConfig) -> bool:
        """Start a call (joins or creates the room); False with the reason in the banner."""
        self.banner.hide()
        self.settings.display_name = config.display_name
        if config.create_room:
            self.settings.call_server = config.server
        if self.call is not None:
            self.leave_call()
        audio = audio_controls.start_audio(self)
        try:
            call = CallSession(config, self.room, audio=audio)
        except ValueError as exc:  # an unknown codec
            if audio is not None:
                audio.close()
            self.show_error(str(exc))
            return False
        self.call = call
        self.view.call_started()
        self.media.attach(call)
        call.start()
        self.participants_dock.show()
        self.resizeDocks([self.participants_dock], [260], Qt.Orientation.Horizontal)
        self._sync_call_controls()
        return True

    def _end_call(self) -> None:
        call, self.call = self.call, None
        if call is not None:
            self.media.attach(None)
            call.leave(wait=False)  # the engine closes on a helper thread; the room empties now

    def leave_call(self) -> None:
        self._end_call()
        self.room.set_state(CallState.LEFT, "You left the call")

    def _on_room(self, event: RoomEvent) -> None:
        if not isinstance(event, CallStateChanged):
            return
        if event.state is CallState.FAILED:
            self._end_call()
            self.show_error(event.message)
        if event.state in (CallState.FAILED, CallState.LEFT):
            self.view.call_ended()
            self.participants_dock.hide()
            if self.media.runner is not None:
                self.view.show_preview(preview_label(self.source_spec), self.media.avatar)
        elif event.message:
            self.statusBar().showMessage(event.message, 5000)
        self._sync_call_controls()

    def _sync_call_controls(self) -> None:
        call = self.call
        active = call is not None and call.active
        voice = call is not None and call.audio is not None
        self.call_bar.sync(active, voice, call is not None and call.invite_link() is not None)

    def copy_invite_link(self) -> str | None:
        link = self.call.invite_link() if self.call is not None else None
        if link:
            QGuiApplication.clipboard().setText(link)
            self.statusBar().showMessage(f"Invite link copied: {link}", 8000)
        return link

    def start_demo(self, backend: DemoBackend) -> None:
        """Start the demo's server and simulated participant (off the GUI thread), then join."""
        self.demo = backend
        self.statusBar().showMessage("Starting the demo call…")
        start_demo_backend(backend, self.settings, self._bridge.demo_ready, self._bridge.error)

    def screenshot(self) -> QPixmap:
        """The window as the user sees it (the GL canvas is rendered offscreen and composited)."""
        return composite_screenshot(self, self.scene)

    # -- errors and shutdown -----------------------------------------------------------------
    def show_error(self, message: str) -> None:
        log.warning("%s", message)
        self.banner.show_message(message)
        self.error_shown.emit(message)

    def closeEvent(self, event: QCloseEvent) -> None:
        call, self.call = self.call, None
        if call is not None:
            call.leave(timeout=3.0)
        self.media.close()
        if self.demo is not None:
            self.demo.stop()
            self.demo = None
        self._timer.stop()
        self._stats_timer.stop()
        self.close_source()
        self.settings.geometry = bytes(self.saveGeometry().data())
        self.settings.sync()
        self.view.close()
        self.scene.close()
        super().closeEvent(event)


def _every(parent: QObject, ms: int, fn: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setInterval(ms)
    timer.timeout.connect(fn)
    timer.start()
    return timer


def _column(top: QWidget, middle: QWidget, bottom: QWidget) -> QWidget:
    """The banner above the room above the play bar; the room takes the space."""
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for widget, stretch in ((top, 0), (middle, 1), (bottom, 0)):
        layout.addWidget(widget, stretch)
    return central
