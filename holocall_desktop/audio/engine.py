"""The audio service the UI and the call engine use: devices, processing, mixer, tracks.

One worker thread does all the processing in 10 ms blocks:

1. **Playback.** While fewer than ``playout_blocks`` blocks wait for the speaker, it pulls a
   block from every participant's jitter buffer, measures its level, mixes them in space
   (:class:`~holocall_desktop.audio.spatial.SpatialMixer`), queues the mix for the speaker and
   feeds it to the echo canceller as the far end. Without a speaker the same happens on a
   10 ms clock (the mix then only goes to taps).
2. **Capture.** Every microphone block (or block given to :meth:`AudioEngine.push_capture`)
   goes through echo cancellation, noise suppression and gain control, is metered, and goes to
   the :class:`~holocall_desktop.audio.tracks.MicrophoneTrack` that the call sends.

The PortAudio callbacks only move samples through ring buffers. Every public method is
thread-safe. Nothing here imports Qt: the UI polls :meth:`AudioEngine.input_level`,
:meth:`AudioEngine.levels` and :meth:`AudioEngine.active_speaker` on a timer, and receives
device errors through ``on_error`` (called from the worker or a PortAudio thread: re-emit it
as a queued signal).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack

from holocall_desktop.audio.devices import AudioIO, DeviceSpec
from holocall_desktop.audio.errors import AudioDeviceError
from holocall_desktop.audio.processing import VoiceProcessor, VoiceSettings
from holocall_desktop.audio.ring import AudioRing
from holocall_desktop.audio.spatial import SpatialMixer, SpatialParams
from holocall_desktop.audio.tracks import MicrophoneTrack, RemoteAudioReceiver
from holocall_desktop.audio.voices import Level, Meter, ParticipantAudio, RemoteVoices

__all__ = ["AudioEngine", "DeviceStats", "Level", "ParticipantAudio"]
from holocall_desktop.model.room import RoomLayout

log = logging.getLogger(__name__)

#: blocks in a row (10 ms each) that fail before the user is told voice stopped
WORKER_FAILURES_TOLD = 20

FloatArray = npt.NDArray[np.float32]
HEAD_HEIGHT = 1.2  # a seated person's mouth above the floor, metres


@dataclass(frozen=True)
class DeviceStats:
    """Glitch counters of the current devices (since they were opened)."""

    input_overflows: int  # PortAudio: microphone samples lost before we got them
    output_underflows: int  # PortAudio: the speaker ran dry
    playback_missing_ms: float  # silence the speaker callback played for want of a mix
    capture_dropped_ms: float  # microphone samples the worker did not take in time


class AudioEngine:
    """Owns the microphone, the speaker, voice processing, the spatial mixer and the tracks.

    ``input_device`` / ``output_device``: PortAudio index or name (``None`` = system default).
    ``capture`` / ``playback`` off: no device opened in that direction (``push_capture`` feeds
    the microphone path instead; the mix is then made on a clock and only reaches taps).
    """

    def __init__(
        self,
        input_device: DeviceSpec = None,
        output_device: DeviceSpec = None,
        *,
        capture: bool = True,
        playback: bool = True,
        samplerate: int = 48000,
        layout: RoomLayout | None = None,
        voice: VoiceSettings | None = None,
        spatial: SpatialParams | None = None,
        playout_blocks: int = 2,
        jitter_min_ms: float = 10.0,
        jitter_max_ms: float = 200.0,
        device_latency: str | float = "low",
        speech_threshold_dbfs: float = -45.0,
        hangover_s: float = 0.5,
        on_error: Callable[[AudioDeviceError], None] | None = None,
    ) -> None:
        if samplerate != 48000:
            raise ValueError("the audio engine runs at 48000 Hz (Opus, WebRTC processing)")
        if playout_blocks < 1:
            raise ValueError("playout_blocks must be at least 1")
        self.samplerate = samplerate
        self.block = samplerate // 100
        self.layout = layout or RoomLayout()
        self._input_device = input_device
        self._output_device = output_device
        self._capture = capture
        self._playback = playback
        self._device_latency = device_latency
        self._playout_blocks = playout_blocks
        if not 0 <= jitter_min_ms <= jitter_max_ms:
            raise ValueError("need 0 <= jitter_min_ms <= jitter_max_ms")
        self._on_error = on_error
        self.voice = VoiceProcessor(voice, samplerate, far_channels=2)
        self.mixer = SpatialMixer(samplerate, self.block, spatial)
        seat0 = self.layout.seat(0, 2)
        self.mixer.set_listener(self.layout.viewer_eye(), seat0.facing)
        self.local_track = MicrophoneTrack()
        self._lock = threading.RLock()  # the taps
        self.voices = RemoteVoices(
            samplerate,
            self.block,
            (jitter_min_ms, jitter_max_ms),
            speech_threshold_dbfs,
            hangover_s,
            on_new=self._place_new,
        )
        self._taps: list[Callable[[FloatArray], None]] = []
        self._capture_taps: list[Callable[[FloatArray], None]] = []
        self._pushed = AudioRing(samplerate * 2, 1)
        self._pushed_lock = threading.Lock()
        self._in_meter = Meter(samplerate, self.block)
        self._io: AudioIO | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: AudioDeviceError | None = None
        self._mix = np.zeros((self.block, 2), dtype=np.float32)
        self._cap = np.zeros(self.block, dtype=np.float32)
        self.blocks_mixed = 0
        self.blocks_captured = 0
        self.mix_seconds = 0.0  # worker time spent mixing (for the benchmark)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Open the devices and start the worker. Raises :class:`AudioDeviceError`."""
        if self._thread is not None:
            return
        self._open_io()
        self._stop.clear()
        self._thread = threading.Thread(target=self._worker, name="audio-worker", daemon=True)
        self._thread.start()

    def _open_io(self) -> None:
        self._error = None
        if not (self._capture or self._playback):
            self._io = None
            return
        io = AudioIO(
            self._input_device,
            self._output_device,
            self.samplerate,
            self.block,
            capture=self._capture,
            playback=self._playback,
            latency=self._device_latency,
        )
        io.start()
        self._io = io

    def wait_running(self, timeout: float = 5.0) -> bool:
        """Block until the devices stream in real time (True at once without devices)."""
        io = self._io
        return True if io is None else io.wait_running(timeout)

    def stop(self) -> None:
        """Stop the worker and close the devices (the local track keeps sending silence)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._io is not None:
            self._io.close()
            self._io = None

    def close(self) -> None:
        self.stop()
        for v in self.voices.clear():
            v.cancel_receiver()
        self.local_track.stop()

    def __enter__(self) -> AudioEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_devices(self, input_device: DeviceSpec, output_device: DeviceSpec) -> None:
        """Switch microphone and/or speaker (e.g. after the user picked others, or an unplug).

        Raises :class:`AudioDeviceError` if the new ones cannot be opened; the engine then keeps
        running without devices until devices that work are set.
        """
        running = self._thread is not None
        self.stop()
        self._input_device, self._output_device = input_device, output_device
        if running:
            self._stop.clear()
            try:
                self._open_io()
            finally:
                self._thread = threading.Thread(
                    target=self._worker, name="audio-worker", daemon=True
                )
                self._thread.start()

    @property
    def error(self) -> AudioDeviceError | None:
        """The last device error (``None`` while the devices work)."""
        return self._error

    def device_stats(self) -> DeviceStats:
        return device_stats(self._io, self.samplerate)

    @property
    def processing_message(self) -> str:
        """Why echo cancellation / noise suppression are off ('' when they run)."""
        return self.voice.message

    @property
    def devices(self) -> tuple[str | None, str | None]:
        """The names of the microphone and the speaker in use."""
        io = self._io
        return (None, None) if io is None else io.names

    # -- participants ------------------------------------------------------------------------
    def on_remote_audio(self, user_id: str, track: MediaStreamTrack) -> None:
        """Give to the call engine as ``on_remote_audio``; call it on the engine's event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "AudioEngine.on_remote_audio must be called on the call engine's event loop"
            ) from None
        part = self.voices.get(user_id)
        old = part.receiver
        receiver = RemoteAudioReceiver(user_id, track, part.jitter)
        part.jitter.reset()
        part.receiver, part.loop = receiver, loop
        if old is not None and old._task is not None:
            old._task.cancel()
        receiver.start()

    def _place_new(self, user_id: str) -> None:
        if user_id not in self.mixer.sources():
            # until told where they sit: across the table
            self.mixer.set_source_position(user_id, self._seat_head(1, 2))

    def _seat_head(self, seat: int, count: int) -> npt.NDArray[np.float64]:
        return self.layout.seat(seat, count).position + np.array([0.0, HEAD_HEIGHT, 0.0])

    def set_position(self, user_id: str, floor: npt.ArrayLike) -> None:
        """Put a participant's voice above ``floor`` (room metres), at head height."""
        position = np.asarray(floor, dtype=np.float64).reshape(3) * np.array([1.0, 0.0, 1.0])
        self.voices.get(user_id)
        self.mixer.set_source_position(user_id, position + np.array([0.0, HEAD_HEIGHT, 0.0]))

    def set_seat(self, user_id: str, seat: int, count: int) -> None:
        """Put a participant's voice at their seat (``seat`` of ``count``; 0 is the viewer)."""
        if seat == 0:
            raise ValueError("seat 0 is the local listener's")
        position = self._seat_head(seat, count)  # validates seat and count
        self.voices.get(user_id)
        self.mixer.set_source_position(user_id, position)

    def set_source_position(self, user_id: str, xyz_room: object) -> None:
        """Follow a participant's tracked head (room coordinates, metres)."""
        self.voices.get(user_id)
        self.mixer.set_source_position(user_id, xyz_room)

    def set_listener(self, position: object, facing: object) -> None:
        """Move the listener (default: the viewer's eye at seat 0, facing the table)."""
        self.mixer.set_listener(position, facing)

    def remove_participant(self, user_id: str) -> None:
        part = self.voices.remove(user_id)
        self.mixer.remove_source(user_id)
        if part is not None:
            part.cancel_receiver()

    def participants(self) -> list[str]:
        return self.voices.user_ids()

    # -- controls ----------------------------------------------------------------------------
    @property
    def muted(self) -> bool:
        return self.local_track.muted

    def set_muted(self, muted: bool) -> None:
        """Muted, the call carries digital silence; the input meter keeps showing the mic."""
        self.local_track.muted = muted

    def set_volume(self, user_id: str, volume: float) -> None:
        """A participant's volume, linear: 1.0 as received, 0 silent, up to 4.0 (+12 dB)."""
        if not (math.isfinite(volume) and 0.0 <= volume <= 4.0):
            raise ValueError(f"volume must be between 0 and 4, got {volume!r}")
        part = self.voices.get(user_id)
        part.volume = float(volume)
        self.mixer.set_volume(user_id, part.volume)

    def volume(self, user_id: str) -> float:
        part = self.voices.find(user_id)
        if part is None:
            raise KeyError(f"no participant {user_id!r}")
        return part.volume

    # -- meters ------------------------------------------------------------------------------
    def input_level(self) -> Level:
        """The microphone after processing (shown even while muted)."""
        return self._in_meter.level()

    def levels(self) -> dict[str, Level]:
        return self.voices.levels()

    def speaking(self) -> set[str]:
        return self.voices.speaking(time.monotonic())

    def active_speaker(self) -> str | None:
        """The participant talking now (held ``hangover_s`` after they stop), or ``None``."""
        return self.voices.active

    def participant_audio(self) -> list[ParticipantAudio]:
        """Each voice's level, speaking, volume, direction and jitter buffer (the UI, tests)."""
        return self.voices.report(self.mixer.geometry, time.monotonic())

    # -- taps and synthetic input -------------------------------------------------------------
    def add_output_tap(self, fn: Callable[[FloatArray], None]) -> None:
        """Call ``fn(block)`` with every stereo mix block (worker thread; copy to keep it)."""
        with self._lock:
            self._taps.append(fn)

    def add_capture_tap(self, fn: Callable[[FloatArray], None]) -> None:
        """Call ``fn(block)`` with every processed microphone block (worker thread)."""
        with self._lock:
            self._capture_taps.append(fn)

    def push_capture(self, samples: FloatArray) -> int:
        """Feed mono 48 kHz float32 samples into the microphone path (a synthetic talker).

        Processed like microphone blocks; meant for runs without a capture device.
        """
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._pushed_lock:
            return self._pushed.write(x)

    # -- worker ------------------------------------------------------------------------------
    def _worker(self) -> None:
        period = self.block / self.samplerate
        next_tick = time.monotonic()
        delay_update = 0
        failures = 0  # blocks in a row that raised
        while not self._stop.is_set():
            io = self._io
            try:
                if io is not None:
                    io.check()
                    if io.input_info is not None:
                        io.wait_input(period / 2)
                    else:
                        time.sleep(period / 4)
                    if io.output_info is not None:
                        while io.output_queued < self._playout_blocks * self.block:
                            self._render(io)
                    else:
                        next_tick = self._clocked_render(next_tick, period)
                    while io.read(self._cap):
                        self._process_capture(self._cap)
                    delay_update += 1
                    if delay_update >= 50:
                        delay_update = 0
                        self.voice.set_delay_ms(
                            1000.0
                            * (
                                io.output_latency
                                + io.input_latency
                                + io.output_queued / self.samplerate
                            )
                        )
                else:
                    time.sleep(max(0.0, min(period / 2, next_tick - time.monotonic())))
                    next_tick = self._clocked_render(next_tick, period)
                while self._pushed.available() >= self.block:
                    self._pushed.read_into(self._cap, fill_silence=False)
                    self._process_capture(self._cap)
            except AudioDeviceError as e:
                self._device_failed(e)
                next_tick = time.monotonic()
            except Exception as exc:  # never let the audio thread die silently
                failures += 1
                if failures == 1:  # once with the traceback, not every 10 ms
                    log.exception("audio worker error")
                if failures == WORKER_FAILURES_TOLD:
                    self._processing_failed(exc)
                time.sleep(period)
            else:
                failures = 0

    def _processing_failed(self, exc: Exception) -> None:
        """The mix or the voice processing keeps failing: voice is silent; tell the user once
        (``on_error``, like a device error). The worker goes on trying."""
        self._tell(AudioDeviceError(f"voice stopped: the audio processing failed ({exc})"))

    def _tell(self, err: AudioDeviceError) -> None:
        self._error = err
        log.warning("%s", err)
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:
                log.exception("on_error callback failed")

    def _device_failed(self, e: AudioDeviceError) -> None:
        if self._error is e:
            return
        io, self._io = self._io, None
        if io is not None:
            io.close()
        self._tell(e)

    def _clocked_render(self, next_tick: float, period: float) -> float:
        now = time.monotonic()
        if now - next_tick > 0.2:  # we were stalled: don't try to catch up on all of it
            next_tick = now
        while now >= next_tick:
            self._render(None)
            next_tick += period
        return next_tick

    def _render(self, io: AudioIO | None) -> None:
        t0 = time.perf_counter()
        now = time.monotonic()
        with self._lock:
            taps = list(self._taps)
        _, blocks = self.voices.pull(now)
        try:
            mix = self.mixer.mix(blocks, self._mix)
        except KeyError:  # a participant was removed between the snapshot and the mix
            with self._lock:
                known = set(self.mixer.sources())
            mix = self.mixer.mix({u: b for u, b in blocks.items() if u in known}, self._mix)
        np.clip(mix, -1.0, 1.0, out=mix)
        self.mix_seconds += time.perf_counter() - t0
        if io is not None:
            io.write(mix)
        self.voice.process_far(mix)
        self.blocks_mixed += 1
        for tap in taps:
            tap(mix)

    def _process_capture(self, block: FloatArray) -> None:
        self.voice.process_near(block)
        self._in_meter.update(block)
        self.local_track.push(block)
        self.blocks_captured += 1
        with self._lock:
            taps = list(self._capture_taps)
        for tap in taps:
            tap(block)


def device_stats(io: AudioIO | None, samplerate: int) -> DeviceStats:
    """The glitch counters of ``io`` (zeros without devices)."""
    if io is None:
        return DeviceStats(0, 0, 0.0, 0.0)
    ms = 1000.0 / samplerate
    return DeviceStats(
        io.input_overflows,
        io.output_underflows,
        io.out_ring.underruns * ms,
        io.in_ring.overruns * ms,
    )
