"""Voice processing: WebRTC echo cancellation, noise suppression and gain control.

Uses WebRTC's audio processing module through ``livekit.rtc.AudioProcessingModule`` (10 ms
frames, 16-bit). The far-end signal (what the speakers play: the spatial mix) goes in as the
reverse stream, the microphone as the forward stream, which comes back without the echo. When
``livekit`` is not installed, or its native library fails to load, :class:`VoiceProcessor`
passes the microphone through unchanged and says why in :attr:`VoiceProcessor.message`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class VoiceSettings:
    echo_cancellation: bool = True
    noise_suppression: bool = True
    auto_gain: bool = True
    high_pass: bool = True

    @property
    def any(self) -> bool:
        return self.echo_cancellation or self.noise_suppression or self.auto_gain or self.high_pass


class VoiceProcessor:
    """10 ms blocks at 48 kHz: mono microphone, stereo (or mono) far end."""

    def __init__(
        self,
        settings: VoiceSettings | None = None,
        samplerate: int = 48000,
        far_channels: int = 2,
    ) -> None:
        self.settings = settings or VoiceSettings()
        self.samplerate = samplerate
        self.block = samplerate // 100
        self.far_channels = far_channels
        self._near_buf = bytearray(self.block * 2)
        self._far_buf = bytearray(self.block * 2 * far_channels)
        self._near = np.frombuffer(self._near_buf, dtype=np.int16)
        self._far = np.frombuffer(self._far_buf, dtype=np.int16)
        self._apm: Any = None
        self._rtc: Any = None
        self.message = ""
        if not self.settings.any:
            self.message = "Voice processing is off."
            return
        try:
            from livekit import rtc

            s = self.settings
            self._apm = rtc.AudioProcessingModule(
                echo_cancellation=s.echo_cancellation,
                noise_suppression=s.noise_suppression,
                high_pass_filter=s.high_pass,
                auto_gain_control=s.auto_gain,
            )
            self._rtc = rtc
            if s.echo_cancellation:
                self._apm.set_stream_delay_ms(0)
        except Exception as e:  # ImportError, or the native library failing to load
            self._apm = None
            self.message = (
                "Echo cancellation and noise suppression are unavailable "
                f"(the 'livekit' package could not be used: {type(e).__name__}: {e}); "
                "use headphones to avoid echo."
            )
            log.warning("%s", self.message)

    @property
    def available(self) -> bool:
        return self._apm is not None

    def set_delay_ms(self, delay_ms: float) -> None:
        """Delay between a far-end block being fed and its echo reaching the microphone.

        A hint: WebRTC's AEC3 estimates the actual delay itself.
        """
        if self._apm is not None and self.settings.echo_cancellation:
            self._apm.set_stream_delay_ms(int(max(0.0, min(500.0, delay_ms))))

    def process_far(self, block: FloatArray) -> None:
        """Feed one 10 ms block of what is being played ((block, far_channels) float32)."""
        if self._apm is None:
            return
        if block.shape[0] != self.block:
            raise ValueError(f"voice processing works on {self.block}-sample blocks")
        np.clip(block.reshape(-1) * 32767.0, -32768, 32767, out=self._far, casting="unsafe")
        frame = self._rtc.AudioFrame(self._far_buf, self.samplerate, self.far_channels, self.block)
        self._apm.process_reverse_stream(frame)

    def process_near(self, block: FloatArray) -> None:
        """Clean one 10 ms microphone block ((block,) float32) in place."""
        if self._apm is None:
            return
        if block.shape[0] != self.block:
            raise ValueError(f"voice processing works on {self.block}-sample blocks")
        np.clip(block * 32767.0, -32768, 32767, out=self._near, casting="unsafe")
        frame = self._rtc.AudioFrame(self._near_buf, self.samplerate, 1, self.block)
        self._apm.process_stream(frame)
        processed = np.frombuffer(frame.data, dtype=np.int16)
        np.multiply(processed, 1.0 / 32768.0, out=block, casting="unsafe")
