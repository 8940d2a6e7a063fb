"""Avatar mode in the window: a colour-only source (a webcam; here a video of a real face)
switches to the avatar by itself, the others in the call see the avatar at its seat, and a
missing face model leaves the app working with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from holocall_desktop.demo import DemoBackend
from holocall_desktop.transport.api import CallState, MediaMode
from holocall_desktop.ui.main_window import SELF_ID

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def face_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short video of a real face photo (scikit-image's astronaut) gently rolling her head."""
    from skimage import data

    from holocall_desktop.avatar.model_files import FaceModelError, find_face_model

    try:
        find_face_model()
    except FaceModelError as exc:
        pytest.fail(f"face model not installed: {exc.user_message}")
    path = tmp_path_factory.mktemp("video") / "face.avi"
    image = data.astronaut()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (512, 512))
    for i in range(30):
        m = cv2.getRotationMatrix2D((256.0, 256.0), 6.0 * np.sin(i / 4.0), 1.0)
        writer.write(cv2.warpAffine(image, m, (512, 512))[..., ::-1])
    writer.release()
    return path


def test_a_webcam_source_switches_to_the_avatar(
    make_window: Any, qtbot: Any, face_video: Path
) -> None:
    window = make_window(f"webcam:{face_video}")
    assert window.avatar_button.isChecked()  # no depth camera: avatar mode by itself
    part = window.scene.participants[SELF_ID]
    qtbot.waitUntil(
        lambda: part.avatar is not None and part.avatar.frame is not None, timeout=30000
    )
    assert part.shows_avatar and not part.node.visible
    # switching to a depth source goes back to the hologram
    window.open_source("synthetic")
    assert not window.avatar_button.isChecked() and not window.media.avatar


def test_others_in_the_call_see_the_avatar(
    make_window: Any, qtbot: Any, face_video: Path, demo: DemoBackend
) -> None:
    viewer = make_window("synthetic")
    config = demo.start(viewer.settings.user_id, "Viewer")
    assert viewer.join_call(config)
    qtbot.waitUntil(lambda: viewer.call.state is CallState.JOINED, timeout=20000)

    sender = make_window(f"webcam:{face_video}")
    from dataclasses import replace

    assert sender.join_call(replace(config, user_id="avatar-user", display_name="Astronaut"))
    qtbot.waitUntil(lambda: sender.call.state is CallState.JOINED, timeout=20000)
    qtbot.waitUntil(lambda: viewer.call.avatars_shown.get("avatar-user", 0) >= 3, timeout=40000)
    info = viewer.room.participants["avatar-user"]
    assert info.mode is MediaMode.AVATAR
    assert "avatar" in viewer.participants_panel.text_of("avatar-user")
    seat = viewer.scene.participants["avatar-user"]
    assert seat.shows_avatar and seat.avatar is not None and seat.avatar.visible
    assert not seat.node.visible
    # the sender sees its own avatar in the corner
    assert sender.scene.self_view_rect is not None


def test_a_missing_face_model_is_reported_and_the_app_goes_on(
    make_window: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLOCALL_FACE_MODEL", str(tmp_path / "nowhere.task"))
    window = make_window("synthetic")
    assert window.set_avatar_mode(True) is False
    assert window.banner.isVisible() and "\n" not in window.banner.message.strip()
    assert not window.avatar_button.isChecked()
    qtbot.waitUntil(lambda: window.frames_drawn >= 2, timeout=15000)  # the hologram goes on


def test_no_face_in_the_picture_is_shown_and_the_avatar_holds_still(
    make_window: Any, qtbot: Any, face_video: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "wall.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    for i in range(30):
        frame = np.full((240, 320, 3), 90 + i, np.uint8)  # a wall, no face
        writer.write(frame)
    writer.release()
    window = make_window(f"webcam:{empty}")
    notice = window.view.face_notice
    qtbot.waitUntil(lambda: notice.visible, timeout=30000)
    assert notice.text.startswith("No face found")
    part = window.scene.participants[SELF_ID]
    assert part.avatar is None or part.avatar.frame is None  # nothing to move it
    window.open_source(f"webcam:{face_video}")
    qtbot.waitUntil(lambda: not notice.visible, timeout=30000)
