"""A shared screen on an emulated link: Alice shares a 1280x720 video with Bob (both in their
own network namespaces); on the open link it arrives at full size, on a 1 Mbit/s link smaller
and slower but still coming, and at full size again once the link is lifted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape
from tests.capture.screen_video import make_screen_video
from tests.netlab.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _screen(bob: JsonLinesProcess) -> dict[str, Any]:
    """Bob's count and size of Alice's screen pictures ({} before the first)."""
    return dict((bob.stats().get("screens") or {}).get("Alice") or {})


def _rate(bob: JsonLinesProcess, seconds: float) -> float:
    n0, t0 = _screen(bob).get("pictures", 0), time.monotonic()
    time.sleep(seconds)
    return (_screen(bob).get("pictures", 0) - n0) / (time.monotonic() - t0)


def test_a_shared_screen_fits_the_link(tmp_path: Path) -> None:
    video = make_screen_video(tmp_path / "slides.webm", seconds=4.0, size=(1280, 720))
    with NetLab(seed=5) as lab:
        join = ["--headless", "--seconds", "200"]
        with lab_call(lab, join, warm_frames=5, alice_args=["--share-video", str(video)]) as (
            alice,
            bob,
        ):
            assert wait_until(lambda: _screen(bob).get("width") == 1280, 40), _screen(bob)
            assert _rate(bob, 4) >= 7  # 10 a second sent
            lab.shape("both", Shape(rate_kbps=1000.0))
            assert wait_until(lambda: _screen(bob).get("width", 9999) <= 640, 30), _screen(bob)
            slow = _rate(bob, 6)
            assert slow >= 2, slow  # smaller and slower (5 or 3 a second), but coming
            assert _screen(bob)["height"] * 16 == _screen(bob)["width"] * 9  # the aspect kept
            lab.shape("both", Shape())
            assert wait_until(lambda: _screen(bob).get("width") == 1280, 60), _screen(bob)
        for p in (alice, bob):
            assert p.traceback is None, p.traceback
