"""A private PulseAudio sound server with virtual (null) sinks, for machines without a sound card.

Used by the tests and by ``holocall bench audio``. The daemon runs in its own temporary runtime
directory and is reached only through ``PULSE_SERVER``; each null sink's ``.monitor`` source
records what is played into it. PortAudio's ALSA ``default`` device reaches it through the
ALSA PulseAudio plugin, and which sink / source a new stream uses follows ``PULSE_SINK`` /
``PULSE_SOURCE`` at the moment the stream is opened (:meth:`VirtualSoundServer.route`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from holocall_desktop.audio.errors import AudioError

_FORMAT = "rate=48000 channels=2"


class VirtualSoundServerError(AudioError):
    """PulseAudio is not installed or could not start here."""


class VirtualSoundServer:
    """``pulseaudio`` with 48 kHz stereo null sinks; the first sink is the default.

    Use as a context manager: ``start()`` on entry (sets ``PULSE_SERVER`` in this process and
    rescans PortAudio), ``stop()`` on exit (restores the environment, ends the daemon).
    """

    def __init__(self, sinks: tuple[str, ...] = ("virt",), runtime: Path | None = None) -> None:
        if not sinks:
            raise ValueError("at least one sink")
        self.sinks = sinks
        self._own_runtime = runtime is None
        self.runtime = runtime or Path(tempfile.mkdtemp(prefix="holocall-pulse-"))
        self.server = f"unix:{self.runtime / 'native'}"
        self.process: subprocess.Popen[bytes] | None = None
        self._saved: dict[str, str | None] = {}

    def pactl(self, *args: str) -> str:
        done = subprocess.run(
            ["pactl", "-s", self.server, *args], capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise VirtualSoundServerError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, timeout: float = 10.0) -> None:
        if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
            raise VirtualSoundServerError(
                "pulseaudio / pactl are not installed (Debian: pulseaudio pulseaudio-utils)"
            )
        self.runtime.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, XDG_RUNTIME_DIR=str(self.runtime))
        env["PULSE_RUNTIME_PATH"] = str(self.runtime)
        env["HOME"] = str(self.runtime)  # its state and cookie stay in the runtime directory
        log_path = self.runtime / "pulseaudio.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    "pulseaudio",
                    "-n",  # no default.pa: only the modules below
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--use-pid-file=no",
                    "--disallow-exit",
                    "--log-target=stderr",
                    "-L",
                    f"module-native-protocol-unix auth-anonymous=1 socket={self.runtime}/native",
                    *(
                        arg
                        for sink in self.sinks
                        for arg in (
                            "-L",
                            f"module-null-sink sink_name={sink} rate=48000 channels=2",
                        )
                    ),
                ],
                env=env,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.pactl("info")
                break
            except (VirtualSoundServerError, subprocess.TimeoutExpired) as e:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self._end_process()
                    text = log_path.read_text(errors="replace").strip()
                    last = text.splitlines()[-1] if text else str(e)
                    raise VirtualSoundServerError(f"pulseaudio could not start: {last}") from e
                time.sleep(0.05)
        self.pactl("set-default-sink", self.sinks[0])
        self.pactl("set-default-source", f"{self.sinks[0]}.monitor")
        for key in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE"):
            self._saved[key] = os.environ.get(key)
        os.environ["PULSE_SERVER"] = self.server
        _rescan()

    @contextlib.contextmanager
    def route(self, sink: str | None = None, source: str | None = None) -> Iterator[None]:
        """Streams opened inside this block play into ``sink`` / record ``source``."""
        saved = {k: os.environ.get(k) for k in ("PULSE_SINK", "PULSE_SOURCE")}
        try:
            for key, value in (("PULSE_SINK", sink), ("PULSE_SOURCE", source)):
                if value is not None:
                    os.environ[key] = value
            yield
        finally:
            _restore(saved)

    def stop(self) -> None:
        if self._saved:
            _restore(self._saved)
            self._saved = {}
            with contextlib.suppress(AudioError):
                _rescan()
        self._end_process()
        if self._own_runtime:
            shutil.rmtree(self.runtime, ignore_errors=True)

    def kill(self) -> None:
        """End the daemon now, as if the sound device vanished (the environment stays)."""
        self._end_process()

    def _end_process(self) -> None:
        p = self.process
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    def __enter__(self) -> VirtualSoundServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the process that started it dies,
    so a killed test run or benchmark never leaves a sound server behind."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _rescan() -> None:
    from holocall_desktop.audio.devices import refresh_devices

    refresh_devices()
