"""Open a depth source from a short text spec (command line, settings, the source picker)."""

from __future__ import annotations

from pathlib import Path

from holocall_desktop.capture.base import FrameSource, SourceError
from holocall_desktop.capture.filters import FilterSettings

SPEC_HELP = (
    "'synthetic', 'synthetic:SEED', 'camera', 'camera:SERIAL', 'webcam', 'webcam:N', "
    "'webcam:VIDEO_FILE' (colour only: avatar mode) or a recording path ending in .bag or .db3"
)


def open_source(
    spec: str,
    *,
    realtime: bool = True,
    loop: bool = False,
    filters: FilterSettings | None = None,
    camera_mode: tuple[int, int, int] = (848, 480, 30),
) -> FrameSource:
    """The source named by ``spec`` (not started).

    - ``synthetic`` / ``synthetic:SEED`` → :class:`~.synthetic.SyntheticPersonSource` (seed 0
      by default; another seed gives another shirt colour, noise and phase of the animation)
    - ``camera`` / ``camera:SERIAL`` → :class:`~.realsense.RealSenseSource` (opened on start)
    - ``webcam`` / ``webcam:N`` / ``webcam:VIDEO_FILE`` → :class:`~.webcam.WebcamSource`:
      colour without depth, for avatar mode (opened on start)
    - ``*.bag`` / ``*.db3`` → :class:`~.playback.PlaybackSource` (validated now: a bad file
      raises :class:`~.base.RecordingFormatError`)

    ``filters`` apply to the camera and to recordings; the synthetic person ignores them.
    ``camera_mode`` is the camera's (width, height, fps); the camera checks it when it starts.
    """
    text = spec.strip()
    key = text.lower()
    if key == "webcam" or key.startswith("webcam:"):
        from holocall_desktop.capture.webcam import WebcamSource, parse_webcam_spec

        return WebcamSource(parse_webcam_spec(text), realtime=realtime, loop=True)
    if key == "synthetic":
        from holocall_desktop.capture.synthetic import SyntheticPersonSource

        return SyntheticPersonSource(realtime=realtime)
    if key.startswith("synthetic:"):
        from holocall_desktop.capture.synthetic import SyntheticPersonSource

        seed_text = text.split(":", 1)[1].strip()
        if not seed_text.isdigit():
            raise SourceError(f"synthetic source seed must be a whole number ≥ 0, got {spec!r}")
        return SyntheticPersonSource(realtime=realtime, seed=int(seed_text))
    if key == "camera" or key.startswith("camera:"):
        from holocall_desktop.capture.realsense import RealSenseSource

        serial = text.split(":", 1)[1].strip() if ":" in text else None
        if serial == "":
            raise SourceError(f"no camera serial after 'camera:' in {spec!r}")
        width, height, fps = camera_mode
        return RealSenseSource(serial=serial, width=width, height=height, fps=fps, filters=filters)
    if Path(text).suffix.lower() in (".bag", ".db3"):
        from holocall_desktop.capture.playback import PlaybackSource

        return PlaybackSource(text, realtime=realtime, loop=loop, filters=filters)
    raise SourceError(f"unknown source {spec!r}: use {SPEC_HELP}")
