"""The ``FrameSource`` interface every depth source implements.

A source is started, read from (blocking, with a timeout) and stopped. ``read`` returns the next
:class:`~holocall_desktop.model.DepthFrame`, or ``None`` when no frame arrived within the timeout
or a non-looping recording reached its end (check :attr:`FrameSource.finished`). Failures are
raised as :class:`SourceError` subclasses whose message is written for the user (it is shown in
the window as is).

Real-time sources pace themselves (a live camera by its hardware clock, the synthetic person and
recordings by the wall clock); built with ``realtime=False`` they hand out frames as fast as
``read`` is called, one after another, with the same timestamps: the deterministic mode tests use.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from holocall_desktop.model import DepthFrame


class SourceError(RuntimeError):
    """A depth source failed; ``str(error)`` is a one-line message meant for the user."""


class DeviceDisconnectedError(SourceError):
    """The camera went away (unplugged, powered down, taken by another program)."""


class RecordingFormatError(SourceError):
    """A recording is missing, truncated, corrupt or not a RealSense recording."""


@runtime_checkable
class FrameSource(Protocol):
    @property
    def name(self) -> str:
        """Short human-readable description (shown in the window)."""
        ...

    @property
    def fps(self) -> float:
        """Nominal frame rate."""
        ...

    @property
    def finished(self) -> bool:
        """True once a non-looping recording has delivered its last frame."""
        ...

    @property
    def has_depth(self) -> bool:
        """False for a colour-only source (a webcam): the participant then sends an avatar."""
        ...

    def start(self) -> None: ...

    def read(self, timeout: float = 1.0) -> DepthFrame | None: ...

    def stop(self) -> None: ...


@runtime_checkable
class PlaybackControl(Protocol):
    """Transport controls of a recorded source (implemented by the playback source)."""

    @property
    def frame_count(self) -> int: ...

    @property
    def duration(self) -> float:
        """Length of the recording in seconds."""
        ...

    @property
    def position(self) -> float:
        """Seconds from the start of the recording of the last frame delivered."""
        ...

    @property
    def paused(self) -> bool: ...

    loop: bool
    speed: float

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def seek(self, seconds: float) -> None: ...

    def step(self) -> None:
        """While paused, deliver exactly one more frame."""
        ...
