"""Morph targets for the 52 ARKit blendshapes, derived geometrically from the head mesh.

Each blendshape is a per-vertex displacement (centimetres, canonical face frame: x = subject's
left, y up, z out of the face) computed from mesh regions, with smooth falloffs so neighbours
follow; a face is ``base + Σ weight_i · delta_i``. Normal deltas (normals of the fully applied
shape minus the base normals) let a shader relight the deformed face. "Left" is always the
subject's own left (+x). What each shape does (see ``docs/avatar.md`` for the full table):

- jaw: ``jawOpen`` rotates the lower face (lower lip, chin, jaw line; weight from the mouth line
  down, fading towards the ears) 16° about a hinge axis along x behind the cheeks, plus a 0.6 cm
  forward slide; the lower half of the mouth cavity, the lower teeth and the tongue go with it.
  ``jawForward``/``jawLeft``/``jawRight`` translate the same region. ``mouthClose`` undoes
  ``jawOpen`` on the lips (lips together, jaw open).
- eyes: lids are the ordered upper/lower eyelid contours. ``eyeBlink*`` moves the upper lid (and
  skin up to 1 cm above it) down by the local lid gap; ``eyeSquint*`` lifts the lower lid;
  ``eyeWide*`` raises the upper lid; ``eyeLook*`` rotate the eyeball (25° sideways, 20° up/down)
  and move the upper lid with the gaze for up/down.
- brows: ``browDown*`` lowers and pulls in the brow region, ``browInnerUp`` raises both inner
  halves, ``browOuterUp*`` one outer half.
- mouth: corners (landmarks 291 left, 61 right) are pulled up/out/back (``mouthSmile*``), down
  (``mouthFrown*``), back (``mouthDimple*``), out (``mouthStretch*``); lips move by lip loop:
  ``mouthPress*``, ``mouthLowerDown*``, ``mouthUpperUp*``, ``mouthRoll*``, ``mouthShrug*``;
  the whole mouth shifts (``mouthLeft``/``mouthRight``), narrows and pushes out
  (``mouthPucker``, ``mouthFunnel`` which also opens the lips).
- cheeks and nose: ``cheekPuff`` inflates both cheeks, ``cheekSquint*`` raises a cheek,
  ``noseSneer*`` lifts a nostril wing.
- ``tongueOut`` slides the tongue out of the mouth and down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from holocall_desktop.avatar.mesh import (
    PART_EYE_LEFT,
    PART_EYE_RIGHT,
    PART_FACE,
    PART_MOUTH,
    PART_TEETH_LOWER,
    PART_TONGUE,
    HeadMesh,
    load_head_mesh,
    seal_lips,
    vertex_normals,
)
from holocall_desktop.model.avatar import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, NUM_BLENDSHAPES

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

JAW_OPEN_DEGREES = 16.0
JAW_SLIDE_CM = 0.6  # the condyle slides forward as the jaw opens
EYE_YAW_DEGREES = 25.0
EYE_PITCH_DEGREES = 20.0
# Landmarks of the canonical mesh used as anchors.
LM_MOUTH_CORNER_LEFT = 291
LM_MOUTH_CORNER_RIGHT = 61
LM_UPPER_LIP_TOP = 0
LM_LOWER_LIP_BOTTOM = 17
LM_CHIN = 152


@dataclass(frozen=True)
class MorphTargets:
    names: tuple[str, ...]
    position_deltas: F32  # (52, N, 3) cm
    normal_deltas: F32  # (52, N, 3)

    def delta(self, name: str) -> F32:
        return self.position_deltas[BLENDSHAPE_INDEX[name]]


def _smoothstep(e0: float | F64, e1: float | F64, x: F64) -> F64:
    t = np.clip((x - e0) / (np.asarray(e1) - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _blob(p: F64, center: npt.ArrayLike, radius: float) -> F64:
    d2 = np.sum((p - np.asarray(center, dtype=np.float64)) ** 2, axis=1) / (radius * radius)
    return np.clip(1.0 - d2, 0.0, 1.0) ** 2


def _near(p: F64, anchors: F64, radius: float) -> F64:
    """Max of ``_blob`` over several anchors."""
    d2 = np.sum((p[:, None, :] - anchors[None, :, :]) ** 2, axis=2) / (radius * radius)
    return np.max(np.clip(1.0 - d2, 0.0, 1.0) ** 2, axis=1)


def _rotation_x(deg: float) -> F64:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rotation_y(deg: float) -> F64:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rotate_about(p: F64, center: F64, rot: F64) -> F64:
    """Displacement of points ``p`` rotated by ``rot`` about ``center``."""
    rel = p - center
    return rel @ rot.T - rel


def _interp_contour(x: F64, contour: F64) -> F64:
    """y of an eyelid/lip contour (ordered points) at ``x`` (clamped at its ends)."""
    order = np.argsort(contour[:, 0])
    return np.interp(x, contour[order, 0], contour[order, 1])


def avatar_rig(mesh: HeadMesh | None = None) -> tuple[HeadMesh, MorphTargets]:
    """The head as it is drawn, with its lips together at rest (:func:`seal_lips`), and its 52
    morph targets. The targets are derived from the canonical face (``mesh``, the shipped one by
    default), whose parted lips tell the upper lip from the lower; the deltas apply unchanged
    to the sealed head."""
    raw = mesh or load_head_mesh()
    return seal_lips(raw), build_morph_targets(raw)


def build_morph_targets(mesh: HeadMesh) -> MorphTargets:
    p = mesh.positions.astype(np.float64)
    n = len(p)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    face = (mesh.part == PART_FACE).astype(np.float64)
    r = mesh.regions
    d: dict[str, F64] = {name: np.zeros((n, 3)) for name in ARKIT_BLENDSHAPES}

    def vec(*v: float) -> F64:
        return np.asarray(v, dtype=np.float64)

    # ------------------------------------------------------------------ lips and jaw
    inner_up, inner_lo = p[r["lips_inner_upper"]], p[r["lips_inner_lower"]]
    mouth_center = np.vstack([inner_up, inner_lo]).mean(axis=0)
    mouth_line = 0.5 * (_interp_contour(x, inner_up) + _interp_contour(x, inner_lo))
    outer_up, outer_lo = p[r["lips_outer_upper"]], p[r["lips_outer_lower"]]
    # Lip bodies: every face vertex between a lip's inner and outer contour (the contours and
    # the rings of vertices between them), corners excluded.
    inner_corner_x = float(np.abs(inner_up[:, 0]).max())
    between = (np.abs(x) < inner_corner_x - 0.05) & (face > 0)
    upper_body = between & (y >= _interp_contour(x, inner_up) - 0.05)
    upper_body &= y <= _interp_contour(x, outer_up) + 0.05
    lower_body = between & (y <= _interp_contour(x, inner_lo) + 0.05)
    lower_body &= y >= _interp_contour(x, outer_lo) - 0.05
    upper_lip = np.maximum(
        upper_body.astype(np.float64), 0.5 * _blob(p, p[LM_UPPER_LIP_TOP], 1.2) * face
    )
    lower_lip = np.maximum(
        lower_body.astype(np.float64), 0.5 * _blob(p, p[LM_LOWER_LIP_BOTTOM], 1.2) * face
    )

    half_mouth = abs(float(p[LM_MOUTH_CORNER_LEFT, 0]))
    jaw_w = _smoothstep(mouth_line - 0.15, mouth_line - 1.6, y)
    jaw_w *= 1.0 - 0.5 * _smoothstep(half_mouth, 7.7, np.abs(x))  # less towards the ears
    jaw_w *= _smoothstep(-2.5, 1.0, z)
    jaw_w = np.maximum(jaw_w, lower_lip)
    jaw_w = np.where(upper_lip >= 1.0, 0.0, jaw_w)
    jaw_w *= face
    cavity = (mesh.part == PART_MOUTH).astype(np.float64)
    tongue = (mesh.part == PART_TONGUE).astype(np.float64)
    lower_teeth = (mesh.part == PART_TEETH_LOWER).astype(np.float64)  # they go with the jaw
    jaw_w += cavity * _smoothstep(mouth_center[1] + 0.2, mouth_center[1] - 1.0, y) + tongue
    jaw_w += lower_teeth

    hinge = vec(0.0, -1.5, -6.0)
    jaw_open = _rotate_about(p, hinge, _rotation_x(JAW_OPEN_DEGREES)) + vec(0, 0, JAW_SLIDE_CM)
    d["jawOpen"] = jaw_open * jaw_w[:, None]
    d["jawForward"] = jaw_w[:, None] * vec(0, 0, 0.6)
    d["jawLeft"] = jaw_w[:, None] * vec(0.8, 0, 0)
    d["jawRight"] = jaw_w[:, None] * vec(-0.8, 0, 0)
    d["mouthClose"] = -d["jawOpen"] * lower_lip[:, None] + upper_lip[:, None] * vec(0, -0.1, 0)

    mouth_w = _blob(p, mouth_center, 3.2) * face
    d["mouthLeft"] = mouth_w[:, None] * vec(0.7, 0, 0)
    d["mouthRight"] = mouth_w[:, None] * vec(-0.7, 0, 0)
    narrow = np.stack([-(x - mouth_center[0]), np.zeros(n), np.ones(n)], axis=1)
    d["mouthPucker"] = (
        _blob(p, mouth_center, 3.0)[:, None] * face[:, None] * narrow * vec(0.4, 0, 0.55)
    )
    d["mouthFunnel"] = (
        _blob(p, mouth_center, 3.0)[:, None] * face[:, None] * narrow * vec(0.25, 0, 0.45)
        + upper_lip[:, None] * vec(0, 0.25, 0)
        + lower_lip[:, None] * vec(0, -0.3, 0)
    )
    d["mouthRollLower"] = lower_lip[:, None] * vec(0, 0.15, -0.35)
    d["mouthRollUpper"] = upper_lip[:, None] * vec(0, -0.15, -0.35)
    chin_mid = 0.5 * (p[LM_LOWER_LIP_BOTTOM] + p[LM_CHIN])
    d["mouthShrugLower"] = lower_lip[:, None] * vec(0, 0.25, 0.1) + (
        _blob(p, chin_mid, 2.2) * face
    )[:, None] * vec(0, 0.3, 0.15)
    d["mouthShrugUpper"] = upper_lip[:, None] * vec(0, 0.25, 0.08)

    for side, sign, corner_id in (
        ("Left", 1.0, LM_MOUTH_CORNER_LEFT),
        ("Right", -1.0, LM_MOUTH_CORNER_RIGHT),
    ):
        corner = p[corner_id]
        side_w = _smoothstep(-0.5, 1.5, sign * x)
        near_corner = lambda radius, c=corner: _blob(p, c, radius)[:, None] * face[:, None]  # noqa: E731
        d[f"mouthSmile{side}"] = near_corner(2.2) * vec(0.45 * sign, 0.55, -0.25) + (
            _blob(p, corner + vec(0.9 * sign, 1.8, 0), 2.4) * face
        )[:, None] * vec(0.05 * sign, 0.3, 0.2)
        d[f"mouthFrown{side}"] = near_corner(2.2) * vec(0.05 * sign, -0.5, 0)
        d[f"mouthDimple{side}"] = near_corner(1.6) * vec(0.3 * sign, 0, -0.35)
        d[f"mouthStretch{side}"] = near_corner(2.2) * vec(0.55 * sign, -0.2, -0.1)
        d[f"mouthPress{side}"] = side_w[:, None] * (
            upper_lip[:, None] * vec(0, -0.15, -0.05) + lower_lip[:, None] * vec(0, 0.15, -0.05)
        )
        d[f"mouthLowerDown{side}"] = (side_w * lower_lip)[:, None] * vec(0, -0.45, 0.05)
        d[f"mouthUpperUp{side}"] = (side_w * upper_lip)[:, None] * vec(0, 0.4, 0.05)

        # cheeks and nose (anchors snapped onto the face surface)
        def on_face(target: F64) -> F64:
            candidates = np.where(face > 0)[0]
            return p[candidates[np.argmin(np.sum((p[candidates] - target) ** 2, axis=1))]]

        cheek = on_face(vec(4.3 * sign, -2.6, 5.0))
        d["cheekPuff"] += (_blob(p, cheek, 3.0) * face)[:, None] * vec(0.45 * sign, -0.05, 0.35)
        squint_c = on_face(vec(3.8 * sign, -0.3, 5.0))
        d[f"cheekSquint{side}"] = (_blob(p, squint_c, 2.0) * face)[:, None] * vec(0, 0.35, 0.1)
        wing = on_face(vec(1.6 * sign, -2.1, 6.0))
        d[f"noseSneer{side}"] = (_blob(p, wing, 1.4) * face)[:, None] * vec(0, 0.3, 0.05) + (
            side_w * upper_lip
        )[:, None] * vec(0, 0.1, 0)

    # ------------------------------------------------------------------ eyes
    for side, sign, part, key in (
        ("Left", 1.0, PART_EYE_LEFT, "left"),
        ("Right", -1.0, PART_EYE_RIGHT, "right"),
    ):
        up_c, lo_c = p[r[f"{key}_eye_upper"]], p[r[f"{key}_eye_lower"]]
        x0, x1 = float(up_c[:, 0].min()), float(up_c[:, 0].max())
        cx, half = 0.5 * (x0 + x1), 0.5 * (x1 - x0)
        y_up = _interp_contour(x, up_c)
        y_lo = _interp_contour(x, lo_c)
        gap = np.maximum(y_up - y_lo, 0.0)
        taper = (1.0 - _smoothstep(0.9 * half, 1.3 * half, np.abs(x - cx))) * face
        upper_w = taper * np.clip(1.0 - (y - y_up) / 1.0, 0.0, 1.0) * (y >= y_up - 0.05)
        lower_w = taper * np.clip(1.0 - (y_lo - y) / 0.8, 0.0, 1.0) * (y <= y_lo + 0.05)
        d[f"eyeBlink{side}"] = upper_w[:, None] * np.stack(
            [np.zeros(n), -1.0 * gap, 0.15 * np.ones(n)], axis=1
        ) + (lower_w * gap)[:, None] * vec(0, 0.03, 0)
        d[f"eyeSquint{side}"] = (lower_w * gap)[:, None] * vec(0, 0.35, 0.02) + (upper_w * gap)[
            :, None
        ] * vec(0, -0.1, 0)
        d[f"eyeWide{side}"] = upper_w[:, None] * vec(0, 0.3, 0)

        ball = mesh.part == part
        center = mesh.eye_centers[0 if key == "left" else 1].astype(np.float64)

        def gaze(rot: F64, ball: npt.NDArray[np.bool_] = ball, center: F64 = center) -> F64:
            out = np.zeros((n, 3))
            out[ball] = _rotate_about(p[ball], center, rot)
            return out

        inward = -sign  # towards the nose
        d[f"eyeLookIn{side}"] = gaze(_rotation_y(EYE_YAW_DEGREES * inward))
        d[f"eyeLookOut{side}"] = gaze(_rotation_y(-EYE_YAW_DEGREES * inward))
        d[f"eyeLookUp{side}"] = gaze(_rotation_x(-EYE_PITCH_DEGREES)) + upper_w[:, None] * vec(
            0, 0.12, 0
        )
        d[f"eyeLookDown{side}"] = gaze(_rotation_x(EYE_PITCH_DEGREES)) + (upper_w * gap)[
            :, None
        ] * vec(0, -0.3, 0)

    # ------------------------------------------------------------------ brows
    brow_w: dict[str, tuple[F64, F64]] = {}
    for side, key in (("Left", "left_brow"), ("Right", "right_brow")):
        pts = p[r[key]]
        w = _near(p, pts, 1.4) * face
        ax = np.abs(pts[:, 0])
        outer_t = np.clip((np.abs(x) - ax.min()) / (ax.max() - ax.min()), 0.0, 1.0)
        brow_w[side] = (w, outer_t)
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        w, outer_t = brow_w[side]
        d[f"browDown{side}"] = w[:, None] * vec(-0.15 * sign, -0.45, -0.05)
        d[f"browOuterUp{side}"] = (w * outer_t)[:, None] * vec(0, 0.55, 0)
        d["browInnerUp"] += (w * (1.0 - outer_t))[:, None] * vec(0, 0.6, 0.05)

    # ------------------------------------------------------------------ tongue
    tz = z[tongue > 0]
    front = _smoothstep(float(tz.min()), float(tz.max()), z) * tongue
    d["tongueOut"] = (tongue * (0.4 + 0.6 * front))[:, None] * vec(0, 0.2, 2.2)

    deltas = np.stack([d[name] for name in ARKIT_BLENDSHAPES]).astype(np.float32)
    base_n = vertex_normals(p, mesh.triangles)
    normal_deltas = np.stack(
        [vertex_normals(p + deltas[i], mesh.triangles) - base_n for i in range(NUM_BLENDSHAPES)]
    ).astype(np.float32)
    return MorphTargets(ARKIT_BLENDSHAPES, deltas, normal_deltas)


def blend(mesh: HeadMesh, targets: MorphTargets, weights: npt.ArrayLike) -> F32:
    """CPU reference of what the shader does: base + Σ w_i · delta_i, shape (N, 3)."""
    w = np.clip(np.asarray(weights, dtype=np.float32).reshape(NUM_BLENDSHAPES), 0.0, 1.0)
    return mesh.positions + np.tensordot(w, targets.position_deltas, axes=1)
