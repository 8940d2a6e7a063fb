"""Media tracks of a call: the hologram as a video track (``hue-video``) and a test tone."""

from __future__ import annotations

import asyncio
import fractions
import math
from typing import Any

import numpy as np
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame

VIDEO_CLOCK = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


def packed_to_video_frame(image: np.ndarray[Any, Any], pts: int) -> VideoFrame:
    """An ``av.VideoFrame`` (rgb24) of a packed hologram image with ``pts`` in 1/90000 s."""
    frame = VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame.pts = pts
    frame.time_base = VIDEO_TIME_BASE
    return frame


class HologramVideoTrack(VideoStreamTrack):
    """Sends the newest packed hologram frame; a frame the encoder had no time for is replaced
    by the next one (latest wins, nothing queues). One track per peer connection."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._frame: VideoFrame | None = None
        self._event = asyncio.Event()
        self._last_pts = -1
        self.replaced = 0

    def push(self, frame: VideoFrame) -> None:
        """Offer a frame (on the event loop)."""
        if frame.pts is None or frame.pts <= self._last_pts:
            return  # never send time backwards
        if self._frame is not None:
            self.replaced += 1
        self._frame = frame
        self._event.set()

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._event.wait()
            self._event.clear()
            frame = self._frame
            self._frame = None
            if frame is not None:
                self._last_pts = int(frame.pts or 0)
                return frame

    def stop(self) -> None:
        super().stop()
        self._event.set()


class ToneTrack(AudioStreamTrack):
    """A sine tone, 48 kHz mono, 20 ms frames, paced in real time: a stand-in microphone."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._sample = 0

    async def recv(self) -> AudioFrame:
        # the base class paces 20 ms frames at 8 kHz; take its timing, make our own samples
        base = await super().recv()
        rate = 48000
        n = 960
        t = (self._sample + np.arange(n)) / rate
        samples = (self.amplitude * 32767 * np.sin(2 * math.pi * self.frequency * t)).astype(
            np.int16
        )
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = self._sample
        frame.time_base = fractions.Fraction(1, rate)
        self._sample += n
        del base
        return frame
