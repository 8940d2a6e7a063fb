"""Depth sources behind one interface: live RealSense, recordings, the synthetic person."""

from holocall_desktop.capture.base import (
    DeviceDisconnectedError,
    FrameSource,
    PlaybackControl,
    RecordingFormatError,
    SourceError,
)

__all__ = [
    "DeviceDisconnectedError",
    "FrameSource",
    "PlaybackControl",
    "RecordingFormatError",
    "SourceError",
]
