"""Stereo spatial mixer: each remote voice comes from where its participant sits in the room.

Room space is the shared one (metres, right-handed, y up). The listener is the local viewer
(seat 0's eye, facing the table); each source is a participant's head. Per 10 ms block and per
source the mixer computes, from the source's azimuth θ (0 ahead, positive to the right) and
distance d:

- **equal-power panning** on the lateral component: pan = sin θ, φ = (pan + 1)·π/4,
  gL = cos φ, gR = sin φ (so gL² + gR² = 1 wherever the voice is);
- **interaural time difference** (Woodworth's spherical head):
  ITD = a/c · (θl + sin θl), θl = asin(sin θ), a = 8.75 cm, c = 343 m/s (at most ≈ 0.66 ms);
  the far ear is delayed by ITD with linear-interpolated fractional delay;
- **distance attenuation**: g = (ref / max(d, ref))^rolloff (a gentle law: voices across the
  table stay intelligible);
- optional **head shadow**: the far ear hears a blend towards a one-pole low-pass (1.8 kHz)
  that grows with |sin θ|.

Stereo cannot tell front from back: a source behind is heard at its mirrored front angle.
Every parameter is smoothed per block (one-pole, ``smoothing_ms``) and ramped linearly across
the block sample by sample (gains, shadow blend and the fractional delay itself), so a moving
voice or a change of volume never clicks; a new source fades in from silence. The work is
vectorised numpy per block: no Python loop over samples.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float32]
Vec3 = npt.NDArray[np.float64]

UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class SpatialParams:
    head_radius: float = 0.0875  # metres (Woodworth's a)
    speed_of_sound: float = 343.0  # m/s
    ref_distance: float = 1.0  # no attenuation closer than this
    rolloff: float = 0.6  # exponent of the distance law (1.0 = inverse distance)
    head_shadow: bool = True
    shadow_cutoff_hz: float = 1800.0
    max_shadow: float = 0.6  # far-ear blend towards the low-pass at 90°
    smoothing_ms: float = 30.0  # time constant of parameter changes


@dataclass(frozen=True)
class SourceGeometry:
    azimuth: float  # radians, 0 straight ahead, positive to the listener's right
    distance: float  # metres
    gain_left: float  # pan × distance × volume
    gain_right: float
    delay_left: float  # samples
    delay_right: float


def _as_vec3(v: object, what: str) -> Vec3:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{what} must be three finite numbers (x, y, z in metres), got {v!r}")
    return a


class _Source:
    def __init__(self, position: Vec3, history: int, block: int) -> None:
        self.position = position
        self.volume = 1.0
        # current (already applied) parameters: gL, gR, dL, dR, sL, sR
        self.current: npt.NDArray[np.float64] | None = None
        self.buf = np.zeros((2, history + block), dtype=np.float32)  # per-ear history + block
        self.lp_zi = np.zeros(1, dtype=np.float64)


class SpatialMixer:
    """Mixes mono 10 ms blocks from any number of sources into one stereo block.

    Thread-safe: :meth:`set_listener`, :meth:`set_source_position`, :meth:`set_volume` and
    :meth:`remove_source` may be called from any thread while :meth:`mix` runs on the audio
    worker.
    """

    def __init__(
        self, samplerate: int = 48000, block: int = 480, params: SpatialParams | None = None
    ) -> None:
        if samplerate <= 0 or block <= 0:
            raise ValueError(f"samplerate {samplerate} and block {block} must be positive")
        self.samplerate = samplerate
        self.block = block
        self.params = params or SpatialParams()
        p = self.params
        if p.head_radius <= 0 or p.speed_of_sound <= 0 or p.ref_distance <= 0:
            raise ValueError("head radius, speed of sound and reference distance must be > 0")
        max_itd = p.head_radius / p.speed_of_sound * (math.pi / 2 + 1.0) * samplerate
        self._history = math.ceil(max_itd) + 2
        if self._history >= block:
            raise ValueError(f"block {block} is shorter than the largest ITD ({max_itd:.1f})")
        self._alpha = 1.0 - math.exp(-(block / samplerate) / (p.smoothing_ms / 1000.0))
        a = math.exp(-2.0 * math.pi * p.shadow_cutoff_hz / samplerate)
        self._lp_b = np.array([1.0 - a])
        self._lp_a = np.array([1.0, -a])
        self._ramp = (np.arange(1, block + 1, dtype=np.float64) / block).astype(np.float32)
        self._n = np.arange(block, dtype=np.float64) + self._history
        self._lock = threading.Lock()
        self._sources: dict[str, _Source] = {}
        self._listener_pos: Vec3 = np.zeros(3)
        self._listener_fwd: Vec3 = np.array([0.0, 0.0, -1.0])
        self._listener_right: Vec3 = np.array([1.0, 0.0, 0.0])
        self._out: FloatArray = np.zeros((block, 2), dtype=np.float32)

    # -- scene ------------------------------------------------------------------------------
    def set_listener(self, position: object, facing: object) -> None:
        """Where the listener's head is and which way it looks (horizontal part is used)."""
        pos = _as_vec3(position, "listener position")
        fwd = _as_vec3(facing, "listener facing")
        fwd = fwd - UP * fwd[1]
        norm = float(np.linalg.norm(fwd))
        if norm < 1e-9:
            raise ValueError("listener facing must have a horizontal component")
        fwd /= norm
        with self._lock:
            self._listener_pos = pos
            self._listener_fwd = fwd
            self._listener_right = np.cross(fwd, UP)

    def set_source_position(self, source_id: str, position: object) -> None:
        """Place (or move) a voice, in room coordinates; a new one fades in from silence."""
        pos = _as_vec3(position, f"position of {source_id!r}")
        with self._lock:
            src = self._sources.get(source_id)
            if src is None:
                self._sources[source_id] = _Source(pos, self._history, self.block)
            else:
                src.position = pos

    def set_volume(self, source_id: str, volume: float) -> None:
        """Linear gain of one voice (1.0 = as received, 0 = silent), ramped like the rest."""
        if not math.isfinite(volume) or volume < 0:
            raise ValueError(f"volume must be a finite number >= 0, got {volume!r}")
        with self._lock:
            src = self._sources.get(source_id)
            if src is None:
                raise KeyError(f"no audio source {source_id!r}")
            src.volume = float(volume)

    def remove_source(self, source_id: str) -> None:
        with self._lock:
            self._sources.pop(source_id, None)

    def sources(self) -> list[str]:
        with self._lock:
            return list(self._sources)

    def geometry(self, source_id: str) -> SourceGeometry:
        """The target parameters of a source now (before smoothing)."""
        with self._lock:
            src = self._sources[source_id]
            az, dist = self._polar(src.position)
            t = self._targets(az, dist, src.volume)
        return SourceGeometry(az, dist, t[0], t[1], t[2], t[3])

    def _polar(self, position: Vec3) -> tuple[float, float]:
        d = position - self._listener_pos
        dist = float(np.linalg.norm(d))
        x = float(d @ self._listener_right)
        z = float(d @ self._listener_fwd)
        az = math.atan2(x, z) if abs(x) + abs(z) > 1e-9 else 0.0
        return az, dist

    def _targets(self, az: float, dist: float, volume: float) -> npt.NDArray[np.float64]:
        p = self.params
        lateral = math.sin(az)
        phi = (lateral + 1.0) * math.pi / 4.0
        g = (p.ref_distance / max(dist, p.ref_distance)) ** p.rolloff * volume
        theta = math.asin(max(-1.0, min(1.0, lateral)))
        itd = p.head_radius / p.speed_of_sound * (theta + math.sin(theta)) * self.samplerate
        shadow = p.max_shadow if p.head_shadow else 0.0
        return np.array(
            [
                g * math.cos(phi),
                g * math.sin(phi),
                max(itd, 0.0),  # source on the right: the left ear hears it later
                max(-itd, 0.0),
                shadow * max(lateral, 0.0),  # ... and in the head's shadow
                shadow * max(-lateral, 0.0),
            ]
        )

    # -- audio ------------------------------------------------------------------------------
    def mix(
        self, inputs: Mapping[str, npt.NDArray[np.float32]], out: FloatArray | None = None
    ) -> FloatArray:
        """One stereo block (block, 2) from the sources' mono blocks (block,) float32.

        A source with no block this time (nothing received) keeps its state and adds nothing.
        Unknown ids in ``inputs`` are an error. Returns ``out`` (or an internal buffer that the
        next call overwrites).
        """
        target_out = self._out if out is None else out
        if target_out.shape != (self.block, 2):
            raise ValueError(f"mix output must be ({self.block}, 2), got {target_out.shape}")
        target_out[:] = 0.0
        with self._lock:
            for source_id, x in inputs.items():
                src = self._sources.get(source_id)
                if src is None:
                    raise KeyError(f"no audio source {source_id!r}: place it first")
                if x.shape != (self.block,):
                    raise ValueError(
                        f"block of {source_id!r} must be ({self.block},), not {x.shape}"
                    )
                az, dist = self._polar(src.position)
                target = self._targets(az, dist, src.volume)
                self._render(src, x, target, target_out)
        return target_out

    def _render(
        self, src: _Source, x: FloatArray, target: npt.NDArray[np.float64], out: FloatArray
    ) -> None:
        start = src.current
        if start is None:  # fade in from silence, at the right delay and shadow
            start = target.copy()
            start[0:2] = 0.0
        end = start + self._alpha * (target - start)
        src.current = end
        h = self._history
        ramp = self._ramp
        if self.params.head_shadow:
            lp, src.lp_zi = lfilter(self._lp_b, self._lp_a, x, zi=src.lp_zi)
            lp = lp.astype(np.float32)
            diff = lp - x
        else:
            diff = None
        for ear in (0, 1):
            buf = src.buf[ear]
            buf[:h] = buf[-h:]  # keep the last samples for the delay line
            if diff is not None:
                s0, s1 = float(start[4 + ear]), float(end[4 + ear])
                buf[h:] = x + (s0 + (s1 - s0) * ramp) * diff
            else:
                buf[h:] = x
            d0, d1 = float(start[2 + ear]), float(end[2 + ear])
            pos = self._n - (d0 + (d1 - d0) * ramp)
            i = pos.astype(np.intp)
            frac = (pos - i).astype(np.float32)
            y = buf[i] + frac * (buf[np.minimum(i + 1, buf.shape[0] - 1)] - buf[i])
            g0, g1 = float(start[ear]), float(end[ear])
            out[:, ear] += (g0 + (g1 - g0) * ramp) * y
