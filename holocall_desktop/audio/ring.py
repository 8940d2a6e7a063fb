"""A preallocated single-producer / single-consumer ring buffer of audio frames (numpy).

One thread writes, another reads; neither takes a lock. The writer publishes a frame count only
after copying the samples, and the reader advances its count only after copying them out, so
each side sees a consistent view (Python int assignment is atomic under the GIL and the copies
are plain numpy slice assignments that allocate no sample memory). This is what PortAudio
callbacks use: they only move samples in or out and never wait.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class AudioRing:
    """``capacity`` frames of ``channels`` float32 samples."""

    def __init__(self, capacity: int, channels: int = 1) -> None:
        if capacity <= 0 or channels <= 0:
            raise ValueError(f"ring capacity {capacity} and channels {channels} must be positive")
        self.capacity = capacity
        self.channels = channels
        self._buf: FloatArray = np.zeros((capacity, channels), dtype=np.float32)
        self._written = 0  # only the producer assigns this
        self._read = 0  # only the consumer assigns this
        self.overruns = 0  # frames the producer could not store (ring full); producer-owned
        self.underruns = 0  # frames the consumer wanted but did not get; consumer-owned

    def available(self) -> int:
        """Frames ready to read."""
        return self._written - self._read

    def free(self) -> int:
        return self.capacity - (self._written - self._read)

    def write(self, data: npt.NDArray[np.float32]) -> int:
        """Copy up to ``len(data)`` frames in (``data`` is (n, channels) or (n,) when mono).

        Returns the number stored; what does not fit is dropped and counted in ``overruns``.
        """
        n_req = data.shape[0]
        n = min(n_req, self.capacity - (self._written - self._read))
        if n < n_req:
            self.overruns += n_req - n
        if n <= 0:
            return 0
        src = data if data.ndim == 2 else data.reshape(-1, 1)
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = src[:first]
        if n > first:
            self._buf[: n - first] = src[first:n]
        self._written += n
        return n

    def read_into(self, out: npt.NDArray[np.float32], *, fill_silence: bool = True) -> int:
        """Copy up to ``len(out)`` frames into ``out``; returns how many were real samples.

        With ``fill_silence`` the rest of ``out`` is zeroed (a playback underrun) and counted.
        """
        want = out.shape[0]
        n = min(want, self._written - self._read)
        dst = out if out.ndim == 2 else out.reshape(-1, 1)
        if n > 0:
            start = self._read % self.capacity
            first = min(n, self.capacity - start)
            dst[:first] = self._buf[start : start + first]
            if n > first:
                dst[first:n] = self._buf[: n - first]
            self._read += n
        if n < want and fill_silence:
            dst[n:] = 0.0
            self.underruns += want - n
        return n

    def skip(self, frames: int) -> int:
        """Consumer side: discard up to ``frames`` of the oldest frames (to cut latency)."""
        n = max(0, min(frames, self._written - self._read))
        self._read += n
        return n
