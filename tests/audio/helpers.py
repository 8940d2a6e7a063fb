"""Signal tracks and measurements shared by the audio tests."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

FloatArray = npt.NDArray[np.float32]


class SignalTrack(MediaStreamTrack):
    """Plays a numpy signal as a remote peer would deliver it: 20 ms s16 frames in real time."""

    kind = "audio"

    def __init__(self, signal: FloatArray, samplerate: int = 48000, frame: int = 960) -> None:
        super().__init__()
        self.signal = signal
        self.samplerate = samplerate
        self.frame = frame
        self.pos = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.pos >= len(self.signal):
            self.stop()
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.pos / self.samplerate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        chunk = np.zeros(self.frame, dtype=np.float32)
        part = self.signal[self.pos : self.pos + self.frame]
        chunk[: len(part)] = part
        pcm = np.clip(chunk * 32767, -32768, 32767).astype(np.int16)[None, :]
        f = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        f.sample_rate = self.samplerate
        f.pts = self.pos
        f.time_base = fractions.Fraction(1, self.samplerate)
        self.pos += self.frame
        return f


def lag_of(a: FloatArray, b: FloatArray, max_lag: int) -> int:
    """Samples by which ``a`` is later than ``b`` (peak of the cross-correlation)."""
    n = len(a)
    fa = np.fft.rfft(a, 2 * n)
    fb = np.fft.rfft(b, 2 * n)
    c = np.fft.irfft(fa * np.conj(fb), 2 * n)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([c[: max_lag + 1], c[-max_lag:]])
    return int(lags[int(np.argmax(values))])


def best_alignment(received: FloatArray, sent: FloatArray, max_lag: int) -> tuple[int, float]:
    """Delay of ``sent`` inside ``received`` and the normalised correlation at that delay."""
    n = len(received) + len(sent)
    c = np.fft.irfft(np.fft.rfft(received, n) * np.conj(np.fft.rfft(sent, n)), n)
    lag = int(np.argmax(c[: max_lag + 1]))
    seg = received[lag : lag + len(sent)]
    ref = sent[: len(seg)]
    corr = float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-12))
    return lag, corr


def rms_db(x: FloatArray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))
