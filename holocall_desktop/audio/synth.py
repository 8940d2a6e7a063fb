"""Speech-like test signals made with numpy: a voiced "talker" and a chirp.

The talker is a source-filter model of speech: a glottal pulse train (Rosenberg pulses, pitch
gliding around ``f0`` with jitter) through three formant resonators whose frequencies move
from vowel to vowel, shaped into syllables (≈ 4 per second) and phrases separated by pauses,
plus a little aspiration noise. It has speech's spectrum, harmonics, modulation and pauses,
which is what echo cancellers, codecs and level meters react to; it is not intelligible.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float32]

# (F1, F2, F3) in Hz of a few vowels (adult male averages)
_VOWELS = np.array(
    [
        [730, 1090, 2440],  # a
        [530, 1840, 2480],  # e
        [270, 2290, 3010],  # i
        [570, 840, 2410],  # o
        [300, 870, 2240],  # u
    ],
    dtype=np.float64,
)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0])


def voice(
    duration_s: float,
    samplerate: int = 48000,
    *,
    f0: float = 120.0,
    seed: int = 0,
    level_dbfs: float = -20.0,
    pauses: bool = True,
) -> FloatArray:
    """A mono voiced signal with speech-like spectrum and rhythm, RMS ``level_dbfs`` when voiced."""
    if duration_s <= 0 or samplerate <= 0 or f0 <= 0:
        raise ValueError("duration, samplerate and f0 must be positive")
    rng = np.random.default_rng(seed)
    n = round(duration_s * samplerate)
    t = np.arange(n) / samplerate
    # pitch: slow intonation + small random jitter, integrated into a phase
    pitch = f0 * (1.0 + 0.12 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    pitch *= 1.0 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1))
    phase = np.cumsum(pitch / samplerate) % 1.0
    # Rosenberg glottal pulse: rise over 40 % of the period, fall over 16 %, closed after
    open_q, close_q = 0.4, 0.16
    g = np.where(
        phase < open_q,
        0.5 * (1 - np.cos(np.pi * phase / open_q)),
        np.where(phase < open_q + close_q, np.cos(np.pi / 2 * (phase - open_q) / close_q), 0.0),
    )
    source = np.diff(g, prepend=0.0)  # radiation at the lips: differentiate
    source += 0.02 * rng.standard_normal(n) * g  # aspiration noise while the glottis is open
    # formants, changed per syllable (piecewise by block of 10 ms, interpolated vowel targets)
    syll = 0.25
    n_syll = int(np.ceil(duration_s / syll)) + 1
    targets = _VOWELS[rng.integers(0, len(_VOWELS), n_syll)]
    out = np.zeros(n)
    hop = samplerate // 100
    zi = [np.zeros(2) for _ in range(3)]
    for start in range(0, n, hop):  # per 10 ms block (not per sample): time-varying filters
        stop = min(n, start + hop)
        pos = start / samplerate / syll
        k = int(pos)
        frac = pos - k
        formants = targets[k] * (1 - frac) + targets[k + 1] * frac
        y = source[start:stop]
        for i, (fc, bw) in enumerate(zip(formants, _BANDWIDTHS, strict=True)):
            r = np.exp(-np.pi * bw / samplerate)
            a = [1.0, -2 * r * np.cos(2 * np.pi * fc / samplerate), r * r]
            b = [1.0 - r]
            y, zi[i] = lfilter(b, a, y, zi=zi[i])
        out[start:stop] = y
    # syllable envelope and phrase pauses
    env = np.clip(np.sin(np.pi * (t / syll % 1.0)), 0, None) ** 0.6
    if pauses:
        phrase = rng.uniform(1.2, 2.2)
        env *= ((t % (phrase + 0.5)) < phrase).astype(np.float64)
    out *= env
    voiced = np.abs(env) > 0.3
    rms = np.sqrt(np.mean(out[voiced] ** 2)) if voiced.any() else 1.0
    out *= 10 ** (level_dbfs / 20) / max(rms, 1e-12)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def chirp(
    duration_s: float,
    samplerate: int = 48000,
    f0: float = 300.0,
    f1: float = 4000.0,
    level: float = 0.5,
) -> FloatArray:
    """A linear sine sweep with 5 ms raised-cosine edges (sharp autocorrelation: a timing mark)."""
    n = round(duration_s * samplerate)
    t = np.arange(n) / samplerate
    x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * duration_s) * t * t))
    edge = min(n // 2, int(0.005 * samplerate))
    w = np.ones(n)
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(edge) / edge))
    w[:edge] = ramp
    w[n - edge :] = ramp[::-1]
    return (level * x * w).astype(np.float32)
