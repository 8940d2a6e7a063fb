"""A recorded call, played back without a window (``holocall replay CALL_FILE --headless``).

Reads a call file (:mod:`holocall_desktop.recording.callfile`), decodes every participant's
holograms with the codec they were sent in, their avatar frames, and their voice with the same
Opus decoder a call uses (a lost packet concealed as in the call), and reports per participant
what the file holds: name and seat, what they allowed, frames decoded (and rejected), avatar
frames, the voice (``ToneMeter``: how long, and its dominant tone, so a test tone can be
checked against what was sent), and the chat. ``save_dir`` keeps decoded frames as ``.npz``
for content checks, as ``holocall join --save-frames`` does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from holocall_desktop.audio.tone import ToneMeter
from holocall_desktop.codec.avatar_frame import AvatarFrameError, decode_avatar_frame
from holocall_desktop.codec.base import DATACHANNEL, CodecError
from holocall_desktop.codec.registry import decoder_for_transport
from holocall_desktop.recording.callfile import CallFileError, Record, read_call, split_voice
from holocall_desktop.transport.voice import ResilientOpusDecoder


@dataclasses.dataclass
class _Packet:
    data: bytes
    timestamp: int


@dataclasses.dataclass
class ReplayedParticipant:
    user_id: str
    name: str = ""
    seat: int = -1
    allows: list[str] = dataclasses.field(default_factory=list)
    holograms: int = 0
    decoded: int = 0
    bad: int = 0
    avatars: int = 0
    voice_packets: int = 0
    chat: int = 0
    meter: ToneMeter = dataclasses.field(default_factory=ToneMeter)
    saved: int = 0
    recorder: bool = False  # the one who recorded (their own streams, as sent)

    def json(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "name": self.name,
            "seat": self.seat,
            "allows": self.allows,
            "holograms": self.holograms,
            "decoded": self.decoded,
            "bad": self.bad,
            "avatars": self.avatars,
            "voicePackets": self.voice_packets,
            "voice": self.meter.summary(),
            "chat": self.chat,
            "recorder": self.recorder,
        }


class CallReplay:
    """Plays ``path`` through decoders; :meth:`run` returns the report (a JSON object)."""

    def __init__(self, path: Path, save_dir: Path | None = None, save_limit: int = 5) -> None:
        self.path = path
        self.save_dir = save_dir
        self.save_limit = save_limit
        self.people: dict[str, ReplayedParticipant] = {}
        self.chat: list[dict[str, Any]] = []
        self._decoders: dict[str, Any] = {}
        self._voices: dict[str, ResilientOpusDecoder] = {}

    def run(self) -> dict[str, Any]:
        call = read_call(self.path)  # CallFileError: not a call file
        for record in call.records:
            self._play(record)
        times = [r.time for r in call.records]
        return {
            "event": "call",
            "file": str(self.path),
            "metadata": call.metadata,
            "truncated": call.truncated,
            "messages": len(call.records),
            "durationS": round(times[-1] - times[0], 3) if times else 0.0,
            "participants": [p.json() for p in self.people.values()],
            "chat": self.chat,
        }

    def _person(self, user_id: str) -> ReplayedParticipant:
        return self.people.setdefault(user_id, ReplayedParticipant(user_id))

    def _play(self, record: Record) -> None:
        if record.kind == "room":
            info = record.json()
            p = self._person(str(info.get("userId")))
            p.name, p.seat = str(info.get("name", "")), int(info.get("seat", -1))
            p.allows = [str(x) for x in info.get("allows", [])]
            p.recorder = bool(info.get("recorder"))
        elif record.kind == "chat":
            line = record.json()
            self.chat.append(line)
            if not line.get("mine"):
                self._person(str(line.get("userId"))).chat += 1
        elif record.user_id is not None:
            self._stream(self._person(record.user_id), record)

    def _stream(self, p: ReplayedParticipant, record: Record) -> None:
        if record.kind == "hologram":
            p.holograms += 1
            decoder = self._decoders.setdefault(p.user_id, decoder_for_transport(DATACHANNEL))
            try:
                frame = decoder.decode_whole(record.data)
            except CodecError:
                p.bad += 1
                return
            p.decoded += 1
            self._save(p, frame)
        elif record.kind == "avatar":
            try:
                decode_avatar_frame(record.data)
            except AvatarFrameError:
                p.bad += 1
                return
            p.avatars += 1
        elif record.kind == "voice":
            _seq, timestamp, opus = split_voice(record.data)
            p.voice_packets += 1
            decoder = self._voices.setdefault(p.user_id, ResilientOpusDecoder())
            for frame in decoder.decode(_Packet(opus, timestamp)):
                p.meter.add(frame)

    def _save(self, p: ReplayedParticipant, frame: Any) -> None:
        if self.save_dir is None or p.saved >= self.save_limit:
            return
        p.saved += 1
        arrays: dict[str, Any] = {
            "depth": frame.depth,
            "depth_units": np.float64(frame.depth_units),
            "frame_number": np.int64(frame.frame_number),
        }
        if frame.color is not None:
            arrays["color"] = frame.color
        np.savez_compressed(self.save_dir / f"{p.user_id}_{frame.frame_number}.npz", **arrays)


__all__ = ["CallFileError", "CallReplay"]
