"""Which sources the window offers and how it opens them with the user's settings."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from holocall_desktop.capture.base import FrameSource
from holocall_desktop.capture.runner import Processor
from holocall_desktop.ui.settings import AppSettings

log = logging.getLogger(__name__)

OPEN_RECORDING = "__open__"
RECORDING_FILTER = "RealSense recordings (*.bag *.db3);;All files (*)"


def describe_source(spec: str) -> str:
    if spec == "synthetic":
        return "Synthetic person"
    if spec.startswith("webcam"):
        what = spec.partition(":")[2] or "0"
        return f"Webcam {what if what.isdigit() else Path(what).name}"
    if spec.startswith("camera"):
        serial = spec.partition(":")[2]
        return f"RealSense camera {serial}".strip()
    return Path(spec).name


def preview_label(spec: str) -> str:
    """The name over the local preview: you, or the recording being replayed."""
    if Path(spec).suffix.lower() in (".bag", ".db3"):
        return f"Recording · {describe_source(spec)}"
    return f"You · {describe_source(spec)}"


def open_with_settings(spec: str, settings: AppSettings) -> FrameSource:
    """``spec`` opened for the window (real time, the saved loop, camera mode and filters);
    :class:`SourceError` with a user message if it cannot be."""
    from holocall_desktop.capture.open import open_source

    depth = settings.depth
    filters = depth.filters if depth.filters.any_enabled else None
    return open_source(
        spec, realtime=True, loop=settings.loop, filters=filters, camera_mode=depth.camera_mode
    )


def processors_for(settings: AppSettings, remove: bool) -> list[Processor]:
    """Background removal with the saved range, when ``remove``."""
    if not remove:
        return []
    from holocall_desktop.processing.background import remove_background

    depth = settings.depth
    near, far, largest = depth.background_near, depth.background_far, depth.largest_component
    return [lambda frame: remove_background(frame, near, far, largest)]


def list_webcams() -> list[int]:
    """Colour cameras OpenCV can open by index (Linux: the /dev/video* nodes; elsewhere index 0
    is offered and opening it says whether it exists)."""
    if sys.platform.startswith("linux"):
        nodes = Path("/dev").glob("video[0-9]*")
        return sorted(int(p.name[5:]) for p in nodes if p.name[5:].isdigit())
    return [0]


def default_source() -> str:
    """What a new user sees first: their RealSense, else their webcam (as an avatar), else the
    built-in synthetic person."""
    found = cameras()
    if found:
        return f"camera:{found[0][1]}"
    webcams = list_webcams()
    if webcams:
        return f"webcam:{webcams[0]}"
    return "synthetic"


def cameras() -> list[tuple[str, str]]:
    """(name, serial) of the RealSense cameras plugged in."""
    try:
        from holocall_desktop.capture.realsense import list_devices

        return [(d.name, d.serial) for d in list_devices()]
    except Exception:  # no SDK backend, no USB: the picker simply lists no camera
        log.debug("camera enumeration failed", exc_info=True)
        return []
