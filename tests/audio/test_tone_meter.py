"""The tone meter that tests and bots use to check a received voice: frames, lost audio from
the timestamps, and how much of the last second is the tone that was sent."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from holocall_desktop.audio.tone import ToneMeter


@dataclass
class _Layout:
    channels: tuple[int, int] = (0, 1)


@dataclass
class _Frame:
    """What PyAV's AudioFrame offers the meter: 20 ms of packed s16 stereo."""

    pts: int
    data: np.ndarray
    samples: int = 960
    layout: _Layout = field(default_factory=_Layout)

    def to_ndarray(self) -> np.ndarray:
        return self.data.reshape(1, -1)


def _tone(hz: float, seconds: float, drop_every: int = 0) -> list[_Frame]:
    frames = []
    for i in range(int(seconds * 50)):
        if drop_every and i % drop_every == drop_every - 1:
            continue  # a lost packet
        t = (np.arange(960) + 960 * i) / 48000
        mono = (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
        frames.append(_Frame(960 * i, np.repeat(mono, 2)))
    return frames


def test_a_clean_tone_is_all_tone() -> None:
    meter = ToneMeter()
    for f in _tone(440.0, 2.0):
        meter.add(f)
    hz, share = meter.tone()
    assert hz == pytest.approx(440.0, abs=1.0) and share > 0.95
    assert meter.summary()["lostMs"] == 0 and meter.frames == 100


def test_lost_packets_are_counted_and_lower_the_share() -> None:
    meter = ToneMeter()
    for f in _tone(660.0, 2.0, drop_every=10):  # 10 % of the packets lost
        meter.add(f)
    summary = meter.summary()
    assert summary["lostMs"] == pytest.approx(200, abs=20)
    assert summary["toneHz"] == pytest.approx(660.0, abs=1.0)
    assert 0.3 < summary["toneShare"] < 0.95  # the gaps are not the tone


def test_silence_has_no_tone() -> None:
    meter = ToneMeter()
    for i in range(50):
        meter.add(_Frame(960 * i, np.zeros(1920, dtype=np.int16)))
    assert meter.tone() == (None, 0.0)
