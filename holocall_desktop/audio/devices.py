"""Microphone and speaker through PortAudio (sounddevice): listing, choosing, streaming.

The PortAudio callbacks only copy samples between the device and preallocated
:class:`~holocall_desktop.audio.ring.AudioRing` buffers and count status flags; all processing
happens on the caller's worker thread, which uses :meth:`AudioIO.read` / :meth:`AudioIO.write`.
A device that fails to open, or stops while in use (unplugged, taken by another program, the
sound server gone), becomes an :class:`AudioDeviceError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from holocall_desktop.audio.errors import AudioDeviceError
from holocall_desktop.audio.ring import AudioRing

DeviceSpec = int | str | None  # PortAudio index, (part of) a name, or None for the default
Direction = Literal["input", "output"]

_WHAT = {"input": "microphone", "output": "speaker"}


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    @property
    def label(self) -> str:
        """What a device picker shows: ``name (host API)``."""
        return f"{self.name} ({self.host_api})"


def _sd() -> Any:
    try:
        import sounddevice
    except OSError as e:  # the PortAudio shared library is missing
        raise AudioDeviceError(
            "Audio is unavailable: the PortAudio library is not installed.", detail=str(e)
        ) from e
    return sounddevice


def refresh_devices() -> None:
    """Make PortAudio scan the devices again (after a plug-in, or a sound server restart).

    Every open stream must be closed first: PortAudio is re-initialised.
    """
    sd = _sd()
    sd._terminate()
    sd._initialize()


def list_devices() -> list[DeviceInfo]:
    """Every audio device PortAudio sees, inputs and outputs, in PortAudio's order."""
    sd = _sd()
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as e:
        raise AudioDeviceError("Cannot list the audio devices.", detail=str(e)) from e
    if default_in is None or default_in < 0:
        default_in = _api_default(apis, "default_input_device")
    if default_out is None or default_out < 0:
        default_out = _api_default(apis, "default_output_device")
    out: list[DeviceInfo] = []
    for d in raw:
        out.append(
            DeviceInfo(
                index=int(d["index"]),
                name=str(d["name"]),
                host_api=str(apis[d["hostapi"]]["name"]),
                max_input_channels=int(d["max_input_channels"]),
                max_output_channels=int(d["max_output_channels"]),
                default_samplerate=float(d["default_samplerate"]),
                is_default_input=int(d["index"]) == default_in,
                is_default_output=int(d["index"]) == default_out,
            )
        )
    return out


def _api_default(apis: Any, key: str) -> int:
    for api in apis:
        if api[key] >= 0:
            return int(api[key])
    return -1


