"""A voice from a seat is heard from that side: through the engine, PortAudio and a real sink."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import sounddevice as sd

from holocall_desktop.audio import AudioEngine, VoiceSettings
from holocall_desktop.audio.synth import voice
from holocall_desktop.audio.virtual import VirtualSoundServer

from .helpers import SignalTrack, lag_of, rms_db

OFF = VoiceSettings(False, False, False, False)


@pytest.mark.parametrize(("seat", "near", "far"), [(3, 0, 1), (1, 1, 0)], ids=["left", "right"])
async def test_voice_from_a_seat_is_louder_and_earlier_on_its_side(
    pulse: VirtualSoundServer, seat: int, near: int, far: int
) -> None:
    recorded: list[np.ndarray] = []

    def record(indata: np.ndarray, frames: int, t: object, status: object) -> None:
        recorded.append(indata.copy())

    # seat 3 of 4 is at the viewer's left (-x), seat 1 at the right (+x)
    engine = AudioEngine(capture=False, voice=OFF)
    engine.start()
    engine.set_seat("bob", seat, 4)
    geo = engine.mixer.geometry("bob")
    assert (geo.azimuth < 0) == (near == 0)
    talk = voice(1.5, seed=seat)
    with sd.InputStream(samplerate=48000, channels=2, dtype="float32", callback=record) as rec:
        assert engine.wait_running(8.0), engine.error
        while rec.time < 0.5 or len(recorded) < 20:  # the recorder is past its start-up pause
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        recorded.clear()
        engine.on_remote_audio("bob", SignalTrack(talk))
        await asyncio.sleep(2.2)
    engine.close()

    y = np.concatenate(recorded)
    assert y.shape[1] == 2
    loud = np.sqrt(np.mean(y**2, axis=1)) > 1e-3
    assert loud.sum() > 48000 * 0.5, "the voice did not come back through the sink"
    y = y[loud]
    level_near, level_far = rms_db(y[:, near]), rms_db(y[:, far])
    assert level_near - level_far > 6.0, (level_near, level_far)
    lag = lag_of(y[:, far], y[:, near], 64)  # how much later the far ear hears it
    expected = max(geo.delay_left, geo.delay_right)  # Woodworth ITD in samples (≈ 15)
    assert expected > 10
    assert abs(lag - expected) <= 2, (lag, expected)
    assert engine.error is None
