"""The head mesh asset and the 52 geometric morph targets (no GPU needed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from holocall_desktop.avatar.mesh import (
    NUM_FACE_VERTICES,
    PART_EYE_LEFT,
    PART_FACE,
    HeadMesh,
    build_head_mesh,
    load_head_mesh,
)
from holocall_desktop.avatar.model_files import FaceModelError, find_face_model
from holocall_desktop.avatar.rig import MorphTargets, blend, build_morph_targets
from holocall_desktop.model.avatar import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX


@pytest.fixture(scope="module")
def mesh() -> HeadMesh:
    return load_head_mesh()


@pytest.fixture(scope="module")
def targets(mesh: HeadMesh) -> MorphTargets:
    return build_morph_targets(mesh)


def _weights(**scores: float) -> np.ndarray:
    w = np.zeros(len(ARKIT_BLENDSHAPES), np.float32)
    for name, v in scores.items():
        w[BLENDSHAPE_INDEX[name]] = v
    return w


def test_asset_is_the_canonical_face_with_openings(mesh: HeadMesh) -> None:
    assert np.all(mesh.part[:NUM_FACE_VERTICES] == PART_FACE)
    assert np.all(np.isfinite(mesh.positions))
    assert mesh.triangles.max() < mesh.num_vertices
    face_tris = mesh.triangles[np.all(mesh.triangles < NUM_FACE_VERTICES, axis=1)]
    edges = Counter(
        tuple(sorted(e))
        for t in face_tris.tolist()
        for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))
    )
    boundary = sum(1 for c in edges.values() if c == 1)
    # face oval (36 edges) + two eye openings (16 each) + the mouth opening (20)
    assert boundary == 36 + 16 + 16 + 20
    # subject's left is +x: the left eye outer corner (landmark 263) and its eyeball
    assert mesh.positions[263, 0] > 0
    assert mesh.eye_centers[0, 0] > 0
    assert mesh.positions[mesh.part == PART_EYE_LEFT, 0].mean() > 0


def test_shipped_asset_matches_a_rebuild_from_the_model(mesh: HeadMesh) -> None:
    try:
        model = find_face_model()
    except FaceModelError as exc:
        pytest.fail(f"face model not installed: {exc.user_message}")
    rebuilt = build_head_mesh(model)
    np.testing.assert_allclose(rebuilt.positions, mesh.positions, atol=1e-5)
    np.testing.assert_array_equal(rebuilt.triangles, mesh.triangles)
    for key, value in mesh.regions.items():
        np.testing.assert_array_equal(rebuilt.regions[key], value)


def test_every_blendshape_moves_something(targets: MorphTargets) -> None:
    assert targets.position_deltas.shape[0] == 52
    for i, name in enumerate(ARKIT_BLENDSHAPES):
        largest = float(np.linalg.norm(targets.position_deltas[i], axis=1).max())
        assert largest > 0.15, f"{name} barely moves ({largest:.3f} cm)"
    assert np.all(np.isfinite(targets.position_deltas))
    assert np.all(np.isfinite(targets.normal_deltas))


def test_left_and_right_shapes_mirror_each_other(mesh: HeadMesh, targets: MorphTargets) -> None:
    p = mesh.positions.astype(np.float64)
    mirrored = p * [-1.0, 1.0, 1.0]
    # the mirror partner of every vertex (the mesh and the added parts are symmetric)
    d2 = ((mirrored[:, None, :] - p[None, :, :]) ** 2).sum(axis=2)
    partner = d2.argmin(axis=1)
    assert np.sqrt(d2[np.arange(len(p)), partner]).max() < 1e-3
    flip = np.array([-1.0, 1.0, 1.0])
    pairs = [n for n in ARKIT_BLENDSHAPES if n.endswith("Left")]
    assert len(pairs) == 20  # 20 pairs, jawLeft/mouthLeft included
    for left in pairs:
        right = left[: -len("Left")] + "Right"
        dl, dr = targets.delta(left), targets.delta(right)
        np.testing.assert_allclose(dr[partner] * flip, dl, atol=2e-3, err_msg=left)


def test_jaw_open_opens_the_mouth_and_lowers_the_chin(
    mesh: HeadMesh, targets: MorphTargets
) -> None:
    base = mesh.positions
    opened = blend(mesh, targets, _weights(jawOpen=1.0))
    assert base[152, 1] - opened[152, 1] > 1.5  # chin down by more than 1.5 cm
    gap = opened[13, 1] - opened[14, 1]  # upper minus lower inner lip
    assert gap > 2.5
    np.testing.assert_allclose(opened[10], base[10])  # forehead stays
    closed = blend(mesh, targets, _weights(jawOpen=1.0, mouthClose=1.0))
    assert closed[13, 1] - closed[14, 1] < 0.7  # lips back together


def test_blink_closes_the_lids(mesh: HeadMesh, targets: MorphTargets) -> None:
    base = mesh.positions
    assert base[386, 1] - base[374, 1] > 0.5  # left eye open: upper 386 above lower 374
    shut = blend(mesh, targets, _weights(eyeBlinkLeft=1.0))
    assert abs(shut[386, 1] - shut[374, 1]) < 0.1
    np.testing.assert_allclose(shut[159], base[159])  # the right eye stays open


def test_smile_and_frown_move_the_corners(mesh: HeadMesh, targets: MorphTargets) -> None:
    base = mesh.positions
    smile = blend(mesh, targets, _weights(mouthSmileLeft=1.0))
    frown = blend(mesh, targets, _weights(mouthFrownLeft=1.0))
    assert smile[291, 1] > base[291, 1] + 0.3 and smile[291, 0] > base[291, 0]
    assert frown[291, 1] < base[291, 1] - 0.3
    np.testing.assert_allclose(smile[61], base[61])  # right corner untouched


def test_brows_and_gaze(mesh: HeadMesh, targets: MorphTargets) -> None:
    base = mesh.positions
    up = blend(mesh, targets, _weights(browInnerUp=1.0))
    assert up[336, 1] > base[336, 1] + 0.3 and up[107, 1] > base[107, 1] + 0.3
    look = blend(mesh, targets, _weights(eyeLookOutLeft=1.0))
    ball = mesh.part == PART_EYE_LEFT
    front = np.argmax(np.where(ball, mesh.positions[:, 2], -np.inf))  # the pupil's centre
    assert look[front, 0] > base[front, 0] + 0.3  # the left eye looks further left (+x)


def test_blend_clips_weights(mesh: HeadMesh, targets: MorphTargets) -> None:
    over = blend(mesh, targets, _weights(jawOpen=3.0))
    np.testing.assert_allclose(over, blend(mesh, targets, _weights(jawOpen=1.0)), atol=1e-5)
    with pytest.raises(ValueError):
        blend(mesh, targets, np.zeros(51))


def test_asset_path_is_inside_the_repository() -> None:
    from holocall_desktop.avatar.mesh import default_asset_path

    assert default_asset_path().parts[-3:] == ("assets", "avatar", "head.npz")
    assert Path(default_asset_path()).is_file()
