"""A call as the app and the headless participant both see it: the engine, the room, the voices.

:class:`CallSession` owns a :class:`~holocall_desktop.transport.engine.CallEngine` (its network
thread) and a :class:`~holocall_desktop.session.room.RoomModel`. The engine reports on its
network thread; the session queues those reports and applies them to the room in :meth:`pump`,
which its owner calls on the one thread that owns the room (the GUI timer, or the headless main
loop), so room subscribers never run on the network thread and never need a lock. Remote frames
do not go through the room: :meth:`take_frames` hands out the newest of each participant
(latest-wins mailboxes), and :meth:`frames_drawn` reports them back once they reached the screen.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from holocall_desktop.audio.engine import AudioEngine
from holocall_desktop.codec.base import Quality
from holocall_desktop.model import DepthFrame, LatestMailbox
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.model.room import seat_at
from holocall_desktop.session.room import (
    ChatLine,
    ParticipantRemoved,
    RoomEvent,
    RoomModel,
    SeatsChanged,
)
from holocall_desktop.transport.api import (
    CallConfig,
    CallState,
    ChatMessage,
    MediaMode,
    ParticipantInfo,
    PeerStats,
    RemoteAnchor,
    RemoteAvatar,
    RemoteFrame,
    RemoteScreen,
    RemoteVideo,
    ScreenInfo,
)
from holocall_desktop.transport.engine import CallEngine, EngineOptions
from holocall_desktop.transport.invite import InviteError, format_invite
from holocall_desktop.transport.screen import ScreenSource

log = logging.getLogger(__name__)

ACTIVE = (CallState.CONNECTING, CallState.JOINED, CallState.RECONNECTING)
_Report = Callable[[RoomModel], object]
T = TypeVar("T")


class _Listener:
    """The engine's :class:`~holocall_desktop.transport.api.CallListener`: queues each report
    (network thread) for :meth:`CallSession.pump` (the room's thread)."""

    def __init__(self, reports: queue.SimpleQueue[_Report]) -> None:
        self._put = reports.put

    def on_state(self, state: CallState, message: str) -> None:
        self._put(lambda room: room.set_state(state, message))

    def on_participant(self, info: ParticipantInfo) -> None:
        self._put(lambda room: room.update(info))

    def on_participant_left(self, user_id: str, reason: str) -> None:
        self._put(lambda room: room.remove(user_id, reason))

    def on_stats(self, stats: list[PeerStats]) -> None:
        self._put(lambda room: room.set_stats(stats))

    def on_chat(self, message: ChatMessage) -> None:
        self._put(lambda room: room.add_chat(message))

    def on_sharing(self, info: ScreenInfo | None, error: str | None) -> None:
        self._put(lambda room: room.set_sharing(info, error))


class Voices:
    """Adapter: the spatial audio follows the room (voices from the seats, gone when people
    leave) and tells the room who is speaking."""

    def __init__(self, room: RoomModel, audio: AudioEngine) -> None:
        self.room = room
        self.audio = audio
        self.placed: set[str] = set()  # voices an anchor_sync put elsewhere than their seat
        self._unsubscribe = room.subscribe(self._on_event)

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, SeatsChanged):
            for uid, seat in event.seats.items():
                if uid not in self.placed:
                    self.audio.set_seat(uid, seat, event.count)
        elif isinstance(event, ParticipantRemoved):
            self.placed.discard(event.participant.user_id)
            self.audio.remove_participant(event.participant.user_id)

    def place(self, user_id: str, floor: npt.NDArray[np.float64]) -> None:
        """Put a participant's voice where its anchor places it (``floor``: room metres)."""
        self.placed.add(user_id)
        self.audio.set_position(user_id, floor)

    def poll_speaker(self) -> str | None:
        self.room.set_speaker(self.audio.active_speaker())
        return self.room.speaker

    def close(self) -> None:
        self._unsubscribe()


