"""Drives a call from the window: the engine on its network thread, the room on the GUI thread.

The engine's listener runs on the network thread; :class:`_Bridge` re-emits each callback as a
Qt signal, which Qt queues to the GUI thread. Remote frames are taken from the engine's
latest-frame mailboxes on the window's timer, handed to the scene, and reported back to the
engine once the canvas has drawn them (glass-to-glass latency, join time).
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, Signal

from holocall_desktop.audio.engine import AudioEngine
from holocall_desktop.capture.runner import CapturedFrame
from holocall_desktop.codec.base import CodecError
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.model.room import arrange_seats
from holocall_desktop.render.scene import HoloScene
from holocall_desktop.transport.api import (
    CallConfig,
    CallState,
    MediaMode,
    ParticipantInfo,
    PeerStats,
    RemoteFrame,
)
from holocall_desktop.transport.engine import CallEngine
from holocall_desktop.transport.invite import InviteError, format_invite
from holocall_desktop.ui.call_panels import ParticipantsPanel, StatsPanel

log = logging.getLogger(__name__)

ACTIVE = (CallState.CONNECTING, CallState.JOINED, CallState.RECONNECTING)


class _Bridge(QObject):
    """A CallListener whose methods re-emit as signals (called on the network thread)."""

    state = Signal(object, str)
    participant = Signal(object)
    participant_left = Signal(str, str)
    stats = Signal(object)

    def on_state(self, state: CallState, message: str) -> None:
        self.state.emit(state, message)

    def on_participant(self, info: ParticipantInfo) -> None:
        self.participant.emit(info)

    def on_participant_left(self, user_id: str, reason: str) -> None:
        self.participant_left.emit(user_id, reason)

    def on_stats(self, stats: list[PeerStats]) -> None:
        self.stats.emit(stats)


class CallController(QObject):
    state_changed = Signal(object, str)  # CallState, one-line message

    def __init__(
        self,
        scene: HoloScene,
        participants: ParticipantsPanel,
        stats: StatsPanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.scene = scene
        self.participants_panel = participants
        self.stats_panel = stats
        self.engine: CallEngine | None = None
        self.audio: AudioEngine | None = None
        self.config: CallConfig | None = None
        self.state = CallState.IDLE
        self.message = ""
        self.camera_on = True
        self.avatar_mode = False
        self.infos: dict[str, ParticipantInfo] = {}
        self.last_stats: list[PeerStats] = []
        self.frames_shown: dict[str, int] = {}
        self.avatars_shown: dict[str, int] = {}
        self._undrawn: list[RemoteFrame] = []
        self._bridge = _Bridge()
        self._bridge.state.connect(self._on_state)
        self._bridge.participant.connect(self._on_participant)
        self._bridge.participant_left.connect(self._on_left)
        self._bridge.stats.connect(self._on_stats)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.engine is not None and self.state in ACTIVE

    def start(self, config: CallConfig, audio: AudioEngine | None = None) -> None:
        """Join (or create) the room; ``ValueError`` with a user message if it cannot start.

        ``audio``: a started :class:`AudioEngine` (microphone out, spatialised voices in); the
        controller owns it from now on and closes it when the call ends. ``None``: no voice.
        """
        if self.engine is not None:
            self.leave()
        try:
            engine = CallEngine(
                config,
                self._bridge,
                local_audio=audio.local_track if audio is not None else None,
                on_remote_audio=audio.on_remote_audio if audio is not None else None,
            )
        except CodecError as exc:
            if audio is not None:
                audio.close()
            raise ValueError(str(exc)) from exc
        self.audio = audio
        self.engine = engine
        self.config = config
        self.infos.clear()
        self.frames_shown.clear()
        self.participants_panel.clear()
        self.scene.set_seat_count(2)
        self.state = CallState.CONNECTING
        engine.start()
        engine.set_mode(self._mode())

    def leave(self) -> None:
        """Leave the call without blocking the GUI (the engine closes on a helper thread)."""
        engine = self.engine
        if engine is None:
            return
        self.engine = None
        audio, self.audio = self.audio, None
        for uid in list(self.infos):
            self._remove(uid, animate=True)
        self.infos.clear()
        self.scene.set_seat_count(None)

        def close() -> None:
            engine.close()
            if audio is not None:
                audio.close()

        threading.Thread(target=close, name="call-close", daemon=True).start()
        self._set_state(CallState.LEFT, "You left the call")

    def close(self, timeout: float = 5.0) -> None:
        """At application exit: leave and wait (bounded) for the goodbye to go out."""
        engine = self.engine
        self.engine = None
        if engine is not None:
            engine.close(timeout)
        if self.audio is not None:
            self.audio.close()
            self.audio = None

    # -- media -----------------------------------------------------------------------------
    def _mode(self) -> MediaMode:
        if not self.camera_on:
            return MediaMode.NONE
        return MediaMode.AVATAR if self.avatar_mode else MediaMode.VOLUMETRIC

    def send(self, captured: CapturedFrame) -> None:
        engine = self.engine
        volumetric = self._mode() is MediaMode.VOLUMETRIC
        if engine is not None and volumetric and self.state is CallState.JOINED:
            engine.send_frame(captured.frame, captured.wall_time)

    def send_avatar(self, frame: AvatarFrame) -> None:
        engine = self.engine
        avatar = self._mode() is MediaMode.AVATAR
        if engine is not None and avatar and self.state is CallState.JOINED:
            engine.send_avatar(frame)

    def set_camera(self, on: bool) -> None:
        self.camera_on = on
        if self.engine is not None:
            self.engine.set_mode(self._mode())

    def set_avatar_mode(self, on: bool) -> None:
        """Send an avatar (face tracking) instead of the hologram, or back."""
        self.avatar_mode = on
        if self.engine is not None:
            self.engine.set_mode(self._mode())

    def poll(self) -> int:
        """Hand the newest remote frames to the scene; returns how many were new."""
        engine = self.engine
        if engine is None:
            return 0
        new = 0
        for uid in list(self.infos):
            avatar = engine.remote_avatars(uid).take()
            if avatar is not None and uid in self.scene.participants:
                self.scene.set_avatar_frame(uid, avatar.frame)
                self.avatars_shown[uid] = self.avatars_shown.get(uid, 0) + 1
            remote = engine.remote_frames(uid).take()
            if remote is None or uid not in self.scene.participants:
                continue
            self.scene.set_frame(uid, remote.frame)
            self._undrawn.append(remote)
            self.frames_shown[uid] = self.frames_shown.get(uid, 0) + 1
            new += 1
        return new

    def after_draw(self) -> None:
        """The canvas finished drawing: these frames reached the screen."""
        engine = self.engine
        frames, self._undrawn = self._undrawn, []
        if engine is not None:
            for remote in frames:
                engine.frame_drawn(remote)

    def invite_link(self) -> str | None:
        engine = self.engine
        if engine is None or self.config is None:
            return None
        room, secret = engine.room_id, engine.invite_secret
        if not room or not secret:
            return None
        try:
            return format_invite(self.config.server, room, secret)
        except InviteError:
            return None

    def join_time(self) -> float | None:
        engine = self.engine
        return None if engine is None else engine.summary.join_time_s

    # -- listener (GUI thread, via the bridge) ---------------------------------------------
    def _set_state(self, state: CallState, message: str) -> None:
        self.state = state
        self.message = message
        self.state_changed.emit(state, message)

    def _on_state(self, state: CallState, message: str) -> None:
        if self.engine is None:
            return  # a late report from a call we already left
        self._set_state(state, message)
        if state is CallState.FAILED:
            self.leave()
            self._set_state(CallState.FAILED, message)

    def _on_participant(self, info: ParticipantInfo) -> None:
        if self.engine is None:
            return
        known = info.user_id in self.infos
        self.infos[info.user_id] = info
        self.participants_panel.set_participant(info)
        if not known:
            self.scene.add_participant(
                info.user_id, info.display_name or info.user_id, animate=True
            )
        else:
            self.scene.set_name(info.user_id, info.display_name or info.user_id)
        self.scene.use_avatar(info.user_id, info.mode is MediaMode.AVATAR)
        self._arrange()

    def _on_left(self, user_id: str, reason: str) -> None:
        if self.engine is None:
            return
        self._remove(user_id, animate=True)
        self._arrange()
        log.info("%s left the call (%s)", user_id, reason)

    def _remove(self, user_id: str, animate: bool) -> None:
        self.infos.pop(user_id, None)
        if self.audio is not None:
            self.audio.remove_participant(user_id)
        self.participants_panel.remove(user_id)
        self.stats_panel.remove(user_id)
        self.scene.remove_participant(user_id, animate=animate)

    def _on_stats(self, stats: list[PeerStats]) -> None:
        if self.engine is None:
            return
        self.last_stats = stats
        self.participants_panel.set_stats(stats)
        self.stats_panel.add_sample(stats, time.monotonic())

    def _arrange(self) -> None:
        me = self.engine.my_seat if self.engine is not None else -1
        others = {uid: max(0, info.seat) for uid, info in self.infos.items()}
        # the server's seats, turned so that everyone sees the same order around the table
        seats = arrange_seats(max(0, me), others, 64)
        for uid, index in seats.items():
            if uid in self.scene.participants:
                self.scene.participants[uid].seat_index = index
        self.scene.set_seat_count(len(self.infos) + 1)  # places everyone
        if self.audio is not None:  # voices come from the same seats
            count = self.scene.seat_count()
            for uid, index in seats.items():
                self.audio.set_seat(uid, index, count)

    def update_speakers(self) -> str | None:
        """Highlight who is talking (polled by the window's timer); returns the active speaker."""
        if self.audio is None:
            return None
        speaker = self.audio.active_speaker()
        for uid in self.infos:
            if uid in self.scene.participants:
                self.scene.set_highlight(uid, uid == speaker)
        self.participants_panel.set_speaker(speaker)
        return speaker
