"""Typed audio errors, each with a one-line message a user can act on."""

from __future__ import annotations


class AudioError(Exception):
    """Base class of every error raised by :mod:`holocall_desktop.audio`."""


class AudioDeviceError(AudioError):
    """A microphone or speaker could not be opened, or stopped while in use (unplugged).

    ``str(error)`` is one line meant for the user ("The microphone 'USB Mic' stopped: it was
    unplugged or taken by another program."); ``detail`` keeps PortAudio's own words for logs.
    """

    def __init__(self, message: str, *, device: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.device = device
        self.detail = detail

    @property
    def user_message(self) -> str:
        return str(self)
