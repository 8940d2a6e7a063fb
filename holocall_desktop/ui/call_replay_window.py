"""The replay of a recorded call (``holocall replay CALL_FILE``): the room as it was.

A :class:`~holocall_desktop.session.call_player.CallPlayer` plays the call file into a room
model; the same views as in a call draw it (the 3D room through
:class:`~holocall_desktop.render.room_view.RoomView`, the participant list, the chat, read
only), and the play bar of depth recordings drives it: play/pause, step, seek, loop, speed.
The voices play from their seats through the speaker chosen in the settings, at normal speed
(``session/replay_voices.py``); without a speaker the replay is silent and says why.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent, QPixmap
from PySide6.QtWidgets import QMainWindow, QVBoxLayout, QWidget

from holocall_desktop.audio.engine import AudioEngine
from holocall_desktop.audio.errors import AudioDeviceError
from holocall_desktop.errors import CliError
from holocall_desktop.render.room_view import RoomView
from holocall_desktop.render.scene import HoloScene
from holocall_desktop.session.call import Voices
from holocall_desktop.session.call_player import CallPlayer
from holocall_desktop.session.replay_voices import ReplayVoices
from holocall_desktop.session.room import RoomModel
from holocall_desktop.ui.call_panels import ParticipantsPanel
from holocall_desktop.ui.chat_panel import ChatPanel
from holocall_desktop.ui.settings import AppSettings
from holocall_desktop.ui.widgets import PlaybackBar, composite_screenshot, side_dock


class CallReplayWindow(QMainWindow):
    frame_drawn = Signal(int)  # hologram frames drawn so far

    def __init__(
        self,
        path: Path,
        scene_size: tuple[int, int] = (1024, 640),
        settings: AppSettings | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"HoloCall — {path.name}")
        self.room = RoomModel()
        self.player = CallPlayer(path, self.room)  # CallFileError: not a call file
        self.scene = HoloScene(size=scene_size)
        self.view = RoomView(self.scene, self.room)
        self.voices, voice_message = _replay_voices(settings or AppSettings(), self.room)
        self.player.voices = self.voices
        self.view.call_started()
        self.player.seek(0.0)  # the room as it was at the start, now that the view listens
        self.participants_panel = ParticipantsPanel(self.room)
        side_dock(self, "Participants", self.participants_panel, True).show()
        self.chat_panel = ChatPanel(self.room, lambda: None)
        for widget in (self.chat_panel.entry, self.chat_panel.send_button):
            widget.hide()  # a recording is read, not written to
        side_dock(self, "Chat", self.chat_panel, True).show()
        self.playback = bar = PlaybackBar()
        bar.set_duration(self.player.duration)
        bar.play_toggled.connect(self.player.set_playing)
        bar.step_requested.connect(self.player.step)
        bar.seek_requested.connect(self.player.seek)
        bar.loop_toggled.connect(lambda on: setattr(self.player, "loop", on))
        bar.speed_changed.connect(lambda s: setattr(self.player, "speed", s))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scene.canvas.native, 1)
        layout.addWidget(bar)
        self.setCentralWidget(central)
        self.resize(scene_size[0] + 280, scene_size[1] + 60)
        self.frames_drawn = 0
        self._last = time.monotonic()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(8)
        truncated = (
            " (cut short: it ends where the recorder stopped)" if self.player.file.truncated else ""
        )
        self.statusBar().showMessage(
            f"{path.name}: {self.player.duration:.1f} s{truncated} · {voice_message}"
        )

    def _poll(self) -> None:
        now = time.monotonic()
        self.scene.animate(now - self._last)
        self._last = now
        self.player.pump(now)
        if self.voices is not None and self.voices.seats is not None:
            self.voices.seats.poll_speaker()  # the participant list's speaking marks
        frames = self.player.take_frames()
        shown = self.view.show_remote(frames, self.player.take_avatars())
        if self.player.self_frame is not None:  # the recorder's own picture, in the corner
            self.scene.set_self_frame(self.player.self_frame)
            self.player.self_frame = None
        self.playback.set_position(self.player.position)
        if shown:
            self.frames_drawn += shown
            self.frame_drawn.emit(self.frames_drawn)

    def screenshot(self) -> QPixmap:
        return composite_screenshot(self, self.scene)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        self.view.close()
        self.player.close()
        if self.voices is not None:
            self.voices.close()
        super().closeEvent(event)


def _replay_voices(settings: AppSettings, room: RoomModel) -> tuple[ReplayVoices | None, str]:
    """The voices of the replay from their seats (through the chosen speaker), or None and
    why not."""
    audio = AudioEngine(None, settings.speaker or None, capture=False)
    try:
        audio.start()
    except AudioDeviceError as exc:
        audio.close()
        return None, f"voice off: {exc}"
    voices = ReplayVoices(audio)
    voices.seats = Voices(room, audio)  # follows the room: voices from the seats, who speaks
    return voices, f"voice through {audio.devices[1] or 'the speaker'}"


def run_call_replay(
    path: Path, screenshot: Path | None, frames: int | None, seconds: float | None
) -> int:
    """The replay window on ``path`` until it is closed, or (scripted) until ``frames``
    hologram frames were drawn or ``seconds`` passed, saving ``screenshot`` then."""
    from holocall_desktop.recording.callfile import CallFileError
    from holocall_desktop.ui.app import ensure_opengl_app, save_screenshot

    app = ensure_opengl_app()
    try:
        window = CallReplayWindow(path)
    except CallFileError as exc:
        raise CliError(str(exc)) from None
    window.show()
    done = False

    def finish() -> None:
        nonlocal done
        if done:
            return
        done = True
        if screenshot is not None:
            save_screenshot(window.screenshot(), screenshot)
        window.close()

    if frames is not None:
        window.frame_drawn.connect(
            lambda n: (
                QTimer.singleShot(100, finish)
                if n >= frames and not window.scene.animate(0.0)
                else None
            )
        )
    if seconds is not None:
        QTimer.singleShot(int(seconds * 1000), finish)
    elif frames is not None:
        # a call with fewer frames than asked: the end of the file ends the run
        ended = QTimer(window)
        ended.timeout.connect(lambda: finish() if window.player.ended else None)
        ended.start(200)
    app.exec()
    return 0
