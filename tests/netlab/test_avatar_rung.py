"""The quality ladder's avatar rung on an emulated link too slow for any hologram: Alice sends a
depth recording with a real face in its colour images; on a 100 kbit/s link the network takes
her hologram to Bob down to her avatar (she tracks her face with MediaPipe while sending the
hologram, and only Bob gets the avatar frames), and lifting the link brings the hologram back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from holocall_desktop.capture.recorder import record
from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model import DepthFrame
from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape
from tests.netlab.waiting import to_bob, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class _FaceSource(SyntheticPersonSource):
    """The synthetic person's depth with a photo of a real face as the colour image."""

    def __init__(self, face: np.ndarray) -> None:
        super().__init__(640, 480, fps=15.0, realtime=False)
        self._face = face

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        frame = super().read(timeout)
        if frame is None or frame.color is None:
            return frame
        h, w = frame.color.shape[:2]
        color = np.full_like(frame.color, 90)
        side = min(h, self._face.shape[0])
        x = (w - side) // 2
        color[:side, x : x + side] = self._face[:side, :side]
        return DepthFrame(
            frame.depth,
            frame.depth_units,
            frame.depth_intrinsics,
            frame.timestamp,
            frame.frame_number,
            color,
            frame.color_intrinsics,
            frame.depth_to_color,
        )


@pytest.fixture(scope="module")
def face_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("face") / "face.db3"
    record(_FaceSource(data.astronaut()), path, max_frames=45)
    return path


def _avatars(bob: JsonLinesProcess) -> int:
    return int(bob.stats().get("avatars", {}).get("Alice", 0))


def _holograms(bob: JsonLinesProcess) -> int:
    return int(bob.stats()["received"].get("Alice", 0))


def test_a_link_too_slow_for_holograms_carries_the_avatar_and_lifting_it_brings_them_back(
    face_recording: Path,
) -> None:
    with NetLab(seed=5) as lab:
        join = ["--headless", "--seconds", "200", "--source", str(face_recording)]
        with lab_call(lab, join, warm_frames=5) as (alice, bob):
            assert _avatars(bob) == 0  # a hologram call: no avatar frames yet
            lab.shape("both", Shape(rate_kbps=100.0))
            assert wait_until(lambda: to_bob(alice).get("send_rung") == "avatar", 30), to_bob(alice)
            # Alice tracks her face in the hologram's colour images; Bob gets the avatar
            assert wait_until(lambda: _avatars(bob) >= 10, 30), bob.stats()
            notice = alice.wait_for(lambda x: x.get("event") == "network" and x["down"], 5)
            assert notice["rung"] in ("avatar", "voice"), notice  # on the way down: voice
            notice = alice.wait_for(
                lambda x: x.get("event") == "network" and x["rung"] == "avatar", 5
            )
            assert notice["down"] and "see your avatar" in notice["message"], notice
            assert bob.stats()["participants"][0]["mode"] == "volumetric"  # still a hologram call
            lab.shape("both", Shape())
            got = _holograms(bob)
            # back up: holograms again once a probe of the lightest one succeeds
            # (the hold between probes doubles after each failed one, up to 32 s)
            history: list[tuple[Any, ...]] = []

            def back() -> bool:
                s = to_bob(alice)
                history.append((s.get("send_rung"), s.get("estimate_kbps"), _holograms(bob)))
                return _holograms(bob) >= got + 20

            assert wait_until(back, 150), ("rung, estimate, holograms each 0.5 s", history)
            back = alice.wait_for(lambda x: x.get("event") == "network" and not x["down"], 5)
            assert "sees your hologram again" in back["message"]
        for p in (alice, bob):
            assert p.traceback is None, p.traceback