class CallSession:
    """See the module doc. ``audio``: a started :class:`AudioEngine` (microphone out,
    spatialised voices in) that the session owns from now on and closes with the call;
    ``local_audio``/``on_remote_audio`` instead for callers with tracks of their own."""

    def __init__(
        self,
        config: CallConfig,
        room: RoomModel | None = None,
        *,
        audio: AudioEngine | None = None,
        local_audio: Any = None,
        on_remote_audio: Callable[[str, Any], None] | None = None,
        quality: Quality | None = None,
        options: EngineOptions | None = None,
    ) -> None:
        self.config = config
        self.room = room if room is not None else RoomModel()
        self._reports: queue.SimpleQueue[_Report] = queue.SimpleQueue()
        if audio is not None:
            local_audio, on_remote_audio = audio.local_track, audio.on_remote_audio
        # CodecError (a ValueError) for an unknown codec, before anything starts
        self.engine = CallEngine(
            config,
            _Listener(self._reports),
            quality=quality,
            local_audio=local_audio,
            on_remote_audio=on_remote_audio,
            options=options,
        )
        self.audio = audio
        self.voices = Voices(self.room, audio) if audio is not None else None
        self.mode = MediaMode.VOLUMETRIC
        self.frames_shown: dict[str, int] = {}
        self.avatars_shown: dict[str, int] = {}
        self._undrawn: list[RemoteFrame] = []
        self._closed = False
        #: what we allow others to record of us, and whether we record (our consent message)
        self.allows_audio_recording = False
        self.allows_hologram_recording = False
        self.recording = False

    # ---- lifecycle (the owner's thread) ------------------------------------------------------

    def start(self) -> None:
        self.room.chat.clear()  # a new call's chat
        self.room.set_state(CallState.CONNECTING, f"connecting to {self.config.server}")
        self.engine.start()
        self.engine.set_mode(self.mode)
        self._tell_consent()

    @property
    def state(self) -> CallState:
        return self.room.state

    @property
    def active(self) -> bool:
        return not self._closed and self.room.state in ACTIVE

    def pump(self) -> int:
        """Apply the engine's queued reports to the room (subscribers run now, here)."""
        done = 0
        while not self._closed:  # once left, late reports of the old call are not applied
            try:
                report = self._reports.get_nowait()
            except queue.Empty:
                break
            report(self.room)
            done += 1
        if done:
            self.room.set_my_seat(self.engine.my_seat)
        return done

    def leave(self, timeout: float = 5.0, wait: bool = True) -> None:
        """Leave the call, close the engine and the audio, empty the room. Blocks up to
        ``timeout`` s, or (``wait=False``, a GUI) closes on a helper thread."""
        if self._closed:
            return
        self._closed = True
        if self.voices is not None:
            self.voices.close()
        engine, audio = self.engine, self.audio

        def close() -> None:
            engine.close(timeout)
            if audio is not None:
                audio.close()

        if wait:
            close()
        else:
            threading.Thread(target=close, name="call-close", daemon=True).start()
        self.room.clear("you left")

    # ---- media out (MediaSink) ---------------------------------------------------------------

    def set_mode(self, mode: MediaMode) -> None:
        if mode != self.mode:
            self.mode = mode
            self.engine.set_mode(mode)

    def send_frame(self, frame: DepthFrame, capture_time: float) -> None:
        if self.mode is MediaMode.VOLUMETRIC and self.room.state is CallState.JOINED:
            self.engine.send_frame(frame, capture_time)

    def send_avatar(self, frame: AvatarFrame) -> None:
        """In AVATAR mode to everyone; in VOLUMETRIC mode to those the network took down to
        the avatar rung (the engine knows who)."""
        if self.mode is not MediaMode.NONE and self.room.state is CallState.JOINED:
            self.engine.send_avatar(frame)

    def wants_avatar(self) -> bool:
        """We send a hologram and some receiver's link only carries our avatar: track the face
        in the hologram's colour images too, and send what it gives."""
        return (
            self.mode is MediaMode.VOLUMETRIC
            and self.room.state is CallState.JOINED
            and self.engine.wants_avatar
        )

    def set_consent(self, audio: bool, hologram: bool) -> None:
        """What others may record of us: our voice, our hologram and avatar."""
        self.allows_audio_recording, self.allows_hologram_recording = audio, hologram
        self._tell_consent()

    def set_recording(self, on: bool) -> None:
        """Tell everyone we record the call (their apps show it and ask), or stopped."""
        self.recording = on
        self._tell_consent()

    def _tell_consent(self) -> None:
        self.engine.set_consent(
            self.allows_audio_recording, self.allows_hologram_recording, self.recording
        )

    def say(self, text: str, to: str | None = None) -> ChatLine:
        """Write ``text`` in the chat (to everyone, or ``to``) and show it as yours;
        ``ValueError`` with a one-line reason when it cannot go (not in a call, no text, too
        long)."""
        if not self.active:
            raise ValueError("you are not in a call")
        message = self.engine.send_chat(text, to)
        return self.room.add_chat(message, self.config.display_name, mine=True)

    # ---- media in ----------------------------------------------------------------------------

    def _take_each(
        self, mailbox: Callable[[str], LatestMailbox[T]], shown: dict[str, int] | None = None
    ) -> list[T]:
        """The newest new item of each participant in the room from ``mailbox(user_id)``,
        counted per participant in ``shown`` if given."""
        out = []
        for uid in self.room.participants:
            item = mailbox(uid).take()
            if item is not None:
                out.append(item)
                if shown is not None:
                    shown[uid] = shown.get(uid, 0) + 1
        return out

    def take_frames(self) -> list[RemoteFrame]:
        """The newest new hologram frame of each participant in the room."""
        out = self._take_each(self.engine.remote.frame, self.frames_shown)
        self._undrawn.extend(out)
        return out

    def take_avatars(self) -> list[RemoteAvatar]:
        """The newest new avatar frame of each participant in the room."""
        return self._take_each(self.engine.remote.avatar, self.avatars_shown)

    def share_screen(self, source: ScreenSource | None) -> None:
        """Share ``source`` (``capture/screen.py``) with everyone, or stop (None); the room's
        ``SharingChanged`` says when it started, stopped or failed. The session owns it now."""
        self.engine.screen.share(source)

    def take_screens(self) -> list[RemoteScreen]:
        """The newest picture of each screen shared with us (those that changed)."""
        out = []
        for p in self.room.sharers:
            picture = self.engine.screen.remote(p.user_id).take()
            if picture is not None:
                out.append(picture)
        return out

    def take_anchors(self) -> list[RemoteAnchor]:
        """The newest new ``anchor_sync`` of each participant in the room; a participant's own
        anchor moves its voice there (the view moves its body: ``RoomView.show_call``)."""
        out = self._take_each(self.engine.remote.anchor)
        for anchor in out:
            uid = anchor.user_id
            if self.voices is not None and anchor.participant_id == uid:
                self.voices.place(uid, seat_at(0, anchor.position, anchor.rotation).position)
        return out

    def take_videos(self) -> list[RemoteVideo]:
        """The newest picture of each participant's plain camera video (browsers, phones)."""
        return self._take_each(self.engine.remote.video)

    def frames_drawn(self) -> None:
        """The frames taken since the last call reached the screen (latency, join time)."""
        frames, self._undrawn = self._undrawn, []
        for remote in frames:
            self.engine.frame_drawn(remote)

    # ---- about the call ----------------------------------------------------------------------

    def join_time(self) -> float | None:
        return self.engine.summary.join_time_s

    def invite_link(self) -> str | None:
        room, secret = self.engine.room_id, self.engine.invite_secret
        if not room or not secret:
            return None
        try:
            return format_invite(self.config.server, room, secret)
        except InviteError:
            return None
