"""The remote voices of a call: one jitter buffer, meter and volume each, and who is speaking.

:class:`RemoteVoices` belongs to an :class:`~holocall_desktop.audio.engine.AudioEngine`. Its
methods are thread-safe (one lock): the engine's worker pulls blocks and updates speaking and
the active speaker; the UI reads levels and the active speaker; the call engine's event loop
attaches receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from holocall_desktop.audio.jitter import JitterBuffer, JitterStats
from holocall_desktop.audio.tracks import RemoteAudioReceiver

FloatArray = npt.NDArray[np.float32]
SILENCE_DBFS = -120.0
#: someone clearly louder (by this many dB) takes the active-speaker role over
TAKE_OVER_DB = 6.0


@dataclass(frozen=True)
class Level:
    rms_dbfs: float  # smoothed (≈ 100 ms) RMS level
    peak_dbfs: float  # peak, held and decaying 20 dB/s, for a meter's peak marker


@dataclass(frozen=True)
class ParticipantAudio:
    user_id: str
    level: Level
    speaking: bool
    volume: float
    azimuth_deg: float
    distance_m: float
    jitter: JitterStats


class Meter:
    def __init__(self, samplerate: int, block: int) -> None:
        self._alpha = 1.0 - math.exp(-(block / samplerate) / 0.1)
        self._decay_db = 20.0 * block / samplerate
        self.ms = 0.0
        self.peak_db = SILENCE_DBFS

    def update(self, x: FloatArray) -> float:
        """Feed a block; returns the block's own RMS in dBFS."""
        ms = float(np.dot(x, x)) / max(len(x), 1)
        self.ms += self._alpha * (ms - self.ms)
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        self.peak_db = max(db(peak), self.peak_db - self._decay_db)
        return 0.5 * db(ms) if ms > 0 else SILENCE_DBFS

    def level(self) -> Level:
        return Level(0.5 * db(self.ms) if self.ms > 0 else SILENCE_DBFS, self.peak_db)


def db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 1e-6 else SILENCE_DBFS


class Voice:
    """One remote participant's voice."""

    def __init__(self, user_id: str, jitter: JitterBuffer, meter: Meter) -> None:
        self.user_id = user_id
        self.jitter = jitter
        self.meter = meter
        self.receiver: RemoteAudioReceiver | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.volume = 1.0
        self.speaking_until = 0.0
        self.block_db = SILENCE_DBFS

    def cancel_receiver(self) -> None:
        r, loop = self.receiver, self.loop
        if r is None or loop is None or r._task is None:
            return
        task = r._task
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(task.cancel)

    def stats(self) -> JitterStats:
        return self.jitter.stats()


class RemoteVoices:
    def __init__(
        self,
        samplerate: int,
        block: int,
        jitter_ms: tuple[float, float],
        threshold_dbfs: float,
        hangover_s: float,
        on_new: Callable[[str], None],
    ) -> None:
        self.samplerate = samplerate
        self.block = block
        self._jitter_ms = jitter_ms
        self._threshold = threshold_dbfs
        self._hangover = hangover_s
        self._on_new = on_new  # a voice was created (the mixer places it)
        self._lock = threading.RLock()
        self._voices: dict[str, Voice] = {}
        self._active: str | None = None

    def get(self, user_id: str) -> Voice:
        """``user_id``'s voice, made on first use."""
        with self._lock:
            voice = self._voices.get(user_id)
            if voice is None:
                low, high = self._jitter_ms
                jitter = JitterBuffer(
                    self.samplerate, self.block, min_target_ms=low, max_target_ms=high
                )
                voice = self._voices[user_id] = Voice(
                    user_id, jitter, Meter(self.samplerate, self.block)
                )
                self._on_new(user_id)
            return voice

    def find(self, user_id: str) -> Voice | None:
        with self._lock:
            return self._voices.get(user_id)

    def remove(self, user_id: str) -> Voice | None:
        with self._lock:
            if self._active == user_id:
                self._active = None
            return self._voices.pop(user_id, None)

    def clear(self) -> list[Voice]:
        with self._lock:
            voices = list(self._voices.values())
            self._voices.clear()
            self._active = None
        return voices

    def all(self) -> list[Voice]:
        with self._lock:
            return list(self._voices.values())

    def user_ids(self) -> list[str]:
        with self._lock:
            return list(self._voices)

    def pull(self, now: float) -> tuple[list[Voice], dict[str, FloatArray]]:
        """One block from every jitter buffer (worker thread), metered; speaking updated."""
        voices = self.all()
        blocks: dict[str, FloatArray] = {}
        for v in voices:
            buf = np.empty(self.block, dtype=np.float32)
            real = v.jitter.pull(buf)
            level = v.meter.update(buf)
            if real and level > self._threshold:
                v.speaking_until = now + self._hangover
            v.block_db = level if real else SILENCE_DBFS
            blocks[v.user_id] = buf
        self._update_active(voices, now)
        return voices, blocks

    def _update_active(self, voices: list[Voice], now: float) -> None:
        with self._lock:
            speaking = [v for v in voices if v.speaking_until > now]
            current = self._voices.get(self._active) if self._active else None
            if not speaking:
                self._active = None
                return
            loudest = max(speaking, key=lambda v: v.meter.level().rms_dbfs)
            if current is None or current not in speaking:
                self._active = loudest.user_id
            elif loudest is not current and (
                loudest.meter.level().rms_dbfs > current.meter.level().rms_dbfs + TAKE_OVER_DB
            ):
                self._active = loudest.user_id  # someone clearly louder takes over

    def levels(self) -> dict[str, Level]:
        with self._lock:
            return {u: v.meter.level() for u, v in self._voices.items()}

    def speaking(self, now: float) -> set[str]:
        with self._lock:
            return {u for u, v in self._voices.items() if v.speaking_until > now}

    def report(self, geometry: Callable[[str], Any], now: float) -> list[ParticipantAudio]:
        """Each voice as :class:`ParticipantAudio`; ``geometry(user_id)`` gives its direction
        (the mixer's; voices the mixer does not place are left out)."""
        out = []
        for v in self.all():
            try:
                geo = geometry(v.user_id)
            except KeyError:
                continue
            out.append(
                ParticipantAudio(
                    v.user_id,
                    v.meter.level(),
                    v.speaking_until > now,
                    v.volume,
                    math.degrees(geo.azimuth),
                    geo.distance,
                    v.stats(),
                )
            )
        return out

    @property
    def active(self) -> str | None:
        with self._lock:
            return self._active
