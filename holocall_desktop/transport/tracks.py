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


def video_frame_to_rgb(frame: VideoFrame) -> np.ndarray[Any, Any]:
    """The RGB image of a received video frame (what a video-track codec decodes)."""
    return frame.to_ndarray(format="rgb24")


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


class _PassThroughAudioJitter:
    """Stands in for aiortc's audio jitter buffer: each RTP packet (one Opus frame) goes to the
    decoder as it arrives. Packets older than the newest one seen are dropped (late or
    duplicated); our :class:`JitterBuffer` does the buffering, with an adaptive target."""

    capacity = 16

    def __init__(self) -> None:
        self._last_seq: int | None = None

    def add(self, packet: object) -> tuple[bool, object | None]:
        from aiortc.jitterbuffer import JitterFrame

        seq = int(packet.sequence_number)  # type: ignore[attr-defined]
        if self._last_seq is not None and ((seq - self._last_seq) & 0xFFFF) >= 0x8000:
            return False, None  # older than what was already passed on
        self._last_seq = seq
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]

    def remove(self, count: int) -> None:
        pass


def low_latency_receiver(receiver: object) -> bool:
    """Make an aiortc audio ``RTCRtpReceiver`` hand each packet to the decoder at once.

    aiortc holds four 20 ms audio packets (``JitterBuffer(prefetch=4)``) and releases a frame
    only when the next one arrives: 80–100 ms before our own jitter buffer even sees it. This
    replaces that private buffer (an aiortc internal: returns ``False`` and changes nothing
    if this aiortc version is laid out differently, or the receiver is not for audio). Call it
    on the audio transceiver's receiver before media flows, e.g. in ``pc.on("track")``.
    """
    name = "_RTCRtpReceiver__jitter_buffer"
    current = getattr(receiver, name, None)
    if current is None or getattr(receiver, "_RTCRtpReceiver__kind", None) != "audio":
        return False
    if not (hasattr(current, "add") and hasattr(current, "capacity")):
        return False
    setattr(receiver, name, _PassThroughAudioJitter())
    return True
