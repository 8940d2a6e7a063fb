"""A private PulseAudio daemon with a 48 kHz stereo null sink, for real PortAudio streams.

The daemon runs in a temporary runtime directory, reachable only through ``PULSE_SERVER``
(set for the test session and restored afterwards); PortAudio's ALSA ``default`` device then
plays into the null sink and records its monitor. The tests stop the daemon themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SINK = "holocall_test"


@dataclass
class PulseServer:
    server: str
    process: subprocess.Popen[bytes]
    runtime: Path

    def pactl(self, *args: str) -> str:
        done = subprocess.run(
            ["pactl", "-s", self.server, *args], capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_pulse(runtime: Path, sink: str = SINK) -> PulseServer:
    """Start ``pulseaudio`` with a null sink as the default sink (its monitor the default source).

    Skips the test when pulseaudio is missing or cannot start here.
    """
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio / pactl are not installed (Debian: pulseaudio pulseaudio-utils)")
    runtime.mkdir(parents=True, exist_ok=True)
    socket = runtime / "native"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PULSE_RUNTIME_PATH=str(runtime))
    env["HOME"] = str(runtime)  # its state and cookie stay in the temporary directory
    log = open(runtime / "pulseaudio.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            "pulseaudio",
            "-n",  # no default.pa: only the modules below
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--disallow-exit",
            "--log-target=stderr",
            "-L",
            f"module-native-protocol-unix auth-anonymous=1 socket={socket}",
            "-L",
            f"module-null-sink sink_name={sink} rate=48000 channels=2",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()
    pulse = PulseServer(f"unix:{socket}", process, runtime)
    deadline = time.monotonic() + 10.0
    while True:
        try:
            pulse.pactl("info")
            break
        except (RuntimeError, subprocess.TimeoutExpired):
            if process.poll() is not None or time.monotonic() > deadline:
                pulse.stop()
                text = (runtime / "pulseaudio.log").read_text(errors="replace").strip()
                last = text.splitlines()[-1] if text else "no output"
                pytest.skip(f"pulseaudio could not start here: {last}")
            time.sleep(0.05)
    pulse.pactl("set-default-sink", sink)
    pulse.pactl("set-default-source", f"{sink}.monitor")
    return pulse


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """The session's sound server: PortAudio's default devices play into / record its sink."""
    from holocall_desktop.audio.devices import refresh_devices

    server = start_pulse(tmp_path_factory.mktemp("pulse"))
    old = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server.server
    refresh_devices()
    try:
        yield server
    finally:
        server.stop()
        if old is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = old
        refresh_devices()
