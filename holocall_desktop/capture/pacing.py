"""Wall-clock pacing for sources that make frames on demand (synthetic, pre-rendered loops)."""

from __future__ import annotations

import math
import time


def next_frame_index(t0: float, fps: float, next_index: int, timeout: float) -> int | None:
    """Which frame to hand out now on a clock that started at ``t0`` (``time.monotonic()``).

    Like a camera, a slow reader misses frames: the answer is at least the frame due now. It
    sleeps until that frame is due; if that is more than ``timeout`` seconds away it sleeps
    ``timeout`` and returns ``None``.
    """
    now = time.monotonic() - t0
    n = max(next_index, math.floor(now * fps))
    wait = n / fps - now
    if wait > timeout:
        time.sleep(max(0.0, timeout))
        return None
    if wait > 0:
        time.sleep(wait)
    return n
