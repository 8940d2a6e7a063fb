"""Per-participant playout buffer between the network (20 ms Opus frames) and the mixer (10 ms).

Policy, chosen for low mouth-to-ear latency rather than zero glitches:

- **Target.** The buffer aims to hold, just before each packet arrives, ``target`` of audio:
  the 95th percentile of recent arrival jitter (relative transit time over the last
  ``window_s``) plus one mixer block, at least ``min_target_ms``, at most ``max_target_ms``.
  Each underrun adds a penalty of one block to the target, which decays by 1 ms per second
  of clean playout: a bursty network grows the buffer, a calm one shrinks it again.
- **Start / underrun.** Playout starts (and restarts after running dry) only once ``target``
  plus one packet is buffered; missing audio is concealed by fading the last block out over
  one block (no click), then silence.
- **Too much audio** (the floor of the buffer over the last half second exceeds the target by
  more than one block, e.g. after a burst, or a sender clock faster than ours): playout is
  sped up by ``stretch`` (2.5 %: 492 samples resampled into 480, a pitch change of ≈ 0.4
  semitone while it lasts) until the excess is gone; by three times that (7.5 %, ≈ 1.3
  semitone) while the excess is over 60 ms. A burst counts as jitter while it stays in the
  ``window_s`` of arrival history, so the buffer sheds it only after that. Above
  ``max_target_ms`` + 100 ms the oldest audio is dropped at once.

Thread-safe: :meth:`push` runs on the network loop, :meth:`pull` on the audio worker; a short
lock guards the shared state (never taken by a PortAudio callback).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from holocall_desktop.audio.ring import AudioRing

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class JitterStats:
    target_ms: float
    buffered_ms: float
    jitter_ms: float
    underruns: int  # times playout ran dry
    concealed_ms: float  # silence played instead of missing audio
    stretched_ms: float  # audio removed by speeding up
    dropped_ms: float  # audio thrown away at once (overflow)
    lost_ms: float  # gaps in the sender's timestamps (lost packets), played as silence
    received_ms: float


class JitterBuffer:
    def __init__(
        self,
        samplerate: int = 48000,
        block: int = 480,
        *,
        min_target_ms: float = 10.0,
        max_target_ms: float = 200.0,
        capacity_ms: float = 1000.0,
        stretch: float = 0.025,
        window_s: float = 2.0,
    ) -> None:
        if not 0 <= min_target_ms <= max_target_ms:
            raise ValueError("need 0 <= min_target_ms <= max_target_ms")
        if not 0 < stretch < 0.25:
            raise ValueError("stretch must be in (0, 0.25)")
        self.samplerate = samplerate
        self.block = block
        self._min_target = min_target_ms / 1000.0 * samplerate
        self._max_target = max_target_ms / 1000.0 * samplerate
        self._ring = AudioRing(int(capacity_ms / 1000.0 * samplerate), 1)
        self._stretch_in = round(block * (1.0 + stretch))
        self._fast_in = round(block * (1.0 + 3 * stretch))
        self._fast_excess = 0.06 * samplerate
        self._stretch_x = np.linspace(0.0, self._stretch_in - 1, block)
        self._fast_x = np.linspace(0.0, self._fast_in - 1, block)
        self._stretch_xp = np.arange(self._fast_in, dtype=np.float64)
        self._tmp = np.zeros((self._fast_in, 1), dtype=np.float32)
        self._last = np.zeros(block, dtype=np.float32)
        self._fade = np.linspace(1.0, 0.0, block, dtype=np.float32)
        self._window = window_s
        self._lock = threading.Lock()
        self._transits: deque[tuple[float, float]] = deque()
        self._received = 0
        self._first_arrival: float | None = None
        self._media_origin: float | None = None
        self._lost = 0
        self._playing = False
        self._penalty = 0.0
        self._jitter = 0.0
        self._floor = math.inf
        self._floor_pulls = 0
        self._floor_last = 0.0
        self._speedup = False
        self._last_pull: float | None = None
        self._packet = 0  # size of the last push (samples): a packet
        self.underruns = 0
        self._concealed = 0
        self._stretched = 0
        self._dropped = 0

    # -- network side ------------------------------------------------------------------------
    def push(
        self,
        samples: npt.NDArray[np.float32],
        arrival: float | None = None,
        media_time: float | None = None,
    ) -> None:
        """Add decoded mono samples (float32 in [-1, 1]) as they arrive.

        ``media_time``: the sender's timestamp of the first sample, in seconds (RTP time). With
        it, lost packets neither count as jitter nor shift the audio: a gap of up to 200 ms is
        filled with silence (counted in ``lost_ms``); without it, samples are assumed
        contiguous.
        """
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        now = time.monotonic() if arrival is None else arrival
        with self._lock:
            if self._first_arrival is None:
                self._first_arrival = now
            if media_time is not None:
                if self._media_origin is None:
                    self._media_origin = media_time - self._received / self.samplerate
                expected = self._media_origin + self._received / self.samplerate
                gap = round((media_time - expected) * self.samplerate)
                if 0 < gap <= 0.2 * self.samplerate:  # lost packets: keep their time
                    self._lost += gap
                    self._received += gap
                    self._ring.write(np.zeros(min(gap, self._ring.free()), dtype=np.float32))
                elif gap != 0:  # reordered, or the sender restarted: follow the new timeline
                    self._media_origin = media_time - self._received / self.samplerate
            # relative transit: arrival time minus media time of the packet's first sample
            transit = now - self._received / self.samplerate
            self._transits.append((now, transit))
            while self._transits and self._transits[0][0] < now - self._window:
                self._transits.popleft()
            t = np.fromiter((v for _, v in self._transits), dtype=np.float64)
            self._jitter = float(np.percentile(t, 95) - t.min()) if len(t) > 1 else 0.0
            self._received += len(x)
            self._packet = len(x)
            if self._ring.free() < len(x):  # far too much: drop the oldest
                self._drop(len(x) - self._ring.free())
            self._ring.write(x)
            excess = self._ring.available() - (self._max_target + 0.1 * self.samplerate)
            if excess > 0:
                self._drop(int(excess))

    def _drop(self, n: int) -> None:
        self._dropped += self._ring.skip(n)

    # -- mixer side -------------------------------------------------------------------------
    def target(self) -> float:
        """Target (samples) held before a packet arrives."""
        t = self._jitter * self.samplerate + self.block + self._penalty
        return min(max(t, self._min_target), self._max_target)

    def pull(self, out: FloatArray) -> bool:
        """Fill ``out`` ((block,) float32) with the next audio; False if it is concealment."""
        with self._lock:
            return self._pull(out)

    def _pull(self, out: FloatArray) -> bool:
        now = time.monotonic()
        if self._last_pull is not None and self._penalty > 0:
            self._penalty = max(0.0, self._penalty - (now - self._last_pull) * 48.0)
        self._last_pull = now
        avail = self._ring.available()
        target = self.target()
        if not self._playing:
            if avail >= target + self._packet and self._packet > 0:
                self._playing = True
                self._floor = math.inf
                self._floor_pulls = 0
            else:
                out[:] = 0.0
                return False
        if avail < self.block:  # ran dry: fade the last block out, then wait to refill
            out[:] = self._last * self._fade
            self._last[:] = 0.0
            self.underruns += 1
            self._concealed += self.block
            self._playing = False
            self._penalty = min(self._penalty + self.block, self._max_target)
            return False
        # the floor of the buffer over ~0.5 s decides whether to speed up
        self._floor = min(self._floor, avail)
        self._floor_pulls += 1
        if self._floor_pulls * self.block >= self.samplerate // 2:
            self._floor_last = self._floor
            self._speedup = self._floor - self.block > target
            self._floor = math.inf
            self._floor_pulls = 0
        fast = self._floor_last - target > self._fast_excess
        take = self._fast_in if fast else self._stretch_in
        if self._speedup and avail >= take + self.block:
            tmp = self._tmp[:take]
            self._ring.read_into(tmp, fill_silence=False)
            xs = self._fast_x if fast else self._stretch_x
            out[:] = np.interp(xs, self._stretch_xp[:take], tmp[:, 0])
            self._stretched += take - self.block
        else:
            self._ring.read_into(out, fill_silence=False)
        self._last[:] = out
        return True

    def stats(self) -> JitterStats:
        with self._lock:
            ms = 1000.0 / self.samplerate
            return JitterStats(
                target_ms=self.target() * ms,
                buffered_ms=self._ring.available() * ms,
                jitter_ms=self._jitter * 1000.0,
                underruns=self.underruns,
                concealed_ms=self._concealed * ms,
                stretched_ms=self._stretched * ms,
                dropped_ms=self._dropped * ms,
                lost_ms=self._lost * ms,
                received_ms=self._received * ms,
            )

    def reset(self) -> None:
        """Forget everything buffered (e.g. the sender restarted)."""
        with self._lock:
            self._ring.skip(self._ring.available())
            self._transits.clear()
            self._received = 0
            self._first_arrival = None
            self._media_origin = None
            self._playing = False
