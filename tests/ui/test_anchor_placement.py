"""anchor_sync in the window: the demo's simulated participant sends where it stands (an AR
peer's shared anchor); the window draws it there instead of at its seat (pixels), and its
voice moves with it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from holocall_desktop.audio.virtual import VirtualSoundServer
from holocall_desktop.demo import DemoBackend
from holocall_desktop.transport.api import CallState

pytestmark = pytest.mark.gui

AVA = "ava-simulated"


def test_a_participants_anchor_places_it_in_the_room(
    sound: VirtualSoundServer, make_window: Any, qtbot: Any, demo: DemoBackend
) -> None:
    window = make_window("synthetic")
    window.resize(1280, 800)
    assert window.join_call(demo.start(window.settings.user_id, "Tester"))
    qtbot.waitUntil(lambda: window.call.state is CallState.JOINED, timeout=20000)
    qtbot.waitUntil(lambda: window.call.frames_shown.get(AVA, 0) >= 3, timeout=30000)
    scene = window.scene
    seat = scene.seat_of(AVA).position.copy()
    where = np.array([0.9, 0.0, -0.2])  # to the right of the table, beside its edge
    before = scene.render()
    s = math.sin(math.pi / 4)
    assert demo.remote is not None
    demo.remote.engine.send_anchor((0.9, 0.0, -0.2), (0.0, -s, 0.0, s))  # facing -x
    part = scene.participants[AVA]
    qtbot.waitUntil(lambda: part.placement is not None, timeout=10000)
    assert np.allclose(scene.seat_of(AVA).position, where, atol=1e-6)
    assert np.allclose(part.label.pos[0][[0, 2]], where[[0, 2]], atol=1e-3)
    assert not np.allclose(seat, where)
    # the hologram is drawn there now: pixels around the new place changed, with a frame later
    qtbot.wait(500)
    after = scene.render()
    chest = np.append(where + np.array([0.0, 1.0, 0.0]), 1.0)
    canvas = scene.view.scene.node_transform(scene.canvas.scene).map(chest)
    x, y = int(canvas[0] / canvas[3]), int(canvas[1] / canvas[3])
    h, w = after.shape[:2]
    assert 0 <= x < w and 0 <= y < h, (x, y)
    box = (slice(max(0, y - 40), y + 40), slice(max(0, x - 30), x + 30))
    changed = np.abs(after[box][..., :3].astype(int) - before[box][..., :3]).max(axis=-1) > 30
    assert changed.mean() > 0.05, changed.mean()
    # and the voice: from the new place, well to the side now (it was straight ahead)
    audio = window.call.audio
    assert audio is not None and window.call.voices is not None
    assert AVA in window.call.voices.placed

    def azimuth() -> float:
        info = {p.user_id: p for p in audio.participant_audio()}.get(AVA)
        return 0.0 if info is None else float(info.azimuth_deg)

    qtbot.waitUntil(lambda: abs(azimuth()) > 20, timeout=10000)  # about 28° from the viewer
