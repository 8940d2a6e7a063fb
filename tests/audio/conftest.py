"""A private PulseAudio daemon with a 48 kHz stereo null sink, for real PortAudio streams.

The daemon (:class:`~holocall_desktop.audio.virtual.VirtualSoundServer`) runs in a temporary
runtime directory, reachable only through ``PULSE_SERVER`` (set for the session and restored
afterwards); PortAudio's ALSA ``default`` device then plays into the null sink and records its
monitor. The tests stop every daemon they start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from holocall_desktop.audio.virtual import VirtualSoundServer, VirtualSoundServerError

SINK = "holocall_test"


def start_pulse(runtime: Path, sink: str = SINK) -> VirtualSoundServer:
    """Start a sound server whose default sink is ``sink``; fail the test if it cannot start."""
    server = VirtualSoundServer((sink,), runtime)
    try:
        server.start()
    except VirtualSoundServerError as e:
        pytest.fail(f"no virtual sound device: {e}")
    return server


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualSoundServer]:
    """The session's sound server: PortAudio's default devices play into / record its sink."""
    server = start_pulse(tmp_path_factory.mktemp("pulse"))
    try:
        yield server
    finally:
        server.stop()
