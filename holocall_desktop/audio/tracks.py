"""aiortc tracks: the local microphone out, remote voices in.

:class:`MicrophoneTrack` is what the call engine sends (aiortc encodes it with Opus): 20 ms
``av.AudioFrame`` s16 mono 48 kHz with ``pts`` counted in samples and ``time_base`` 1/48000.
Samples are pushed into it from the audio worker thread; ``recv()`` hands them out as soon as
a frame's worth is there, so the track adds no pacing delay of its own. When no samples have
come for ``idle_ms`` (no microphone, device lost), it produces silence in real time so the call
goes on; a backlog over ``max_backlog_ms`` (the network loop fell behind) is skipped.
Muted, it sends digital silence (all-zero samples) and keeps its timing.

:class:`RemoteAudioReceiver` runs a ``recv()`` loop on the engine's asyncio loop for one remote
track, converts what arrives to 48 kHz mono float32 (``av.AudioResampler``) and pushes it into
that participant's :class:`~holocall_desktop.audio.jitter.JitterBuffer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import threading
import time
from collections.abc import Callable

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from holocall_desktop.audio.jitter import JitterBuffer
from holocall_desktop.audio.ring import AudioRing

log = logging.getLogger(__name__)

SAMPLERATE = 48000
FRAME = 960  # 20 ms, Opus's frame in aiortc


class MicrophoneTrack(MediaStreamTrack):
    """The local voice as an aiortc audio track (single producer: :meth:`push`)."""

    kind = "audio"

    def __init__(self, *, max_backlog_ms: float = 60.0, idle_ms: float = 100.0) -> None:
        super().__init__()
        self._ring = AudioRing(SAMPLERATE, 1)  # one second
        self._out = np.zeros((FRAME, 1), dtype=np.float32)
        self._max_backlog = int(max_backlog_ms / 1000 * SAMPLERATE)
        self._idle = idle_ms / 1000.0
        self._muted = False
        self._pts = 0
        self._last_push: float | None = None  # when samples last came (monotonic)
        self._next_silence: float | None = None  # when to send the next made-up silent frame
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._notify_lock = threading.Lock()
        self.frames_sent = 0
        self.silent_frames = 0  # frames made up because no samples came (not mute)
        self.dropped_samples = 0  # old samples skipped to keep latency low

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = bool(value)

    def push(self, samples: npt.NDArray[np.float32]) -> None:
        """Queue microphone samples (mono float32 in [-1, 1], 48 kHz); any thread, one writer."""
        self._ring.write(samples)
        self._last_push = time.monotonic()
        with self._notify_lock:
            loop, event = self._loop, self._event
        if loop is not None and event is not None and self._ring.available() >= FRAME:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(event.set)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._event is None:
            with self._notify_lock:
                self._loop = asyncio.get_running_loop()
                self._event = asyncio.Event()
        event = self._event
        assert event is not None
        while self._ring.available() < FRAME:
            now = time.monotonic()
            last = self._last_push
            if last is None or now - last > self._idle:
                # no microphone (none, or lost): send silence in real time so the call goes on
                if self._next_silence is None or self._next_silence < now - 0.1:
                    self._next_silence = now
                if self._next_silence > now:
                    await asyncio.sleep(self._next_silence - now)
                self._next_silence += FRAME / SAMPLERATE
                break
            event.clear()
            if self._ring.available() >= FRAME:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self._idle)
            if self.readyState != "live":
                raise MediaStreamError
        backlog = self._ring.available() - FRAME
        if backlog > self._max_backlog:  # the network loop fell behind: catch up
            self.dropped_samples += self._ring.skip(backlog - FRAME // 2)
        got = self._ring.read_into(self._out, fill_silence=True)
        if got < FRAME:
            self.silent_frames += 1
        else:
            self._next_silence = None
        pcm = np.zeros((1, FRAME), dtype=np.int16)
        if not self._muted:
            np.clip(self._out[:, 0] * 32767.0, -32768, 32767, out=pcm[0], casting="unsafe")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLERATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLERATE)
        self._pts += FRAME
        self.frames_sent += 1
        return frame


class RemoteAudioReceiver:
    """Consumes one remote audio track into a jitter buffer (run on the engine's loop)."""

    def __init__(
        self,
        user_id: str,
        track: MediaStreamTrack,
        jitter: JitterBuffer,
        on_ended: Callable[[str], None] | None = None,
    ) -> None:
        if track.kind != "audio":
            raise ValueError(f"the track of {user_id!r} is {track.kind!r}, not audio")
        self.user_id = user_id
        self.track = track
        self.jitter = jitter
        self._on_ended = on_ended
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLERATE)
        self._task: asyncio.Task[None] | None = None
        self.frames = 0

    def start(self) -> asyncio.Task[None]:
        """Start the ``recv()`` loop; call on the loop that owns the track."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"audio-in-{self.user_id}"
        )
        return self._task

    async def _run(self) -> None:
        try:
            while True:
                try:
                    frame = await self.track.recv()
                except MediaStreamError:
                    break
                if not isinstance(frame, av.AudioFrame):
                    continue
                self.frames += 1
                media = None
                if frame.pts is not None and frame.time_base is not None:
                    media = float(frame.pts * frame.time_base)
                for f in self._resampler.resample(frame):
                    pcm = f.to_ndarray().reshape(-1)
                    self.jitter.push(pcm.astype(np.float32) * (1.0 / 32768.0), media_time=media)
                    media = None  # a second output frame continues the first
        finally:
            if self._on_ended is not None:
                self._on_ended(self.user_id)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LoopingSamplesTrack(MediaStreamTrack):
    """Plays a prepared mono signal (48 kHz float32 in [-1, 1]) over and over, paced in real
    time in 20 ms frames: the simulated participant's voice in ``holocall demo``."""

    kind = "audio"

    def __init__(self, samples: npt.NDArray[np.float32]) -> None:
        super().__init__()
        mono = np.asarray(samples, dtype=np.float32).reshape(-1)
        if mono.size < FRAME:
            raise ValueError("a looping track needs at least 20 ms of samples")
        self._pcm = (np.clip(mono, -1.0, 1.0) * 32767.0).astype(np.int16)
        self._pos = 0
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._sent / SAMPLERATE
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        idx = (self._pos + np.arange(FRAME)) % self._pcm.size
        self._pos = int((self._pos + FRAME) % self._pcm.size)
        frame = av.AudioFrame.from_ndarray(
            self._pcm[idx].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLERATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, SAMPLERATE)
        self._sent += FRAME
        return frame
