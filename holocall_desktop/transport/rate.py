"""Frame-rate control from the receivers' quality feedback (data-channel codecs).

A video track has aiortc's own congestion control; a data channel has none, so the sender caps
its frame rate at the lowest bitrate a receiver asks for divided by the mean encoded frame size,
and climbs back by 25 % a second while nobody asks (``docs/calls.md``). Pure logic: the engine
feeds it frame sizes and feedback and reads :attr:`FrameRateControl.fps`.
"""

from __future__ import annotations

import logging

from holocall_desktop.codec import control as wire

log = logging.getLogger(__name__)


class FrameRateControl:
    def __init__(self, max_fps: float, min_fps: float = 5.0, enabled: bool = True) -> None:
        self.base_fps = max_fps
        self.min_fps = min_fps
        self.enabled = enabled
        self.fps = max_fps
        self.frame_bytes: float | None = None  # running mean of an encoded frame's size

    def frame_sent(self, size: int) -> None:
        mean = self.frame_bytes
        self.frame_bytes = float(size) if mean is None else 0.8 * mean + 0.2 * size

    def update(self, feedback: list[wire.QualityFeedback | None]) -> float:
        """Once a stats interval: the frame rate to send at from now on."""
        if not self.enabled:
            return self.fps
        requests = [f.max_bitrate_kbps for f in feedback if f is not None and f.max_bitrate_kbps]
        current = self.fps
        if requests and self.frame_bytes:
            fps = min(requests) * 1000 / 8 / self.frame_bytes
            target = max(self.min_fps, min(current, fps))
        else:
            target = min(self.base_fps, current * 1.25 + 0.5)
        if abs(target - current) > 0.05:
            log.info("sending frame rate %.1f -> %.1f fps", current, target)
            self.fps = target
        return self.fps
