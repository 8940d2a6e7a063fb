"""The quality ladder's avatar rung on an emulated link too slow for any hologram: Alice sends a
depth recording with a real face in its colour images; on a 100 kbit/s link the network takes
her hologram to Bob down to her avatar (she tracks her face with MediaPipe while sending the
hologram, and only Bob gets the avatar frames), and lifting the link brings the hologram back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape
from tests.faces import record_face
from tests.netlab.waiting import to_bob, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def face_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_face(tmp_path_factory.mktemp("face") / "face.db3")


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
