"""The avatar renderer under Xvfb: real vispy + Qt OpenGL (Mesa llvmpipe), checked by pixels.

Regions are found by projecting mesh landmarks through the visual's own transforms, so the
checks follow the geometry rather than hard-coded pixel boxes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from holocall_desktop.avatar.rig import blend
from holocall_desktop.codec.avatar_frame import decode_avatar_frame, encode_avatar_frame
from holocall_desktop.model.avatar import BLENDSHAPE_INDEX, NUM_BLENDSHAPES, AvatarFrame
from tests.render.conftest import keep_until_exit

pytestmark = pytest.mark.gui

SIZE = 320
BG = (0.2, 0.6, 0.3, 1.0)
BG_RGB = np.round(np.asarray(BG[:3]) * 255).astype(int)
LEFT_EYE_LIDS = (386, 374, 263, 362)  # upper, lower, outer and inner corner of the left eye
RIGHT_EYE_LIDS = (159, 145, 33, 133)


class Stage:
    def __init__(self) -> None:
        import vispy

        vispy.use(app="pyside6")
        from vispy import scene

        from holocall_desktop.render.avatar import AvatarNode

        self.canvas = scene.SceneCanvas(size=(SIZE, SIZE), show=True, bgcolor=BG)
        view = self.canvas.central_widget.add_view()
        # looking at the avatar's face from +z at 0.55 m, y up
        view.camera = scene.cameras.TurntableCamera(
            fov=30, distance=0.55, elevation=0.0, azimuth=90.0, up="+y", center=(0, 0, 0)
        )
        self.avatar: Any = AvatarNode(parent=view.scene)
        self.view = view

    def reset(self) -> None:
        self.avatar.set_blendshapes(np.zeros(NUM_BLENDSHAPES))
        self.avatar.set_head_pose([0, 0, 0, 1])
        self.avatar.set_seat(np.eye(4))

    def shot(self, **scores: float) -> npt.NDArray[np.uint8]:
        w = np.zeros(NUM_BLENDSHAPES, np.float32)
        for name, value in scores.items():
            w[BLENDSHAPE_INDEX[name]] = value
        self.avatar.set_blendshapes(w)
        return np.asarray(self.canvas.render()[..., :3])

    def project(self, local_cm: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Canvas pixels (x right, y down) of points in the head's own frame (cm)."""
        pts = np.atleast_2d(np.asarray(local_cm, dtype=np.float64))
        m = self.avatar.model_matrix()
        world = pts @ m[:3, :3].T + m[:3, 3]
        tr = self.avatar.get_transform("visual", "canvas")
        mapped = np.asarray(tr.map(world), dtype=np.float64)
        return mapped[:, :2] / mapped[:, 3:4]


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    s = Stage()
    yield s
    s.canvas.close()
    keep_until_exit(s)


@pytest.fixture
def fresh(stage: Stage) -> Stage:
    stage.reset()
    return stage


