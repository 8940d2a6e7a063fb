"""A microphone's level before a call: the pre-join screen's meter.

:class:`MicrophoneLevel` opens only the microphone (no speaker) and reports the loudest 10 ms
block since the last look, in dBFS, without queueing: :meth:`level_db` drains what came.
"""

from __future__ import annotations

import math

import numpy as np

from holocall_desktop.audio.devices import AudioIO, DeviceSpec

#: the meter's floor (silence reads this)
FLOOR_DB = -60.0


class MicrophoneLevel:
    def __init__(self, device: DeviceSpec = None) -> None:
        """``AudioDeviceError`` when there is no such microphone."""
        self.io = AudioIO(device, None, capture=True, playback=False)
        self.name = self.io.names[0] or "microphone"
        self._block = np.zeros(self.io.block, np.float32)

    def start(self) -> None:
        """``AudioDeviceError`` when the microphone cannot be opened."""
        self.io.start()

    def level_db(self) -> float:
        """The loudest block's RMS since the last call, in dBFS (at least :data:`FLOOR_DB`);
        ``AudioDeviceError`` if the microphone stopped."""
        self.io.check()
        loudest = 0.0
        while self.io.read(self._block):
            loudest = max(loudest, float(np.sqrt(np.mean(np.square(self._block)))))
        if loudest <= 0.0:
            return FLOOR_DB
        return max(FLOOR_DB, 20.0 * math.log10(loudest))

    def close(self) -> None:
        self.io.close()
