"""``holocall check``: what this machine gives HoloCall, one line per part, before a call.

OpenGL and the face model are needed (without them no room is drawn, no avatar is made): the
command exits 1 when either fails. Microphone, speakers and depth cameras are reported; a call
works without them (others do not hear you, you do not hear them, you appear as an avatar or
from a recording).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Finding:
    part: str
    ok: bool
    text: str
    needed: bool


def _opengl() -> Finding:
    from holocall_desktop.ui.app import ensure_app
    from holocall_desktop.ui.glcheck import OpenGLUnavailable, probe_opengl

    ensure_app()
    try:
        return Finding("OpenGL", True, probe_opengl().describe(), True)
    except OpenGLUnavailable as exc:
        return Finding("OpenGL", False, str(exc), True)


def _face_model() -> Finding:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's start-up notes on stderr
    from holocall_desktop.avatar.model_files import FaceModelError
    from holocall_desktop.avatar.tracker import FaceTracker

    started = time.perf_counter()
    try:
        with FaceTracker(smooth=False) as tracker:
            tracker.process(np.full((240, 320, 3), 128, np.uint8), 0.0)  # runs the graph once
            path = tracker.model_path
    except FaceModelError as exc:
        return Finding("face model", False, exc.user_message, True)
    except (RuntimeError, OSError, ValueError) as exc:  # MediaPipe could not run it
        return Finding("face model", False, f"MediaPipe could not run the face model: {exc}", True)
    ms = (time.perf_counter() - started) * 1000
    return Finding(
        "face model", True, f"{path.name}: verified, loaded and run in {ms:.0f} ms", True
    )


def _audio() -> list[Finding]:
    from holocall_desktop.audio.devices import list_devices
    from holocall_desktop.audio.errors import AudioError

    try:
        devices = list_devices()
    except AudioError as exc:
        return [Finding("audio", False, f"{exc}: nobody hears you and you hear nobody", False)]
    found = []
    for what, direction, missing in (
        ("microphone", "input", "no microphone: the others will not hear you"),
        ("speakers", "output", "no speakers: you will not hear the others"),
    ):
        usable = [d for d in devices if getattr(d, f"is_{direction}")]
        defaults = [d for d in usable if getattr(d, f"is_default_{direction}")]
        chosen = (defaults or usable)[0] if usable else None
        text = f"{chosen.label} ({len(usable)} in all)" if chosen else missing
        found.append(Finding(what, chosen is not None, text, False))
    return found


def _cameras() -> Finding:
    from holocall_desktop.capture.realsense import list_devices

    cams = list_devices()
    if not cams:
        return Finding(
            "depth camera",
            False,
            "no RealSense camera connected: you appear as an avatar (webcam) or from a recording",
            False,
        )
    names = ", ".join(f"{c.name} {c.serial}" for c in cams)
    return Finding("depth camera", True, names, False)


def findings() -> list[Finding]:
    steps: list[Callable[[], Finding | list[Finding]]] = [_opengl, _face_model, _audio, _cameras]
    out: list[Finding] = []
    for step in steps:
        got = step()
        out.extend(got if isinstance(got, list) else [got])
    return out


def run() -> int:
    results = findings()
    width = max(len(f.part) for f in results)
    for f in results:
        mark = "ok" if f.ok else ("FAILED" if f.needed else "missing")
        print(f"{f.part:<{width}}  {mark:<7} {f.text}")
    failed = [f.part for f in results if f.needed and not f.ok]
    if failed:
        print(f"holocall: error: {' and '.join(failed)} unusable (see above)", file=sys.stderr)
        return 1
    return 0