def resolve_device(spec: DeviceSpec, direction: Direction) -> DeviceInfo:
    """The device ``spec`` names: an index, an exact name, or a unique part of a name.

    ``None`` is the system default. Raises :class:`AudioDeviceError` with a one-line message
    when nothing (or more than one device) matches, or the device cannot ``direction``.
    """
    what = _WHAT[direction]
    devices = list_devices()
    usable = [d for d in devices if (d.is_input if direction == "input" else d.is_output)]
    if spec is None:
        for d in usable:
            if d.is_default_input if direction == "input" else d.is_default_output:
                return d
        if usable:
            return usable[0]
        raise AudioDeviceError(f"No {what} found: connect one and try again.")
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise AudioDeviceError(f"A {what} is chosen by index or name, not {spec!r}.")
    if isinstance(spec, int):
        match = [d for d in devices if d.index == spec]
        if not match:
            raise AudioDeviceError(f"There is no audio device number {spec}.", device=str(spec))
        if match[0] not in usable:
            raise AudioDeviceError(f"'{match[0].name}' is not a {what}.", device=match[0].name)
        return match[0]
    exact = [d for d in usable if d.name == spec or d.label == spec]
    if len(exact) == 1:
        return exact[0]
    partial = [d for d in usable if spec.lower() in d.label.lower()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise AudioDeviceError(
            f"The {what} '{spec}' is not connected: choose another one.", device=spec
        )
    names = ", ".join(f"'{d.name}'" for d in partial[:4])
    raise AudioDeviceError(f"'{spec}' matches several {what}s ({names}).", device=spec)


class AudioIO:
    """A microphone and a speaker streaming through ring buffers.

    ``input_device`` / ``output_device``: a PortAudio index, a name (or unique part of one), or
    ``None`` for the system default; ``capture`` / ``playback`` turn a direction off. The
    microphone is recorded mono, the speaker is fed stereo, both at ``samplerate`` in callbacks
    of ``block`` frames (480 = 10 ms at 48 kHz).

    Worker-thread side: :meth:`wait_input` / :meth:`read` take captured blocks, :meth:`write`
    queues playback, :meth:`check` raises the device error if a stream died. ``on_error`` is
    called once, from a PortAudio thread, when a running stream stops by itself.
    """

    @property
    def names(self) -> tuple[str | None, str | None]:
        """The names of the input and the output device (None where there is none)."""
        return (
            self.input_info.name if self.input_info else None,
            self.output_info.name if self.output_info else None,
        )

    def __init__(
        self,
        input_device: DeviceSpec = None,
        output_device: DeviceSpec = None,
        samplerate: int = 48000,
        block: int = 480,
        *,
        capture: bool = True,
        playback: bool = True,
        output_channels: int = 2,
        latency: str | float = "low",
        ring_blocks: int = 32,
        on_error: Callable[[AudioDeviceError], None] | None = None,
    ) -> None:
        if samplerate <= 0 or block <= 0:
            raise ValueError(f"samplerate {samplerate} and block {block} must be positive")
        if not capture and not playback:
            raise ValueError("AudioIO needs at least one of capture and playback")
        self.samplerate = samplerate
        self.block = block
        self.output_channels = output_channels
        self._latency = latency
        self._on_error = on_error
        self.input_info = resolve_device(input_device, "input") if capture else None
        self.output_info = resolve_device(output_device, "output") if playback else None
        self.in_ring = AudioRing(block * ring_blocks, 1)
        self.out_ring = AudioRing(block * ring_blocks, output_channels)
        self._in_stream: Any = None
        self._out_stream: Any = None
        self._input_event = threading.Event()
        self._stopping = False
        self._error: AudioDeviceError | None = None
        self._error_lock = threading.Lock()
        self._seen: dict[str, tuple[int, float]] = {}
        self._started_at = time.monotonic()
        self.input_callbacks = 0
        self.output_callbacks = 0
        self.input_overflows = 0
        self.output_underflows = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        sd = _sd()
        self._stopping = False
        self._started_at = time.monotonic()
        self._seen.clear()
        try:
            if self.input_info is not None:
                self._in_stream = self._open(sd, "input", self.input_info)
            if self.output_info is not None:
                self._out_stream = self._open(sd, "output", self.output_info)
            if self._in_stream is not None:
                self._in_stream.start()
            if self._out_stream is not None:
                self._out_stream.start()
        except AudioDeviceError:
            self.close()
            raise
        except sd.PortAudioError as e:
            self.close()
            info = self.input_info if self._out_stream is None else self.output_info
            name = info.name if info is not None else "?"
            raise AudioDeviceError(
                f"Cannot start the audio device '{name}': {_short(e)}", device=name, detail=str(e)
            ) from e

    def _open(self, sd: Any, direction: Direction, info: DeviceInfo) -> Any:
        what = _WHAT[direction]
        try:
            if direction == "input":
                return sd.InputStream(
                    device=info.index,
                    channels=1,
                    samplerate=self.samplerate,
                    blocksize=self.block,
                    dtype="float32",
                    latency=self._latency,
                    callback=self._input_callback,
                    finished_callback=self._input_finished,
                )
            channels = min(self.output_channels, max(info.max_output_channels, 1))
            if channels != self.output_channels:
                raise AudioDeviceError(
                    f"The speaker '{info.name}' has {info.max_output_channels} channel(s); "
                    f"stereo is needed.",
                    device=info.name,
                )
            return sd.OutputStream(
                device=info.index,
                channels=self.output_channels,
                samplerate=self.samplerate,
                blocksize=self.block,
                dtype="float32",
                latency=self._latency,
                callback=self._output_callback,
                finished_callback=self._output_finished,
            )
        except sd.PortAudioError as e:
            raise AudioDeviceError(
                f"Cannot open the {what} '{info.name}': it is unplugged, busy, or the sound "
                f"system is not running ({_short(e)}).",
                device=info.name,
                detail=str(e),
            ) from e

    def stop(self) -> None:
        self._stopping = True
        for s in (self._in_stream, self._out_stream):
            if s is not None:
                # a dead device may fail to stop; closing still frees it
                with contextlib.suppress(Exception):
                    s.abort(ignore_errors=True)

    def close(self) -> None:
        self.stop()
        for s in (self._in_stream, self._out_stream):
            if s is not None:
                with contextlib.suppress(Exception):
                    s.close(ignore_errors=True)
        self._in_stream = self._out_stream = None
        self._input_event.set()

    def __enter__(self) -> AudioIO:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- PortAudio threads: move samples, count, nothing else --------------------------------
    def _input_callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.input_callbacks += 1
        if status.input_overflow:
            self.input_overflows += 1
        self.in_ring.write(indata)
        self._input_event.set()

    def _output_callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.output_callbacks += 1
        if status.output_underflow:
            self.output_underflows += 1
        self.out_ring.read_into(outdata)

    def _input_finished(self) -> None:
        self._finished("input")

    def _output_finished(self) -> None:
        self._finished("output")

    def _finished(self, direction: Direction) -> None:
        if self._stopping:
            return
        info = self.input_info if direction == "input" else self.output_info
        name = info.name if info is not None else "?"
        self._fail(
            AudioDeviceError(
                f"The {_WHAT[direction]} '{name}' stopped: it was unplugged, or the sound "
                f"system closed it.",
                device=name,
            )
        )

    def _fail(self, error: AudioDeviceError) -> None:
        with self._error_lock:
            if self._error is not None:
                return
            self._error = error
        self._input_event.set()
        if self._on_error is not None:
            self._on_error(error)

    # -- worker side -----------------------------------------------------------------------
    @property
    def error(self) -> AudioDeviceError | None:
        return self._error

    def check(self, stall_s: float = 3.0) -> None:
        """Raise the device error if a stream died or stopped calling back for ``stall_s``.

        The first 5 s after :meth:`start` get 5 s of grace: some sound servers (PulseAudio
        through ALSA) pause a new stream for about two seconds after its first callbacks.
        """
        if self._error is None and not self._stopping:
            now = time.monotonic()
            if now - self._started_at < 5.0:
                stall_s = max(stall_s, 5.0)
            streams: tuple[tuple[Any, Direction, int], ...] = (
                (self._in_stream, "input", self.input_callbacks),
                (self._out_stream, "output", self.output_callbacks),
            )
            for stream, direction, count in streams:
                if stream is None:
                    continue
                seen_count, seen_at = self._seen.get(direction, (-1, now))
                if not stream.active:
                    self._finished(direction)
                elif count != seen_count:
                    self._seen[direction] = (count, now)
                elif now - seen_at > stall_s:
                    self._finished(direction)
        if self._error is not None:
            raise self._error

    def wait_running(self, timeout: float = 5.0) -> bool:
        """Block until every open stream calls back at its real-time pace (or ``timeout``).

        Some sound servers hold a new stream for a moment after its first callbacks; call this
        before timing anything.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._error is None:
            before = (self.input_callbacks, self.output_callbacks)
            time.sleep(0.1)
            ok_in = self._in_stream is None or self.input_callbacks - before[0] >= 5
            ok_out = self._out_stream is None or self.output_callbacks - before[1] >= 5
            if ok_in and ok_out:
                return True
        return False

    def wait_input(self, timeout: float) -> bool:
        """Block until a full block of microphone samples is ready (or timeout / error)."""
        if self.in_ring.available() >= self.block:
            return True
        self._input_event.clear()
        if self.in_ring.available() >= self.block:
            return True
        self._input_event.wait(timeout)
        return self.in_ring.available() >= self.block

    def read(self, out: npt.NDArray[np.float32]) -> bool:
        """Take one block of microphone samples into ``out`` (shape (block,)) if one is ready."""
        if self.in_ring.available() < out.shape[0]:
            return False
        self.in_ring.read_into(out, fill_silence=False)
        return True

    def write(self, block: npt.NDArray[np.float32]) -> int:
        """Queue speaker samples ((n, output_channels) float32); returns frames queued."""
        return self.out_ring.write(block)

    @property
    def output_queued(self) -> int:
        """Frames waiting in the playback ring (not counting PortAudio's own buffer)."""
        return self.out_ring.available()

    @property
    def input_latency(self) -> float:
        """Seconds PortAudio reports for the microphone path (0 without capture)."""
        return float(self._in_stream.latency) if self._in_stream is not None else 0.0

    @property
    def output_latency(self) -> float:
        return float(self._out_stream.latency) if self._out_stream is not None else 0.0


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]
