"""A recorded call played into a room, on a clock: the window's replay of a call file.

:class:`CallPlayer` reads a call file (:mod:`holocall_desktop.recording.callfile`) and plays it
into a :class:`~holocall_desktop.session.room.RoomModel` as if the call were happening: who was
there appears at their seat and leaves when they left, the chat is posted, and each
participant's hologram and avatar frames come out of :meth:`take_frames` / :meth:`take_avatars`
when their time comes. Like a live call it is latest-wins: of the frames due since the last
look, only the newest of each participant is decoded (on a worker thread, never on the caller's),
so a slow machine shows fewer frames, never late ones. Play, pause, step, seek, loop and speed
work as for depth recordings. The caller calls :meth:`pump` on the room's thread (the GUI timer).

Voice records go to :attr:`CallPlayer.voices` (a :class:`VoiceSink`, e.g.
:class:`~holocall_desktop.session.replay_voices.ReplayVoices`) as their time comes, only while
playing at normal speed; a seek or a pause empties what it buffered.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import time
from pathlib import Path
from typing import Any, Protocol

from holocall_desktop.codec.avatar_frame import AvatarFrameError, decode_avatar_frame
from holocall_desktop.codec.base import DATACHANNEL, CodecError
from holocall_desktop.codec.registry import decoder_for_transport
from holocall_desktop.model import DepthFrame
from holocall_desktop.recording.callfile import CallFile, Record, read_call
from holocall_desktop.session.room import RoomModel
from holocall_desktop.transport.api import (
    CallState,
    ChatMessage,
    MediaMode,
    ParticipantInfo,
    PeerConnection,
    RemoteAvatar,
    RemoteFrame,
)

_MODES = {m.value: m for m in MediaMode}


class VoiceSink(Protocol):
    def play(self, record: Record) -> None:
        """A voice record whose time came."""

    def reset(self) -> None:
        """Forget what was buffered (a seek, a pause)."""


class CallPlayer:
    """See the module doc. ``read_call``'s :class:`CallFileError` if ``path`` is not a call."""

    def __init__(self, path: Path, room: RoomModel) -> None:
        self.path = path
        self.room = room
        self.file: CallFile = read_call(path)
        records = self.file.records
        self._t0 = records[0].time if records else 0.0
        self._times = [r.time - self._t0 for r in records]
        self.duration = self._times[-1] if records else 0.0
        self._next = 0  # the first record not played yet
        self.position = 0.0  # seconds into the call
        self.playing = True
        self.loop = False
        self.speed = 1.0
        self.ended = False
        self.frames_shown: dict[str, int] = {}
        #: the recorder's own picture (drawn in the self-view: the replay is from their seat)
        self.recorder_id = self.file.metadata.get("recorder", "")
        self.self_frame: DepthFrame | None = None
        self.voices: VoiceSink | None = None
        self._clock: float | None = None  # monotonic time of the last pump while playing
        self._due: dict[str, Record] = {}  # the newest hologram due per participant
        self._avatars: dict[str, Record] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(1, "call-replay-decode")
        self._decoding: dict[str, concurrent.futures.Future[DepthFrame | None]] = {}
        self._decoders: dict[str, Any] = {}
        try:
            self._recorder_seat = int(self.file.metadata.get("recorderSeat", "0"))
        except ValueError:
            self._recorder_seat = 0
        self._begin()

    # ---- the clock (the caller's thread) -----------------------------------------------------

    def pump(self, now: float | None = None) -> int:
        """Move the clock on to ``now`` (monotonic s) and play what came due; the records
        played."""
        now = time.monotonic() if now is None else now
        if self.playing and not self.ended:
            if self._clock is not None:
                self.position = min(self.duration, self.position + (now - self._clock) * self.speed)
            self._clock = now
        else:
            self._clock = None
        played = self._play_until(self.position)
        if self._next >= len(self._times) and self.playing:
            if self.loop and self.duration > 0:
                self.seek(0.0)
            else:
                self.ended = True
        return played

    def set_playing(self, on: bool) -> None:
        self.playing = on
        if not on and self.voices is not None:
            self.voices.reset()
        if on and self.ended:
            self.seek(0.0)

    def step(self) -> None:
        """To the next hologram frame of anyone (while paused)."""
        for i in range(self._next, len(self._times)):
            if self.file.records[i].kind == "hologram":
                self.position = self._times[i]
                self._play_until(self.position)
                return

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` into the call: the room as it was then, no frames yet."""
        self.position = min(max(0.0, seconds), self.duration)
        self._begin()
        self._play_until(self.position, frames=False)
        self._clock = None
        if self.voices is not None:
            self.voices.reset()

    # ---- frames out --------------------------------------------------------------------------

    def take_frames(self) -> list[RemoteFrame]:
        """Decoded frames that are ready (the newest per participant); starts the next."""
        out = []
        for uid, future in list(self._decoding.items()):
            if not future.done():
                continue
            del self._decoding[uid]
            frame = future.result()
            if frame is not None and uid == self.recorder_id:
                self.self_frame = frame
            elif frame is not None and uid in self.room:
                when = self._t0 + self.position
                out.append(RemoteFrame(uid, frame, when, when, frame.frame_number))
                self.frames_shown[uid] = self.frames_shown.get(uid, 0) + 1
        for uid in list(self._due):
            if uid not in self._decoding:
                record = self._due.pop(uid)
                decoder = self._decoders.setdefault(uid, decoder_for_transport(DATACHANNEL))
                self._decoding[uid] = self._pool.submit(_decode, decoder, record.data)
        return out

    def take_avatars(self) -> list[RemoteAvatar]:
        out = []
        for uid, record in self._avatars.items():
            try:
                frame = decode_avatar_frame(record.data)
            except AvatarFrameError:
                continue
            out.append(RemoteAvatar(uid, frame, record.time))
        self._avatars.clear()
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- playing records ---------------------------------------------------------------------

    def _begin(self) -> None:
        self.room.clear("replay")
        self.room.chat.clear()
        # from the start: the views drop what they showed (the chat panel empties)
        self.room.set_state(CallState.CONNECTING, f"replaying {self.path.name}")
        self.room.set_state(CallState.JOINED, f"replaying {self.path.name}")
        self.room.set_my_seat(self._recorder_seat)
        self._next = 0
        self.ended = False
        self._due.clear()
        self._avatars.clear()

    def _play_until(self, position: float, frames: bool = True) -> int:
        end = bisect.bisect_right(self._times, position)
        played = end - self._next
        for record in self.file.records[self._next : end]:
            if record.kind == "room":
                self._room(record.json())
            elif record.kind == "chat":
                self._chat(record)
            elif frames and record.user_id is not None:
                if record.kind == "hologram":
                    self._due[record.user_id] = record
                elif record.kind == "avatar":
                    self._avatars[record.user_id] = record
                elif record.kind == "voice" and self.voices is not None and self.speed == 1.0:
                    self.voices.play(record)
        self._next = end
        return played

    def _room(self, info: dict[str, Any]) -> None:
        uid = str(info.get("userId", ""))
        if not uid or info.get("recorder"):
            return  # the recorder is the viewer, not at the table
        if info.get("event") == "left":
            self.room.remove(uid, str(info.get("reason", "left")))
            return
        allows = info.get("allows", [])
        self.room.update(
            ParticipantInfo(
                user_id=uid,
                display_name=str(info.get("name", uid)),
                seat=int(info.get("seat", -1)),
                mode=_MODES.get(str(info.get("mode")), MediaMode.VOLUMETRIC),
                connection=PeerConnection.CONNECTED,
                allows_audio_recording="voice" in allows,
                allows_hologram_recording="hologram" in allows,
            )
        )

    def _chat(self, record: Record) -> None:
        line = record.json()
        message = ChatMessage(
            str(line.get("userId", "")),
            str(line.get("text", "")),
            float(line.get("sent", record.time)),
            int(line.get("seq", 0)),
        )
        self.room.add_chat(message, str(line.get("name", "")) or None, bool(line.get("mine")))


def _decode(decoder: Any, payload: bytes) -> DepthFrame | None:
    try:
        frame: DepthFrame = decoder.decode_whole(payload)
    except CodecError:
        return None
    return frame
