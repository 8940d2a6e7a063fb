"""Real PortAudio devices on the test sound server: listing, choosing, errors, unplugging."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from holocall_desktop.audio import AudioDeviceError, AudioEngine, AudioIO, list_devices
from holocall_desktop.audio.devices import resolve_device
from holocall_desktop.audio.virtual import VirtualSoundServer

from .conftest import start_pulse


def test_devices_are_listed_with_defaults(pulse: VirtualSoundServer) -> None:
    devices = list_devices()
    assert any(d.is_default_input and d.is_input for d in devices)
    assert any(d.is_default_output and d.is_output for d in devices)
    default_in = resolve_device(None, "input")
    assert resolve_device(default_in.index, "input") == default_in
    assert resolve_device(default_in.name, "input") == default_in


@pytest.mark.parametrize(
    ("spec", "direction", "message"),
    [
        ("Nonexistent USB Mic", "input", "The microphone 'Nonexistent USB Mic' is not connected"),
        ("Nonexistent Headset", "output", "The speaker 'Nonexistent Headset' is not connected"),
        (9999, "input", "There is no audio device number 9999"),
        (2.5, "output", "A speaker is chosen by index or name"),
    ],
)
def test_a_missing_device_is_a_one_line_error(
    pulse: VirtualSoundServer, spec: object, direction: str, message: str
) -> None:
    with pytest.raises(AudioDeviceError) as err:
        resolve_device(spec, direction)  # type: ignore[arg-type]
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
    with pytest.raises(AudioDeviceError, match="not connected"):
        AudioIO(input_device="Nonexistent USB Mic")


def test_audio_io_round_trip_on_the_sink(pulse: VirtualSoundServer) -> None:
    import numpy as np

    with AudioIO() as io:
        assert io.wait_running(8.0), io.error
        block = np.zeros((480, 2), dtype=np.float32)
        block[:, :] = 0.25
        got = np.zeros(480, dtype=np.float32)
        heard = 0.0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and heard < 0.2:
            while io.output_queued < 960:
                io.write(block)
            io.wait_input(0.02)
            while io.read(got):
                heard = max(heard, float(np.max(got)))
        io.check()
    assert heard == pytest.approx(0.25, abs=0.01)  # the monitor records what was played


def test_unplugging_reports_a_clear_message_and_the_call_goes_on(
    pulse: VirtualSoundServer, tmp_path: Path
) -> None:
    errors: list[AudioDeviceError] = []
    reported = threading.Event()

    def on_error(e: AudioDeviceError) -> None:
        errors.append(e)
        reported.set()

    other = start_pulse(tmp_path / "pulse2", sink="unplugged")  # now the default server
    try:
        engine = AudioEngine(on_error=on_error)
        engine.start()
        try:
            assert engine.wait_running(8.0), engine.error
            other.kill()  # the sound device disappears under the running streams
            assert reported.wait(8.0), "no error reported after the device went away"
            message = str(errors[0])
            assert "stopped" in message and "unplugged" in message and "\n" not in message
            assert engine.error is errors[0]
            # the engine keeps mixing on its clock, and the call keeps a (silent) microphone
            before = engine.blocks_mixed
            time.sleep(0.3)
            assert engine.blocks_mixed > before + 10
        finally:
            engine.close()
    finally:
        other.stop()  # back to the session's server
    assert len(errors) == 1


def test_starting_on_a_dead_sound_server_is_a_clear_error(
    pulse: VirtualSoundServer, tmp_path: Path
) -> None:
    other = start_pulse(tmp_path / "pulse3", sink="gone")
    try:
        io = AudioIO()
        other.kill()
        with pytest.raises(AudioDeviceError) as err:
            io.start()
            assert io.wait_running(3.0)
            io.check()
        assert str(err.value).startswith("Cannot open the microphone 'default'")
        assert "\n" not in str(err.value)
        io.close()
    finally:
        other.stop()
