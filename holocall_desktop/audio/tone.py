"""What arrives of a remote voice, measured: for tests, benchmarks and bots that send a tone
(``holocall join --tone HZ --hear``).

:class:`ToneMeter` takes the decoded audio frames of one remote track as they come (aiortc
``AudioFrame``: 20 ms of 48 kHz Opus, s16) and keeps: how many arrived, how much audio is
missing from their timestamps (lost packets and not concealed), how much of what arrived the
decoder made up for lost packets (``opaque`` ``"fec"``: recovered from the next packet's FEC
data; ``"plc"``: concealed, see ``transport/voice.py``), and over the last second the
dominant frequency and the share of the signal's energy at it. For a sender's sine that share
is the received signal's correlation with what was sent: 1.0 for a clean tone, lower for gaps,
noise or clicks.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48000
WINDOW_S = 1.0
#: the tone's energy is summed over this many FFT bins either side of the peak (1 Hz bins)
TONE_BINS = 4


class ToneMeter:
    def __init__(self, samplerate: int = SAMPLE_RATE) -> None:
        self.samplerate = samplerate
        self.frames = 0
        self.received_samples = 0
        self.lost_samples = 0
        self.recovered_samples = 0  # FEC
        self.concealed_samples = 0  # PLC
        self._next_pts: int | None = None
        self._window: collections.deque[npt.NDArray[np.float32]] = collections.deque()
        self._window_samples = 0

    def add(self, frame: Any) -> None:
        """One decoded frame (anything with ``pts``, ``samples``, ``layout.channels`` and
        ``to_ndarray()``, as PyAV's ``AudioFrame``)."""
        samples = int(frame.samples)
        pts = frame.pts
        if pts is not None and self._next_pts is not None:
            gap = int(pts) - self._next_pts
            if 0 < gap <= self.samplerate:  # lost packets (a larger jump: the sender restarted)
                self.lost_samples += gap
                self._push(np.zeros(gap, dtype=np.float32))
        if pts is not None:
            self._next_pts = int(pts) + samples
        data = np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)
        channels = max(1, len(frame.layout.channels))
        mono = data[: samples * channels].reshape(samples, channels).mean(axis=1) / 32768.0
        self._push(mono.astype(np.float32))
        self.frames += 1
        self.received_samples += samples
        made = getattr(frame, "opaque", None)
        if made == "fec":
            self.recovered_samples += samples
        elif made == "plc":
            self.concealed_samples += samples

    def _push(self, chunk: npt.NDArray[np.float32]) -> None:
        self._window.append(chunk)
        self._window_samples += len(chunk)
        limit = int(WINDOW_S * self.samplerate)
        while self._window_samples - len(self._window[0]) >= limit:
            self._window_samples -= len(self._window.popleft())

    def tone(self) -> tuple[float | None, float]:
        """(dominant frequency in Hz, share of the energy within ±4 Hz of it) over the last
        second; (None, 0.0) for silence or less than half a second of audio."""
        if self._window_samples < self.samplerate // 2:
            return None, 0.0
        x = np.concatenate(list(self._window))[-int(WINDOW_S * self.samplerate) :]
        x = x - float(x.mean())
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        spectrum[0] = 0.0
        total = float(spectrum.sum())
        if total <= 1e-12:
            return None, 0.0
        peak = int(np.argmax(spectrum))
        lo, hi = max(1, peak - TONE_BINS), peak + TONE_BINS + 1
        hz = peak * self.samplerate / len(x)
        return hz, float(spectrum[lo:hi].sum()) / total

    def summary(self) -> dict[str, Any]:
        """For a JSON stats line."""
        hz, share = self.tone()
        ms = 1000.0 / self.samplerate
        return {
            "frames": self.frames,
            "receivedMs": round(self.received_samples * ms),
            "lostMs": round(self.lost_samples * ms),
            "recoveredMs": round(self.recovered_samples * ms),
            "concealedMs": round(self.concealed_samples * ms),
            "toneHz": None if hz is None else round(hz, 1),
            "toneShare": round(share, 3),
        }
