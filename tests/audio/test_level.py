"""The pre-join screen's microphone meter on the test sound server: silence reads low, a tone
played into the sink the default microphone records reads loud; no microphone is one line."""

from __future__ import annotations

import time

import numpy as np
import pytest

from holocall_desktop.audio import AudioDeviceError, AudioIO
from holocall_desktop.audio.level import FLOOR_DB, MicrophoneLevel
from holocall_desktop.audio.virtual import VirtualSoundServer


def _loudest(level: MicrophoneLevel, seconds: float, speaker: AudioIO | None = None) -> float:
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(480) / 48000)).astype(np.float32)
    block = np.repeat(tone[:, None], 2, axis=1)
    loudest = FLOOR_DB
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if speaker is not None:
            while speaker.output_queued < 480 * 8:
                speaker.write(block)
        time.sleep(0.05)
        loudest = max(loudest, level.level_db())
    return loudest


def test_the_meter_follows_what_the_microphone_hears(pulse: VirtualSoundServer) -> None:
    level = MicrophoneLevel()
    level.start()
    speaker = AudioIO(None, None, capture=False, playback=True)
    speaker.start()
    try:
        assert _loudest(level, 1.5) < -45  # nothing played: the sink's monitor is silent
        assert _loudest(level, 3.0, speaker) > -20  # a tone at half scale (-9 dBFS RMS)
    finally:
        speaker.close()
        level.close()


def test_a_missing_microphone_is_one_line(pulse: VirtualSoundServer) -> None:
    with pytest.raises(AudioDeviceError, match="is not connected") as err:
        MicrophoneLevel("Nonexistent USB Mic")
    assert "\n" not in str(err.value)