def _foreground(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.abs(image.astype(int) - BG_RGB).max(axis=-1) > 12


def _changed(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > 20


def _box(stage: Stage, landmarks: tuple[int, ...], pad: int) -> tuple[slice, slice]:
    xy = stage.project(stage.avatar.mesh.positions[list(landmarks)])
    x0, y0 = np.floor(xy.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(xy.max(axis=0)).astype(int) + pad
    return slice(max(y0, 0), min(y1, SIZE)), slice(max(x0, 0), min(x1, SIZE))


def _pupil_centroid(
    stage: Stage, image: npt.NDArray[np.uint8], eye: int
) -> npt.NDArray[np.float64]:
    center = stage.project(stage.avatar.mesh.eye_centers[eye])[0]
    x0, y0 = (center - 30).astype(int)
    patch = image[y0 : y0 + 60, x0 : x0 + 60]
    dark = patch.max(axis=-1) < 30
    assert dark.sum() >= 3, "no pupil found"
    ys, xs = np.nonzero(dark)
    return np.array([xs.mean() + x0, ys.mean() + y0])


def test_avatar_is_drawn_facing_the_camera(fresh: Stage) -> None:
    image = fresh.shot()
    fg = _foreground(image)
    assert 0.15 < fg.mean() < 0.8
    # the subject's left eye (+x) appears on the viewer's right, and both pupils are visible
    left = _pupil_centroid(fresh, image, 0)
    right = _pupil_centroid(fresh, image, 1)
    assert left[0] > right[0] + 20
    assert abs(left[1] - right[1]) < 3


def test_gpu_blend_matches_the_cpu_reference(fresh: Stage) -> None:
    scores = {"jawOpen": 1.0, "mouthSmileLeft": 1.0, "browInnerUp": 1.0, "cheekPuff": 1.0}
    image = fresh.shot(**scores)
    w = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, value in scores.items():
        w[BLENDSHAPE_INDEX[name]] = value
    xy = fresh.project(blend(fresh.avatar.mesh, fresh.avatar._targets, w))
    ys, xs = np.nonzero(_foreground(image))
    # a projected triangle is a triangle: the silhouette's extremes are projected vertices
    assert abs(ys.max() - xy[:, 1].max()) <= 2.5
    assert abs(ys.min() - xy[:, 1].min()) <= 2.5
    assert abs(xs.max() - xy[:, 0].max()) <= 2.5
    assert abs(xs.min() - xy[:, 0].min()) <= 2.5


def test_jaw_open_moves_pixels_in_the_jaw_region(fresh: Stage) -> None:
    neutral = fresh.shot()
    opened = fresh.shot(jawOpen=1.0)
    changed = _changed(neutral, opened)
    jaw = _box(fresh, (17, 152, 61, 291), pad=6)
    forehead = _box(fresh, (10, 151, 9), pad=10)
    assert changed[jaw].mean() > 0.25
    assert changed[forehead].mean() < 0.01
    # the chin drops: the silhouette's lowest row moves down by many pixels
    assert np.nonzero(_foreground(opened))[0].max() > np.nonzero(_foreground(neutral))[0].max() + 10
    half = fresh.shot(jawOpen=0.5)
    assert 0 < _changed(neutral, half)[jaw].sum() < changed[jaw].sum()  # follows the score


def test_eye_blink_changes_the_eye_region(fresh: Stage) -> None:
    neutral = fresh.shot()
    blink = fresh.shot(eyeBlinkLeft=1.0)
    changed = _changed(neutral, blink)
    left_eye = _box(fresh, LEFT_EYE_LIDS, pad=3)
    right_eye = _box(fresh, RIGHT_EYE_LIDS, pad=3)
    assert changed[left_eye].mean() > 0.2
    assert changed[right_eye].mean() < 0.01
    white = lambda img: (img.min(axis=-1) > 170).sum()  # noqa: E731 - the sclera
    assert white(neutral[left_eye]) > 10
    assert white(blink[left_eye]) < 0.1 * white(neutral[left_eye])


def test_smile_and_brows_follow_the_scores(fresh: Stage) -> None:
    neutral = fresh.shot()
    smile = fresh.shot(mouthSmileLeft=1.0, mouthSmileRight=1.0)
    brows = fresh.shot(browInnerUp=1.0)
    assert _changed(neutral, smile)[_box(fresh, (61, 291, 0, 17), pad=6)].mean() > 0.05
    assert _changed(neutral, brows)[_box(fresh, (107, 336, 9), pad=8)].mean() > 0.05


def test_gaze_moves_the_pupils(fresh: Stage) -> None:
    neutral = fresh.shot()
    look = fresh.shot(eyeLookOutLeft=1.0, eyeLookInRight=1.0)  # both look to the subject's left
    for eye in (0, 1):
        shift = _pupil_centroid(fresh, look, eye) - _pupil_centroid(fresh, neutral, eye)
        assert shift[0] > 2  # towards +x, which is the viewer's right


@pytest.mark.parametrize("axis", ["yaw", "roll"])
def test_head_rotation_moves_the_face(fresh: Stage, axis: str) -> None:
    neutral = fresh.shot()
    before = [_pupil_centroid(fresh, neutral, e) for e in (0, 1)]
    half = math.radians(25) / 2
    q = (
        [0, math.sin(half), 0, math.cos(half)]
        if axis == "yaw"
        else [0, 0, math.sin(half), math.cos(half)]
    )
    fresh.avatar.set_head_pose(q)
    turned = fresh.shot()
    assert _changed(neutral, turned).mean() > 0.05
    for eye in (0, 1):
        expected = fresh.project(fresh.avatar.mesh.eye_centers[eye] + [0, 0, 1.2])[0]
        found = _pupil_centroid(fresh, turned, eye)
        assert np.linalg.norm(found - before[eye]) > 5  # the face moved ...
        assert np.linalg.norm(found - expected) < 4  # ... where the pose puts it


def test_seat_places_the_avatar(fresh: Stage) -> None:
    before = _pupil_centroid(fresh, fresh.shot(), 0)
    seat = np.eye(4)
    seat[:3, 3] = [0.05, -0.02, 0.0]
    fresh.avatar.set_seat(seat)
    after = _pupil_centroid(fresh, fresh.shot(), 0)
    expected = fresh.project(fresh.avatar.mesh.eye_centers[0] + [0, 0, 1.2])[0]
    assert after[0] - before[0] > 30 and after[1] - before[1] > 10  # right and down
    assert np.linalg.norm(after - expected) < 4


def test_frame_from_the_wire_renders_like_direct_weights(fresh: Stage) -> None:
    shapes = np.zeros(NUM_BLENDSHAPES, np.float32)
    shapes[BLENDSHAPE_INDEX["jawOpen"]] = 0.8
    shapes[BLENDSHAPE_INDEX["eyeBlinkRight"]] = 1.0
    half = math.radians(10) / 2
    frame = AvatarFrame(
        timestamp=1.0,
        head_position=[0.0, 0.0, -0.5],
        head_rotation=[math.sin(half), 0, 0, math.cos(half)],
        blendshapes=shapes,
    )
    received = decode_avatar_frame(encode_avatar_frame(frame))
    fresh.avatar.recenter()
    fresh.avatar.set_frame(received)
    via_frame = np.asarray(fresh.canvas.render()[..., :3])
    fresh.avatar.set_head_pose(frame.head_rotation)
    direct = fresh.shot(jawOpen=0.8, eyeBlinkRight=1.0)
    assert np.abs(via_frame.astype(int) - direct.astype(int)).max() <= 3
    assert fresh.avatar.frame is received


def test_bad_input_is_rejected(fresh: Stage) -> None:
    with pytest.raises(ValueError, match="52"):
        fresh.avatar.set_blendshapes(np.zeros(10))
    with pytest.raises(ValueError, match="finite"):
        fresh.avatar.set_seat(np.full((4, 4), np.nan))


def test_seat_matrix_faces_the_table() -> None:
    from holocall_desktop.model.room import RoomLayout
    from holocall_desktop.render.avatar import seat_matrix

    layout = RoomLayout()
    for index in range(4):
        seat = layout.seat(index, 4)
        m = seat_matrix(seat, head_height=1.2)
        np.testing.assert_allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-12)
        assert np.linalg.det(m[:3, :3]) == pytest.approx(1.0)
        np.testing.assert_allclose(m[:3, 2], seat.facing, atol=1e-12)  # the face looks inwards
        np.testing.assert_allclose(m[:3, 1], [0, 1, 0], atol=1e-12)
        head = m @ [0, 0, 0, 1]
        np.testing.assert_allclose(head[:3], seat.position + np.array([0, 1.2, 0]), atol=1e-12)


MOUTH_INNER = (13, 14, 82, 87, 312, 317)  # the inner lips at the centre and to either side


def test_the_mouth_is_closed_at_rest_and_opens_with_the_jaw(fresh: Stage) -> None:
    rows, cols = _box(fresh, MOUTH_INNER, pad=8)

    def opening(image: npt.NDArray[np.uint8]) -> float:
        """The median height (pixels) of the mouth's dark inside across the lips' middle."""
        dark = image[rows, cols].max(axis=-1) < 80
        return float(np.median(dark.sum(axis=0)))

    closed, slight, opened = fresh.shot(), fresh.shot(jawOpen=0.02), fresh.shot(jawOpen=0.4)
    assert opening(closed) <= 1  # lips together: at most the line between them
    assert opening(slight) <= 2
    assert opening(opened) >= 4  # (the upper teeth take some of it)
    # the open mouth shows teeth, the closed one none (lips cover them)
    teeth = lambda img: (img[rows, cols].min(axis=-1) > 175).sum()  # noqa: E731 - near white
    assert teeth(opened) > 10 and teeth(closed) == 0, (teeth(opened), teeth(closed))


def test_an_avatar_frame_with_hands_draws_them_curled_as_sent(fresh: Stage) -> None:
    from holocall_desktop.model.avatar import HandData
    from holocall_desktop.render.avatar_hands import AvatarHands

    def frame(curl: float, hands: bool = True) -> AvatarFrame:
        hand = HandData(
            wrist_position=np.array([0.1, -0.1, 0.06], np.float32),  # beside the chin
            finger_curl=np.full(5, curl, np.float32),
        )
        return AvatarFrame(0.0, left_hand=hand if hands else None)

    hands = fresh.avatar.hands = AvatarHands(parent=fresh.avatar)
    fresh.view.camera.distance = 1.2  # the head and the hand beside it
    try:
        fresh.avatar.set_frame(frame(0.0, hands=False))
        bare = np.asarray(fresh.canvas.render()[..., :3])
        fresh.avatar.set_frame(frame(0.0))
        open_hand = np.asarray(fresh.canvas.render()[..., :3])
        fresh.avatar.set_frame(frame(1.0))
        fist = np.asarray(fresh.canvas.render()[..., :3])
        wrist = fresh.project([[10.0, -10.0, 6.0]])[0]  # the head's frame is in cm
    finally:
        fresh.avatar.hands = None
        hands.mesh.parent = None
        fresh.view.camera.distance = 0.55
    drawn = _changed(bare, open_hand)
    ys, xs = np.nonzero(drawn)
    assert drawn.sum() > 400, drawn.sum()  # a hand's worth of pixels
    assert abs(xs.mean() - wrist[0]) < 40 and ys.mean() < wrist[1]  # above its wrist
    # fingers straight reach higher than a fist
    fist_ys = np.nonzero(_changed(bare, fist))[0]
    assert fist_ys.min() > ys.min() + 10, (fist_ys.min(), ys.min())
    assert _changed(bare, fist).sum() < drawn.sum()


def test_the_avatar_has_a_neck_and_shoulders_under_its_head(fresh: Stage) -> None:
    from holocall_desktop.render.avatar_body import CLOTH, AvatarBody

    fresh.view.camera.distance = 1.4  # the head and the shoulders
    try:
        fresh.avatar.set_frame(AvatarFrame(0.0))
        bare = np.asarray(fresh.canvas.render()[..., :3])
        body = fresh.avatar.body = AvatarBody(parent=fresh.avatar)
        fresh.avatar.set_frame(AvatarFrame(0.0))
        dressed = np.asarray(fresh.canvas.render()[..., :3])
        mouth = fresh.project([[0.0, -5.0, 4.0]])[0]
        shoulder = fresh.project([[14.0, -20.5, 0.0]])[0]
    finally:
        fresh.avatar.body = None
        for mesh in body.meshes:
            mesh.parent = None
        fresh.view.camera.distance = 0.55
    drawn = _changed(bare, dressed)
    ys, _xs = np.nonzero(drawn)
    assert drawn.sum() > 1500 and ys.min() >= mouth[1]  # all of it below the face's middle
    x, y = (int(v) for v in shoulder)
    cloth = np.round(np.asarray(CLOTH[:3]) * 255)
    assert np.abs(dressed[y, x].astype(int) - cloth).max() < 90, dressed[y, x]  # shirt colour
