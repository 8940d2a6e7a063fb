"""A participant without a window: the session (local media, the call, the room) plus a JSON
printer.

Used by ``holocall join URL --headless`` (tests, bots, load) and, in a background thread, by
``holocall demo`` as the simulated remote participant. Local media feeds the call from a sender
thread; a room thread applies the engine's reports to the room model (:meth:`CallSession.pump`)
and prints the room's events; a receiver thread "draws" remote frames by taking them from the
session (and reporting them drawn), so latency and join time are measured exactly as in the
app, minus the rendering.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError

from holocall_desktop.audio.tone import ToneMeter
from holocall_desktop.capture.base import FrameSource, SourceError
from holocall_desktop.capture.pacing import next_frame_index
from holocall_desktop.capture.runner import Processor
from holocall_desktop.codec.base import Quality
from holocall_desktop.model import DepthFrame
from holocall_desktop.processing.background import remove_background
from holocall_desktop.session.call import CallSession
from holocall_desktop.session.headless_screen import HeadlessScreens
from holocall_desktop.session.media import LocalMedia
from holocall_desktop.session.recording import CallRecording
from holocall_desktop.session.room import (
    CallStateChanged,
    ChatPosted,
    NetworkNotice,
    Participant,
    ParticipantAdded,
    ParticipantChanged,
    ParticipantRemoved,
    RoomEvent,
)
from holocall_desktop.transport.api import (
    CallConfig,
    CallState,
    PeerConnection,
    PeerStats,
    RemoteFrame,
)
from holocall_desktop.transport.engine import EngineOptions
from holocall_desktop.transport.invite import format_invite
from holocall_desktop.transport.screen import ScreenSource

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


def user_id_for(name: str) -> str:
    """A signaling user id (1-64 of ``A-Z a-z 0-9 _ . -``) made from a display name."""
    uid = _ID_CHARS.sub("-", name.strip()).strip("-")[:64]
    return uid or "guest"


class LoopedSource:
    """Renders the first ``count`` frames of a source once, then hands them out in a loop at
    the source's rate with increasing frame numbers: a source that costs (almost) nothing per
    frame, like a camera does, for benchmarks of the call itself."""

    def __init__(self, source: FrameSource, count: int, fps: float | None = None) -> None:
        if count < 1:
            raise SourceError("preload needs at least one frame")
        self.inner = source
        self.count = count
        self._fps = float(fps or source.fps)
        self._frames: list[DepthFrame] = []
        self._next = 0
        self._t0 = 0.0

    @property
    def name(self) -> str:
        return f"{self.inner.name}, {self.count} frames looped"

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def finished(self) -> bool:
        return False

    @property
    def has_depth(self) -> bool:
        return self.inner.has_depth

    def start(self) -> None:
        self.inner.start()
        try:
            while len(self._frames) < self.count:
                frame = self.inner.read(timeout=2.0)
                if frame is None:
                    if self.inner.finished:
                        break
                    continue
                self._frames.append(frame)
        finally:
            self.inner.stop()
        if not self._frames:
            raise SourceError(f"{self.inner.name} gave no frames to loop")
        self._t0 = time.monotonic()

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        n = next_frame_index(self._t0, self._fps, self._next, timeout)
        if n is None:
            return None
        self._next = n + 1
        base = self._frames[n % len(self._frames)]
        return dataclasses.replace(base, frame_number=n, timestamp=n / self._fps)

    def stop(self) -> None:
        pass


def open_headless_source(
    spec: str,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    preload: int = 0,
) -> FrameSource:
    """``spec`` as :func:`~holocall_desktop.capture.open.open_source` reads it; for the synthetic
    person ``fps`` and ``size`` (width, height) may be changed; ``preload`` > 0 loops that many
    frames (see :class:`LoopedSource`)."""
    from holocall_desktop.capture.open import open_source

    source: FrameSource
    key = spec.strip().lower()
    if key == "synthetic" or key.startswith("synthetic:"):
        from holocall_desktop.capture.synthetic import SyntheticPersonSource

        probe = open_source(spec)  # validates the seed
        assert isinstance(probe, SyntheticPersonSource)
        width, height = size or (848, 480)
        source = SyntheticPersonSource(
            width=width, height=height, fps=fps or 30.0, realtime=preload == 0, seed=probe.seed
        )
    else:
        if size is not None:
            raise SourceError("--size applies to the synthetic source only")
        source = open_source(spec, realtime=True, loop=True)
    if preload > 0:
        return LoopedSource(source, preload, fps)
    return source


def _participant_json(p: Participant) -> dict[str, Any]:
    return {
        "userId": p.user_id,
        "name": p.name,
        "seat": p.server_seat,
        "mode": p.mode.value,
        "connection": p.connection.value,
        "codec": p.codec,
        "allows": p.allows,
        "recording": p.recording,
    }


def _stats_json(st: PeerStats) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dataclasses.asdict(st).items():
        out[key] = round(value, 3) if isinstance(value, float) else value
    return out


class HeadlessParticipant:
    """See the module doc. ``emit`` receives every JSON object (default: print one line each).

    ``save_dir``: save the first ``save_limit`` frames received from each peer as
    ``<user>_<frame number>.npz`` (depth, depth_units, colour), for tests that check content,
    and the last picture of each screen shared with us. ``share``: a screen source shared once
    joined (``session/headless_screen.py``).
    """

    def __init__(
        self,
        config: CallConfig,
        source_spec: str = "synthetic",
        *,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
        preload: int = 0,
        background_removal: bool = True,
        quality: Quality | None = None,
        emit: Emit | None = None,
        save_dir: Path | None = None,
        save_limit: int = 0,
        options: EngineOptions | None = None,
        local_audio: Any = None,
        on_remote_audio: Callable[[str, Any], None] | None = None,
        report_latencies: bool = False,
        hear: bool = False,
        say: Sequence[str] = (),
        record: Path | None = None,
        consent: tuple[bool, bool] = (False, False),
        share: ScreenSource | None = None,
    ) -> None:
        self.config = config
        self.source_spec = source_spec
        self._source_args = (fps, size, preload)
        self.background_removal = background_removal
        self._emit_fn = emit or _print_line
        self.save_dir = save_dir
        self.save_limit = save_limit
        self.session = CallSession(
            config,
            quality=quality,
            local_audio=local_audio,
            on_remote_audio=self._hear if hear and on_remote_audio is None else on_remote_audio,
            options=options,
        )
        self.engine = self.session.engine
        self.room = self.session.room
        self.room.subscribe(self._on_room)
        # headless participants send what the source gives (no face tracking)
        self.media = LocalMedia(on_error=self._source_error, auto_avatar=False)
        self.received: dict[str, int] = {}
        self.saved: dict[str, int] = {}
        self._last_stats: list[PeerStats] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._held: list[dict[str, Any]] | None = [] if config.create_room else None
        self.invite_link: str | None = None
        self.report_latencies = report_latencies
        #: with ``hear``: a tone meter on each participant's decoded voice (``audio`` in stats)
        self.meters: dict[str, ToneMeter] = {}
        self._hearing: set[asyncio.Future[None]] = set()
        self._latencies: dict[str, list[float]] = {}
        self.error: str | None = None
        self.started_at = 0.0
        #: ``say``: written in the chat, in order, to each participant once they connect
        self.say = list(say)
        self._greeted: set[str] = set()
        #: ``record``: the call is recorded to this file from joining to leaving
        self.record_path = record
        self.recording: CallRecording | None = None
        self.record_error: str | None = None
        self.session.set_consent(*consent)  # what we allow others to record (voice, hologram)
        self.screens = HeadlessScreens(self.session, self._emit, share, save_dir)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the source and join; returns at once (threads do the work)."""
        fps, size, preload = self._source_args
        source = open_headless_source(self.source_spec, fps, size, preload)
        processors: list[Processor] = []
        if self.background_removal:
            processors.append(lambda frame: remove_background(frame))
        self.started_at = time.monotonic()
        self.media.run(source, processors)
        self.media.attach(self.session)
        self.session.start()
        loops = (
            (self._room_loop, "room"),
            (self._send_loop, "send"),
            (self._receive_loop, "receive"),
        )
        for target, name in loops:
            thread = threading.Thread(target=target, name=f"headless-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        """Make :meth:`run` leave the call and return (any thread, signal handlers too)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Leave the call and stop everything (idempotent)."""
        self._stop.set()
        self._stop_recording()
        self.screens.close()
        self.engine.leave(timeout)
        self.engine.close(timeout)
        self.media.close()
        for thread in self._threads:
            thread.join(timeout)
        self.session.pump()

    def run(
        self,
        frames: int | None = None,
        seconds: float | None = None,
        peers: int = 1,
        timeout: float = 60.0,
        stats_interval: float = 1.0,
        linger: float = 0.0,
    ) -> int:
        """Blocking: start, print stats every ``stats_interval`` s, stop when each of ``peers``
        peers delivered ``frames`` frames (and ``linger`` more seconds passed), or after
        ``seconds``; 0 on success, 1 on failure (call failed, or the frames did not arrive
        within ``timeout`` s)."""
        self.start()
        code = 0
        try:
            next_stats = time.monotonic() + stats_interval
            deadline = time.monotonic() + (seconds if seconds is not None else timeout)
            while not self._stop.is_set():
                time.sleep(0.05)
                now = time.monotonic()
                if now >= next_stats:
                    next_stats += stats_interval
                    self._emit(self.stats_line())
                state = self.engine.state
                if state == CallState.FAILED or self._failure() is not None:
                    code = 1
                    break
                if state == CallState.LEFT:
                    break
                if frames is not None:
                    with self._lock:
                        counts = sorted(self.received.values(), reverse=True)
                    if len(counts) >= peers and counts[peers - 1] >= frames:
                        if linger <= 0:
                            break
                        frames = None
                        deadline = now + linger
                        seconds = linger
                if now >= deadline:
                    if seconds is None:
                        self._emit(
                            {
                                "event": "error",
                                "message": f"timed out after {timeout:g} s waiting for "
                                f"{frames} frames from {peers} peer(s)",
                            }
                        )
                        code = 1
                    break
        except KeyboardInterrupt:
            code = 130
        finally:
            self._emit(self.stats_line())
            self.stop()
            summary = self.engine.summary
            self._emit(
                {
                    "event": "summary",
                    "state": self.engine.state.value,
                    "message": self.engine.state_message,
                    "joinTimeS": summary.join_time_s,
                    "participantsSeen": summary.participants_seen,
                    "framesSent": summary.frames_sent,
                    "framesReceived": dict(self.received),
                    "reconnects": summary.reconnects,
                    "chat": sum(1 for line in self.room.chat if not line.mine),
                    **self.screens.report(),
                }
            )
            self.screens.save()
            self._release_held()  # lines held for the invite are printed whatever happened
            if self.recording is not None and self.recording.error is not None:
                self.record_error = self.recording.error
            if (self.record_error or self.screens.error) is not None and code == 0:
                code = 1
            if code == 1:
                why = self._failure() or self.engine.state_message
                why = why or "the call did not deliver the frames"
                print(f"holocall: error: {why}", file=sys.stderr, flush=True)
        return code

    def _failure(self) -> str | None:
        """Why the participant fails, besides the call: its source, recording or share."""
        return self.record_error or (self.error and f"source: {self.error}") or self.screens.error

    def _release_held(self) -> None:
        with self._lock:
            held, self._held = self._held, None
        for line in held or []:
            self._emit(line)

    def stats_line(self) -> dict[str, Any]:
        with self._lock:
            received = dict(self.received)
            latencies, self._latencies = self._latencies, {}
            meters = {uid: m.summary() for uid, m in self.meters.items()}
        extra: dict[str, Any] = {}
        if meters:
            extra["audio"] = meters
        if avatars := dict(self.session.avatars_shown):
            extra["avatars"] = avatars  # avatar frames received, per participant
        extra |= {key: v for key, v in self.screens.report().items() if v}  # screens, videos
        if self.report_latencies:
            extra["latencies"] = {u: [round(x, 2) for x in v] for u, v in latencies.items()}
        people = sorted(self.room.participants.values(), key=lambda p: (p.server_seat, p.user_id))
        return {
            "event": "stats",
            "t": round(time.monotonic() - self.started_at, 3),
            "state": self.engine.state.value,
            "participants": [_participant_json(p) for p in people],
            "peers": [_stats_json(s) for s in self.room.stats],
            "received": received,
            "sent": self.engine.summary.frames_sent,
            **extra,
        }

    # ---- hearing -----------------------------------------------------------------------------

    def _hear(self, user_id: str, track: Any) -> None:
        """A participant's voice track (on the network loop): measure what it plays."""
        task = asyncio.ensure_future(self._listen(user_id, track))
        self._hearing.add(task)
        task.add_done_callback(self._hearing.discard)

    async def _listen(self, user_id: str, track: Any) -> None:
        with self._lock:
            meter = self.meters[user_id] = ToneMeter()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            with self._lock:
                meter.add(frame)

    # ---- threads -----------------------------------------------------------------------------

    def _room_loop(self) -> None:
        """The room's thread: applies the call's reports (its events print as JSON lines)."""
        while not self._stop.is_set():
            self.session.pump()
            time.sleep(0.02)

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self.media.poll(wait=0.25)

    def _receive_loop(self) -> None:
        while not self._stop.is_set():
            arrived = self.engine.wait_for_frames(0.1)
            self.session.take_avatars()  # counted in avatars_shown ("avatars" in stats)
            self.screens.poll()
            if not arrived:
                continue
            frames = self.session.take_frames()
            self.session.frames_drawn()
            for remote in frames:
                latency_ms = (time.time() - remote.capture_time) * 1000.0
                with self._lock:
                    self.received[remote.user_id] = self.received.get(remote.user_id, 0) + 1
                    if self.report_latencies:
                        self._latencies.setdefault(remote.user_id, []).append(latency_ms)
                self._save(remote)

    def _save(self, remote: RemoteFrame) -> None:
        if self.save_dir is None or self.saved.get(remote.user_id, 0) >= self.save_limit:
            return
        self.saved[remote.user_id] = self.saved.get(remote.user_id, 0) + 1
        save_frame(self.save_dir / f"{remote.user_id}_{remote.sequence}.npz", remote)

    # ---- events (the room's thread) ----------------------------------------------------------

    def _source_error(self, message: str) -> None:
        self.error = message
        self._emit({"event": "error", "message": f"source: {message}"})

    def _on_room(self, event: RoomEvent) -> None:
        if isinstance(event, ParticipantAdded | ParticipantChanged):
            self._greet(event.participant)
        if isinstance(event, ParticipantAdded):
            self._emit({"event": "participant", **_participant_json(event.participant)})
        elif isinstance(event, ParticipantChanged):
            now, before = _participant_json(event.participant), _participant_json(event.previous)
            if now != before:
                self._emit({"event": "participant", **now})
        elif isinstance(event, ChatPosted) and not event.line.mine:
            line = event.line
            self._emit(
                {
                    "event": "chat",
                    "userId": line.user_id,
                    "name": line.name,
                    "text": line.text,
                    "time": round(line.sent_time, 3),
                    "seq": line.seq,
                }
            )
        elif isinstance(event, ParticipantRemoved):
            uid = event.participant.user_id
            self._emit({"event": "left", "userId": uid, "reason": event.reason})
        elif isinstance(event, NetworkNotice):
            self._emit(
                {
                    "event": "network",
                    "userId": event.user_id,
                    "down": event.down,
                    "rung": event.rung,
                    "message": event.message,
                }
            )
        elif isinstance(event, CallStateChanged):
            self._on_state(event.state, event.message)
        self.screens.on_event(event)

    def _start_recording(self) -> None:
        if self.record_path is None or self.recording is not None:
            return
        try:
            self.recording = CallRecording(self.session, self.record_path)
        except OSError as exc:
            self.record_error = str(exc)
            self._emit({"event": "error", "message": str(exc)})
            return
        self._emit({"event": "recording", "state": "started", "file": str(self.record_path)})

    def _stop_recording(self) -> None:
        recording = self.recording
        if recording is None or recording.stopped:
            return
        recording.stop()
        line: dict[str, Any] = {"event": "recording", "state": "stopped"}
        line |= {"file": str(recording.path), "messages": recording.writer.written}
        if recording.error is not None:  # a full disk: the call went on, the file stopped
            line["error"] = recording.error
        self._emit(line)

    def _greet(self, p: Participant) -> None:
        """``say``'s texts to ``p``, once, when they are first connected."""
        if (
            not self.say
            or p.user_id in self._greeted
            or p.connection is not PeerConnection.CONNECTED
        ):
            return
        self._greeted.add(p.user_id)
        for text in self.say:
            self.session.say(text, to=p.user_id)

    def _on_state(self, state: CallState, message: str) -> None:
        if state == CallState.JOINED:
            self._start_recording()
            self.screens.joined()
        if state == CallState.JOINED and self._held is not None:
            room = self.engine.room_id
            secret = self.engine.invite_secret
            if room and secret:
                self.invite_link = format_invite(self.config.server, room, secret)
                held, self._held = self._held, None
                self._emit(
                    {
                        "event": "invite",
                        "link": self.invite_link,
                        "roomId": room,
                        "server": self.config.server,
                    }
                )
                for line in held:
                    self._emit(line)
        elif state == CallState.FAILED and self._held is not None:
            held, self._held = self._held, None
            for line in held:
                self._emit(line)
        self._emit({"event": "state", "state": state.value, "message": message})

    def _emit(self, obj: dict[str, Any]) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(obj)
                return
        try:
            self._emit_fn(obj)
        except Exception:
            log.exception("emitting a line failed")


def save_frame(path: Path, remote: RemoteFrame) -> None:
    """A received frame as ``.npz``: depth, depth_units, frame_number, capture_time, colour."""
    f = remote.frame
    arrays: dict[str, Any] = {
        "depth": f.depth,
        "depth_units": np.float64(f.depth_units),
        "frame_number": np.int64(f.frame_number),
        "capture_time": np.float64(remote.capture_time),
    }
    if f.color is not None:
        arrays["color"] = f.color
    np.savez_compressed(path, **arrays)


def _print_line(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, separators=(",", ":")), flush=True)
