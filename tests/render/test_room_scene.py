"""The room during a call: participants materialise and dissolve, seats, the mirrored self-view."""

from __future__ import annotations

import numpy as np
import pytest

from holocall_desktop.model import DepthFrame, Intrinsics
from holocall_desktop.render.scene import REVEAL_SECONDS, HoloScene
from tests.render.conftest import foreground_mask

pytestmark = pytest.mark.gui

W, H = 212, 120
INTR = Intrinsics(W, H, fx=106.0, fy=106.0, ppx=106.0, ppy=60.0)


def _board() -> DepthFrame:
    """A 'person-sized' board 1.3 m away: red on the camera's left half, green on its right."""
    depth = np.zeros((H, W), np.uint16)
    depth[10:110, 60:152] = 1300
    color = np.zeros((H, W, 3), np.uint8)
    color[:, : W // 2] = (230, 30, 30)
    color[:, W // 2 :] = (30, 230, 30)
    return DepthFrame(
        depth=depth,
        depth_units=0.001,
        depth_intrinsics=INTR,
        timestamp=0.0,
        frame_number=0,
        color=color,
        color_intrinsics=INTR,
    )


def _rows(mask: np.ndarray) -> tuple[int, int]:
    ys = np.nonzero(mask.any(axis=1))[0]
    return int(ys.min()), int(ys.max())


def test_a_joining_participant_materialises_from_the_feet_up(bare_scene: HoloScene) -> None:
    bare_scene.add_participant("p", animate=True)
    bare_scene.set_frame("p", _board())
    assert foreground_mask(bare_scene.render()).sum() == 0  # not revealed yet
    assert bare_scene.animate(REVEAL_SECONDS * 0.5)
    half = foreground_mask(bare_scene.render())
    assert bare_scene.animate(REVEAL_SECONDS * 0.6) is False  # reached 1: done
    full = foreground_mask(bare_scene.render())
    assert 0 < half.sum() < full.sum()
    top_half, bottom_half = _rows(half)
    top_full, bottom_full = _rows(full)
    assert abs(bottom_half - bottom_full) <= 2 and top_half > top_full + 10


def test_a_leaving_participant_dissolves_then_is_gone(bare_scene: HoloScene) -> None:
    bare_scene.add_participant("p")
    bare_scene.set_frame("p", _board())
    full = foreground_mask(bare_scene.render()).sum()
    bare_scene.remove_participant("p", animate=True)
    assert "p" in bare_scene.participants
    bare_scene.animate(REVEAL_SECONDS * 0.5)
    assert 0 < foreground_mask(bare_scene.render()).sum() < full
    bare_scene.animate(REVEAL_SECONDS)
    assert "p" not in bare_scene.participants
    assert foreground_mask(bare_scene.render()).sum() == 0


def test_three_person_call_seats_the_others_left_and_right(bare_scene: HoloScene) -> None:
    bare_scene.set_seat_count(3)
    bare_scene.add_participant("a", seat_index=1)
    bare_scene.add_participant("b", seat_index=2)
    bare_scene.set_frame("a", _board())
    image = bare_scene.render()
    xs_a = np.nonzero(foreground_mask(image).any(axis=0))[0]
    bare_scene.participants["a"].node.visible = False
    bare_scene.set_frame("b", _board())
    xs_b = np.nonzero(foreground_mask(bare_scene.render()).any(axis=0))[0]
    w = image.shape[1]
    assert xs_a.mean() < w / 2 < xs_b.mean() or xs_b.mean() < w / 2 < xs_a.mean()
    for pid in ("a", "b"):  # voices come from the seats: on the table's circle, apart
        pos = bare_scene.seat_position(pid)
        assert np.hypot(pos[0], pos[2]) == pytest.approx(bare_scene.layout.seat_distance)
    assert np.linalg.norm(bare_scene.seat_position("a") - bare_scene.seat_position("b")) > 1.0


def test_self_view_is_a_mirrored_corner_picture(bare_scene: HoloScene) -> None:
    bare_scene.add_participant("p")
    bare_scene.set_frame("p", _board())
    bare_scene.set_self_frame(_board())
    image = bare_scene.render()
    rect = bare_scene.self_view_rect
    assert rect is not None
    x, y, w, h = rect
    cw, ch = bare_scene.canvas.size
    assert x + w <= cw and y + h <= ch and x > cw / 2 and y > ch / 2  # bottom-right corner
    corner = image[y : y + h, x : x + w, :3].astype(int)
    red = (corner[..., 0] > 150) & (corner[..., 1] < 80)
    green = (corner[..., 1] > 150) & (corner[..., 0] < 80)
    assert red.sum() > 50 and green.sum() > 50
    # mirrored: the camera's left (red) is on the right in the self-view...
    assert np.nonzero(red)[1].mean() > np.nonzero(green)[1].mean()
    # ...and not in the room, where the remote camera's left stays on the viewer's left
    room = image[:, : x - 2, :3].astype(int)
    room_red = (room[..., 0] > 150) & (room[..., 1] < 80)
    room_green = (room[..., 1] > 150) & (room[..., 0] < 80)
    assert np.nonzero(room_red)[1].mean() < np.nonzero(room_green)[1].mean()
    bare_scene.set_self_frame(None)
    assert bare_scene.self_view_rect is None


def test_an_avatar_participant_is_drawn_at_their_seat_and_follows_the_jaw(
    bare_scene: HoloScene,
) -> None:
    from holocall_desktop.model.avatar import BLENDSHAPE_INDEX, AvatarFrame

    bare_scene.add_participant("p")
    bare_scene.use_avatar("p", True)
    neutral = AvatarFrame(timestamp=0.0)
    bare_scene.set_avatar_frame("p", neutral)
    closed_image = bare_scene.render()
    closed = foreground_mask(closed_image)
    assert closed.sum() > 300
    # the head is where the seat's head is: centre of the view, above the table line
    _ys, xs = np.nonzero(closed)
    w = closed.shape[1]
    assert abs(xs.mean() - w / 2) < w * 0.1
    shapes = np.zeros(52, np.float32)
    shapes[BLENDSHAPE_INDEX["jawOpen"]] = 1.0
    bare_scene.set_avatar_frame("p", AvatarFrame(timestamp=0.1, blendshapes=shapes))
    open_image = bare_scene.render()
    # the mouth opens and the chin drops in front of the neck: pixels change, not the outline
    changed = np.abs(open_image[..., :3].astype(int) - closed_image[..., :3]).max(axis=-1) > 30
    assert changed.sum() > 20
    avatar = bare_scene.participants["p"].avatar
    centre = avatar.get_transform("visual", "canvas").map(avatar.model_matrix()[:, 3])
    assert np.nonzero(changed)[0].mean() > centre[1] / centre[3]  # below the head's centre
    bare_scene.use_avatar("p", False)  # back to the hologram (no frame yet): nothing drawn
    assert foreground_mask(bare_scene.render()).sum() == 0


def test_own_avatar_in_the_self_view(bare_scene: HoloScene) -> None:
    from holocall_desktop.model.avatar import AvatarFrame

    bare_scene.set_self_avatar(AvatarFrame(timestamp=0.0))
    image = bare_scene.render()
    x, y, w, h = bare_scene.self_view_rect  # type: ignore[misc]
    corner = foreground_mask(image)[y + 3 : y + h - 3, x + 3 : x + w - 3]
    # the corner's own background differs from the room's: look for the lit skin of the head
    rgb = image[y + 3 : y + h - 3, x + 3 : x + w - 3, :3].astype(int)
    skin = (rgb[..., 0] > 120) & (rgb[..., 0] > rgb[..., 2] + 20)
    assert corner.any() and skin.sum() > 100
