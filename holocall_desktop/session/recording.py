"""Recording a call, with everyone's consent (``docs/recording.md``).

:class:`CallRecording` writes the call a :class:`~holocall_desktop.session.call.CallSession` is
in to one call file (:mod:`holocall_desktop.recording.callfile`) while it runs: who is in the
room (names, seats, what each allows, as it changes), the chat, and each other participant's
hologram payloads, avatar frames and Opus voice packets as they arrive, undecoded, and the
recorder's own hologram frames as sent and voice (``transport/tap.py``). While it
records, everyone is told (the ``recording`` flag of our consent message: their apps show REC
and ask their user). A participant's streams are written only while their own consent allows
them: voice with ``RECORD_AUDIO``, hologram and avatar with ``RECORD_HOLOGRAM``; the gate is
the engine's tap (:mod:`holocall_desktop.transport.tap`), so a withdrawn consent stops the
next message. Their chat is kept while they allow either. Someone who joins later is asked by
their app and is not recorded until they allow it.

Runs on the room's thread (the room events) and the network loop (the tap, which only queues).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from holocall_desktop.recording.callfile import CallWriter
from holocall_desktop.session.call import CallSession
from holocall_desktop.session.room import (
    ChatPosted,
    Participant,
    ParticipantAdded,
    ParticipantChanged,
    ParticipantRemoved,
    RoomEvent,
)

log = logging.getLogger(__name__)

HOLOGRAM_META = {"codec": "volumetric-dc"}


class CallRecording:
    """Records ``session``'s call into ``path`` from now until :meth:`stop` (see the module
    doc). ``OSError`` (one line) if the file cannot be created."""

    def __init__(self, session: CallSession, path: Path) -> None:
        self.session = session
        self.path = path
        config = session.config
        self.writer = CallWriter(
            path,
            {
                "room": session.engine.room_id or "",
                "recorder": config.user_id,
                "recorderName": config.display_name,
                "recorderSeat": str(max(0, session.engine.my_seat)),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        room = session.room
        self._unsubscribe = room.subscribe(self._on_event)
        for p in room.participants.values():
            self._room("joined", p)
        self.writer.put_json(  # the recorder: its own hologram and voice are in the file too
            "room",
            {
                "event": "joined",
                "userId": config.user_id,
                "name": config.display_name,
                "seat": max(0, session.engine.my_seat),
                "mode": session.mode.value,
                "allows": ["voice", "hologram"],
                "recorder": True,
            },
        )
        self.stopped = False
        session.engine.tap.sink = self._tapped
        session.set_recording(True)

    @property
    def error(self) -> str | None:
        """Why the recording stopped early (a full disk), else None."""
        return self.writer.error

    def stop(self) -> None:
        """Stop recording and finish the file (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        self.session.engine.tap.sink = None
        self._unsubscribe()
        self.session.set_recording(False)
        self.writer.close()

    def _tapped(self, kind: str, user_id: str | None, data: bytes) -> None:  # network loop
        meta = HOLOGRAM_META if kind == "hologram" else None
        self.writer.put(kind, user_id, bytes(data), metadata=meta)

    def _room(self, event: str, p: Participant, **extra: Any) -> None:
        self.writer.put_json(
            "room",
            {
                "event": event,
                "userId": p.user_id,
                "name": p.name,
                "seat": p.server_seat,
                "mode": p.mode.value,
                "allows": p.allows,
                **extra,
            },
        )

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, ParticipantAdded):
            self._room("joined", event.participant)
        elif isinstance(event, ParticipantChanged):
            now, was = event.participant, event.previous
            seen = (now.name, now.server_seat, now.mode, now.allows)
            if seen != (was.name, was.server_seat, was.mode, was.allows):
                self._room("changed", now)
        elif isinstance(event, ParticipantRemoved):
            self._room("left", event.participant, reason=event.reason)
        elif isinstance(event, ChatPosted):
            line = event.line
            who = self.session.room.participants.get(line.user_id)
            if line.mine or (who is not None and who.allows):
                self.writer.put_json(
                    "chat",
                    {
                        "userId": line.user_id,
                        "name": line.name,
                        "text": line.text,
                        "seq": line.seq,
                        "sent": round(line.sent_time, 3),
                        "mine": line.mine,
                    },
                )
