"""A synthetic, animated person seen by a simulated RealSense D435: the source that needs no camera.

The scene is ray-cast analytically per pixel with numpy (no per-pixel Python loops): a person
built from ellipsoids (head, nose, ears, torso, shoulders, hips, hands) and capsules (neck, upper
and lower arms, legs) stands about 1.35 m in front of the camera, in front of a back wall
(``WALL_Z`` metres) above a floor (the camera is ``CAMERA_HEIGHT`` metres above it). Every ray is
tested only against the primitives whose projected bounding box covers its pixel; the nearest hit
wins. The background (wall, floor) is static and rendered once.

Animation (a function of the frame time ``t = n / fps`` only): the head turns left/right
(±~29°) and nods slightly, the mouth opens and closes in a talking rhythm (and the open mouth is a
1-2 cm cavity in depth), the eyes blink every 3.2 s, the arms sway back and forth with the elbows
bending, the body sways sideways a little.

Depth noise model (``noise=True``), after Intel's D400 depth-RMS formula
``rms = subpixel · z² / (fx · baseline)`` with ``subpixel = 0.08``, ``baseline = 50 mm``:

- independent Gaussian depth error per pixel with that standard deviation (≈ 6.8 mm at 1.35 m,
  ≈ 49 mm on the wall at 3.6 m at fx=426), quantised to ``depth_units = 0.001`` m;
- the stereo occlusion band: background pixels left of a foreground object are invisible to the
  right imager (depth is referenced to the left imager, as on the D435) and read 0; the band is as
  wide as the disparity difference ``fx·B·(1/z_near − 1/z_far)`` (≈ 10 px person-to-wall);
- silhouette / depth-edge pixels (a jump > 5 cm to a neighbour) drop out with probability 0.5;
- random single-pixel dropouts (0.2 % of the image).

``noise=False`` gives the clean, quantised depth (no noise, no invalid pixels).

Colour is an RGB image with the *same geometry as depth*: ``color_intrinsics`` equal the depth
intrinsics and ``depth_to_color`` is the identity (a perfectly registered colour camera; a real
D435 has a ~15 mm offset, which playback of real recordings exercises). Colour is Lambert-shaded
skin, hair, shirt, trousers, with eyes (blinking), eyebrows and the mouth drawn on the head.

Intrinsics model a D435 depth stream at 848x480 (fx = fy = 426, principal point at the image
centre); other sizes keep the same horizontal field of view.

Deterministic: frame ``n`` depends only on ``(seed, n)`` and the constructor arguments. The seed
picks the noise and the shirt colour.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from holocall_desktop.capture.base import SourceError
from holocall_desktop.capture.pacing import next_frame_index
from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

DEPTH_UNITS = 0.001
#: Simulated stereo baseline (m) and sub-pixel disparity RMS of the noise model.
BASELINE_M = 0.050
SUBPIXEL_RMS = 0.08
#: Camera height above the floor and distance of the back wall (m).
CAMERA_HEIGHT = 1.45
WALL_Z = 3.6
#: Distance of the person's torso centre from the camera (m).
PERSON_Z = 1.35
#: D435 depth focal length at 848 px width.
_FX_AT_848 = 426.0
#: Probability that a depth-edge pixel reads 0, and the random dropout rate.
EDGE_DROPOUT = 0.5
RANDOM_DROPOUT = 0.002
#: A depth jump (m) between neighbours that counts as a depth edge.
EDGE_JUMP_M = 0.05

_LIGHT = np.array([-0.3, -0.5, -1.0], dtype=np.float32)
_LIGHT /= np.linalg.norm(_LIGHT)

# Materials (RGB base colours); index 0 is the background.
_SKIN = (224, 172, 140)
_HAIR = (70, 45, 30)
_TROUSERS = (45, 55, 80)
_SHOES = (30, 30, 30)
_SHIRTS = ((40, 110, 170), (170, 50, 50), (60, 140, 80), (200, 160, 60), (120, 80, 150))
_LIPS = (170, 75, 75)
_MOUTH = (80, 20, 30)
_SCLERA = (240, 240, 235)
_IRIS = (60, 40, 30)


def default_intrinsics(width: int = 848, height: int = 480) -> Intrinsics:
    """D435-like depth intrinsics (same horizontal field of view at every width)."""
    f = _FX_AT_848 * width / 848.0
    return Intrinsics(
        width=width, height=height, fx=f, fy=f, ppx=(width - 1) / 2.0, ppy=(height - 1) / 2.0
    )


def noise_sigma(z_m: float, fx: float) -> float:
    """Standard deviation (m) of the simulated depth error at distance ``z_m`` (m)."""
    return SUBPIXEL_RMS * z_m * z_m / (fx * BASELINE_M)


@dataclass(frozen=True)
class Pose:
    """The animation state of the person at one instant (camera coordinates: x right, y down)."""

    t: float
    head_centre: tuple[float, float, float]
    head_yaw: float
    head_pitch: float
    mouth_open: float
    eyes_closed: bool
    body_x: float
    arm_flex: tuple[float, float]
    elbow_flex: tuple[float, float]
    arm_abduction: tuple[float, float]


@dataclass(frozen=True)
class SyntheticTruth:
    """Ground truth of one synthetic frame, for tests and benchmarks."""

    frame_number: int
    pose: Pose
    #: True where the person (not wall/floor) is the nearest surface.
    person_mask: npt.NDArray[np.bool_]
    #: Noise-free depth in metres (person and background).
    depth_m: F32
    #: Pixel (u, v) of the head's centre, of the nose tip and of the mouth centre.
    head_pixel: tuple[float, float]
    nose_pixel: tuple[float, float]
    mouth_pixel: tuple[float, float]


@dataclass(frozen=True)
class _Ellipsoid:
    centre: F64
    rotation: F64  # world-from-local, columns are the local axes
    radii: F64
    colour: tuple[int, int, int]
    is_head: bool = False


@dataclass(frozen=True)
class _Capsule:
    p0: F64
    p1: F64
    radius: float
    colour: tuple[int, int, int]


def _rot_y(a: float) -> F64:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(a: float) -> F64:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _vec(x: float, y: float, z: float) -> F64:
    return np.array([x, y, z], dtype=np.float64)


def head_rotation(pose: Pose) -> F64:
    """Camera-from-head rotation; positive yaw turns the face towards the image's right (+u)."""
    return _rot_y(-pose.head_yaw) @ _rot_x(pose.head_pitch)


def _height(h: float) -> float:
    """Camera y (down) of a point ``h`` metres above the floor."""
    return CAMERA_HEIGHT - h


def pose_at(t: float, phase: float = 0.0) -> Pose:
    """The person's pose at time ``t`` seconds."""
    tau = 2.0 * math.pi
    body_x = 0.02 * math.sin(tau * t / 6.0 + phase)
    yaw = 0.5 * math.sin(tau * t / 5.0 + phase)
    pitch = 0.08 * math.sin(tau * t / 3.7 + phase)
    syllables = 0.5 * (1.0 + math.sin(tau * 2.2 * t + phase))
    phrases = 0.5 * (1.0 + math.sin(tau * 0.3 * t + phase))
    mouth = float(np.clip(syllables * (0.3 + 0.7 * phrases), 0.0, 1.0))
    eyes_closed = ((t + 0.5 * phase) % 3.2) < 0.15
    swing = 0.28 * math.sin(tau * t / 2.5 + phase)
    flex = (swing, -swing)
    elbow = (
        0.35 + 0.25 * math.sin(tau * t / 2.5 + phase + 0.7),
        0.35 - 0.25 * math.sin(tau * t / 2.5 + phase + 0.7),
    )
    abd = (0.12 + 0.04 * math.sin(tau * t / 3.0), 0.12 + 0.04 * math.cos(tau * t / 3.0))
    head = (body_x, _height(1.63), PERSON_Z + 0.01)
    return Pose(t, head, yaw, pitch, mouth, eyes_closed, body_x, flex, elbow, abd)


def _build_person(pose: Pose, shirt: tuple[int, int, int]) -> list[_Ellipsoid | _Capsule]:
    bx = pose.body_x
    z0 = PERSON_Z
    eye = np.eye(3)
    head_rot = head_rotation(pose)
    hc = np.array(pose.head_centre)
    head_r = _vec(0.078, 0.11, 0.1)

    def on_head(local: tuple[float, float, float]) -> F64:
        return hc + head_rot @ np.array(local)

    prims: list[_Ellipsoid | _Capsule] = [
        _Ellipsoid(hc, head_rot, head_r, _SKIN, is_head=True),
        _Ellipsoid(on_head((0.0, 0.012, -0.094)), head_rot, _vec(0.015, 0.028, 0.024), _SKIN),
        _Ellipsoid(on_head((-0.077, 0.0, 0.005)), head_rot, _vec(0.012, 0.03, 0.02), _SKIN),
        _Ellipsoid(on_head((0.077, 0.0, 0.005)), head_rot, _vec(0.012, 0.03, 0.02), _SKIN),
        _Capsule(
            _vec(bx, _height(1.40), z0 + 0.01), _vec(bx, _height(1.56), z0 + 0.015), 0.05, _SKIN
        ),
        _Ellipsoid(_vec(bx, _height(1.27), z0), eye, _vec(0.2, 0.2, 0.11), shirt),
        _Ellipsoid(_vec(bx, _height(1.08), z0), eye, _vec(0.175, 0.2, 0.105), shirt),
        _Ellipsoid(_vec(bx, _height(0.93), z0), eye, _vec(0.17, 0.14, 0.105), _TROUSERS),
    ]
    for side, sx in ((0, -1.0), (1, 1.0)):
        shoulder = _vec(bx + sx * 0.19, _height(1.39), z0)
        prims.append(_Ellipsoid(shoulder, eye, _vec(0.07, 0.055, 0.065), shirt))
        flex, elbow, abd = pose.arm_flex[side], pose.elbow_flex[side], pose.arm_abduction[side]
        up = _vec(
            sx * math.sin(abd), math.cos(abd) * math.cos(flex), -math.cos(abd) * math.sin(flex)
        )
        fl = flex + elbow
        lo = _vec(sx * math.sin(abd), math.cos(abd) * math.cos(fl), -math.cos(abd) * math.sin(fl))
        s0 = shoulder + _vec(sx * 0.025, 0.02, 0.0)
        elbow_p = s0 + 0.28 * up
        wrist = elbow_p + 0.25 * lo
        prims.append(_Capsule(s0, elbow_p, 0.047, shirt))
        prims.append(_Capsule(elbow_p, wrist, 0.038, _SKIN))
        prims.append(_Ellipsoid(wrist + 0.06 * lo, eye, _vec(0.03, 0.06, 0.045), _SKIN))
        hip = _vec(bx + sx * 0.09, _height(0.88), z0)
        knee = _vec(bx + sx * 0.1, _height(0.5), z0 - 0.01)
        ankle = _vec(bx + sx * 0.1, _height(0.09), z0)
        prims.append(_Capsule(hip, knee, 0.07, _TROUSERS))
        prims.append(_Capsule(knee, ankle, 0.055, _TROUSERS))
        prims.append(
            _Ellipsoid(ankle + _vec(0.0, 0.03, -0.06), eye, _vec(0.05, 0.04, 0.12), _SHOES)
        )
    return prims


class _Renderer:
    """Ray caster for one camera geometry; rays and background are precomputed once."""

    def __init__(self, intr: Intrinsics) -> None:
        self.intr = intr
        w, h = intr.width, intr.height
        self.dx = ((np.arange(w, dtype=np.float64) - intr.ppx) / intr.fx).astype(np.float32)
        self.dy = ((np.arange(h, dtype=np.float64) - intr.ppy) / intr.fy).astype(np.float32)
        self.dd = (self.dx[None, :] ** 2 + self.dy[:, None] ** 2 + 1.0).astype(np.float32)
        self.bg_z, self.bg_rgb = self._background()

    def _background(self) -> tuple[F32, npt.NDArray[np.uint8]]:
        h, w = self.intr.height, self.intr.width
        dy = np.broadcast_to(self.dy[:, None], (h, w))
        dx = np.broadcast_to(self.dx[None, :], (h, w))
        with np.errstate(divide="ignore"):
            z_floor = np.where(dy > 1e-6, CAMERA_HEIGHT / np.maximum(dy, 1e-6), np.inf)
        floor = z_floor < WALL_Z
        z = np.where(floor, z_floor, WALL_Z).astype(np.float32)
        x = dx * z
        y = dy * z
        rgb = np.empty((h, w, 3), dtype=np.float32)
        # Wall: warm off-white, lit from the upper left, with a skirting board and a picture.
        shade = (0.85 + 0.15 * np.clip(1.0 - (x + 1.5) / 6.0, 0, 1) - 0.1 * (y + 1.0) / 3.0)[
            ..., None
        ]
        rgb[:] = np.array([205, 198, 186], dtype=np.float32) * shade
        skirting = (~floor) & (y > CAMERA_HEIGHT - 0.1)
        rgb[skirting] = (235, 235, 230)
        picture = (~floor) & (np.abs(x - 1.1) < 0.35) & (np.abs(y + 0.25) < 0.25)
        frame_edge = picture & ~((np.abs(x - 1.1) < 0.32) & (np.abs(y + 0.25) < 0.22))
        rgb[picture] = np.stack(
            [60 + 80 * (y[picture] + 0.5), 110 + 40 * x[picture], 150 + 0 * x[picture]], -1
        )
        rgb[frame_edge] = (90, 60, 35)
        # Floor: wooden boards.
        boards = (np.floor(x / 0.2).astype(np.int64) % 2).astype(np.float32)
        wood = np.array([150, 105, 65], dtype=np.float32) * (0.85 + 0.15 * boards)[..., None]
        rgb[floor] = (wood * (0.7 + 0.3 * np.clip(z / WALL_Z, 0, 1))[..., None])[floor]
        return z, np.clip(rgb, 0, 255).astype(np.uint8)

    # -- bounding boxes ---------------------------------------------------------------------

    def _bbox(self, centre: F64, radius: float) -> tuple[int, int, int, int] | None:
        """Pixel rectangle (v0, v1, u0, u1) covering a sphere; None when off screen."""
        intr = self.intr
        if centre[2] + radius <= 0.05:
            return None
        if centre[2] - radius <= 0.05:
            return 0, intr.height, 0, intr.width
        corners = centre[None, :] + radius * np.array(
            [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
        )
        u = corners[:, 0] / corners[:, 2] * intr.fx + intr.ppx
        v = corners[:, 1] / corners[:, 2] * intr.fy + intr.ppy
        u0 = max(0, math.floor(u.min()) - 1)
        u1 = min(intr.width, math.ceil(u.max()) + 2)
        v0 = max(0, math.floor(v.min()) - 1)
        v1 = min(intr.height, math.ceil(v.max()) + 2)
        if u0 >= u1 or v0 >= v1:
            return None
        return v0, v1, u0, u1

    # -- primitives -------------------------------------------------------------------------

    def _ellipsoid(self, e: _Ellipsoid, zbuf: F32, rgb: npt.NDArray[np.uint8], pose: Pose) -> None:
        box = self._bbox(e.centre, float(e.radii.max()))
        if box is None:
            return
        v0, v1, u0, u1 = box
        dx = self.dx[u0:u1]
        dy = self.dy[v0:v1]
        rot, r = e.rotation, e.radii
        # Ray (0 + t*d) with d = (dx, dy, 1) in the ellipsoid's unit-sphere space.
        o = (rot.T @ (-e.centre)) / r
        a_c = rot[0, :] / r
        b_c = rot[1, :] / r
        c_c = rot[2, :] / r
        dl = [
            (a_c[i] * dx)[None, :].astype(np.float32)
            + (b_c[i] * dy + c_c[i])[:, None].astype(np.float32)
            for i in range(3)
        ]
        a = dl[0] * dl[0]
        a += dl[1] * dl[1]
        a += dl[2] * dl[2]
        ob_x, ob_y, ob_c = float(o @ a_c), float(o @ b_c), float(o @ c_c)
        half_b = (ob_x * dx).astype(np.float32)[None, :] + (ob_y * dy + ob_c).astype(np.float32)[
            :, None
        ]
        c = float(o @ o) - 1.0
        disc = half_b * half_b - a * np.float32(c)
        with np.errstate(invalid="ignore"):
            t = (-half_b - np.sqrt(disc)) / a
        zsub = zbuf[v0:v1, u0:u1]
        hit = t < zsub  # NaN (no intersection) compares False
        hit &= t > 0.0
        rows, cols = np.nonzero(hit)
        if rows.size == 0:
            return
        th = t[rows, cols]
        pl = np.stack([o[i] + th * dl[i][rows, cols] for i in range(3)], axis=0)  # unit-space point
        n: F32 = (rot @ (pl / r[:, None])).astype(np.float32)
        n /= np.linalg.norm(n, axis=0, keepdims=True)
        if e.is_head:
            base, cavity = self._face(pl, pose)
            th = th + cavity
        else:
            base = np.broadcast_to(np.array(e.colour, dtype=np.float32), (rows.size, 3))
        zsub[rows, cols] = th
        self._shade(rgb[v0:v1, u0:u1], rows, cols, base, n)

    def _capsule(self, c: _Capsule, zbuf: F32, rgb: npt.NDArray[np.uint8]) -> None:
        p0, p1, r = c.p0, c.p1, c.radius
        axis = p1 - p0
        length = float(np.linalg.norm(axis))
        box = self._bbox((p0 + p1) / 2.0, length / 2.0 + r)
        if box is None:
            return
        v0, v1, u0, u1 = box
        ax = axis / length
        dx = self.dx[u0:u1]
        dy = self.dy[v0:v1]
        dd = self.dd[v0:v1, u0:u1]

        def lin(vec: F64) -> F32:  # d . vec for every pixel of the box
            return (vec[0] * dx).astype(np.float32)[None, :] + (vec[1] * dy + vec[2]).astype(
                np.float32
            )[:, None]

        da = lin(ax)
        wa = float(-p0 @ ax)  # (o - p0) . axis with o = 0
        dw = -lin(p0)  # d . (o - p0)
        qa = dd - da * da
        hb = dw - da * np.float32(wa)
        qc = np.float32(float(p0 @ p0) - wa * wa - r * r)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (-hb - np.sqrt(hb * hb - qa * qc)) / qa
            s = np.float32(wa) + t * da
            t[(s < 0.0) | (s > length)] = np.inf
            for p in (p0, p1):  # spherical caps
                dp = lin(p)
                tc = (dp - np.sqrt(dp * dp - dd * np.float32(float(p @ p) - r * r))) / dd
                np.fmin(t, tc, out=t)
        zsub = zbuf[v0:v1, u0:u1]
        hit = t < zsub
        hit &= t > 0.0
        rows, cols = np.nonzero(hit)
        if rows.size == 0:
            return
        th = t[rows, cols]
        pts = np.stack([self.dx[u0 + cols] * th, self.dy[v0 + rows] * th, th], axis=0)
        sa = np.clip(
            ((pts - p0[:, None].astype(np.float32)) * ax[:, None].astype(np.float32)).sum(0),
            0,
            length,
        )
        q = p0[:, None].astype(np.float32) + ax[:, None].astype(np.float32) * sa[None, :]
        n = (pts - q) / np.float32(r)
        zsub[rows, cols] = th
        base = np.broadcast_to(np.array(c.colour, dtype=np.float32), (rows.size, 3))
        self._shade(rgb[v0:v1, u0:u1], rows, cols, base, n)

    @staticmethod
    def _shade(
        rgb: npt.NDArray[np.uint8],
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        base: F32,
        n: F32,
    ) -> None:
        lam = np.clip(_LIGHT @ n, 0.0, 1.0)
        out = base * (0.35 + 0.65 * lam)[:, None]
        rgb[rows, cols] = np.clip(out, 0, 255).astype(np.uint8)

    @staticmethod
    def _face(pl: F32, pose: Pose) -> tuple[F32, F32]:
        """Colour of head points given in the head's unit-sphere coordinates; depth of the mouth."""
        px, py, pz = pl[0], pl[1], pl[2]
        base = np.empty((px.size, 3), dtype=np.float32)
        base[:] = _SKIN
        cavity = np.zeros(px.size, dtype=np.float32)
        front = pz < -0.2
        hair = (py < -0.55) | ((pz > -0.05) & (py < 0.3))
        base[hair] = _HAIR
        for ex in (-0.36, 0.36):
            ey = -0.12
            brow = front & (((px - ex) / 0.17) ** 2 + ((py + 0.32) / 0.04) ** 2 < 1.0)
            base[brow] = _HAIR
            eye = front & (((px - ex) / 0.15) ** 2 + ((py - ey) / 0.085) ** 2 < 1.0)
            if pose.eyes_closed:
                base[eye] = np.array(_SKIN, dtype=np.float32) * 0.8
                lash = eye & (np.abs(py - ey) < 0.02)
                base[lash] = _HAIR
            else:
                base[eye] = _SCLERA
                iris = eye & ((px - ex) ** 2 + (py - ey) ** 2 < 0.06**2)
                base[iris] = _IRIS
                pupil = eye & ((px - ex) ** 2 + (py - ey) ** 2 < 0.025**2)
                base[pupil] = (10, 10, 10)
        half_h = 0.03 + 0.14 * pose.mouth_open
        m = (px / 0.25) ** 2 + ((py - 0.55) / half_h) ** 2
        lips = front & (((px / 0.28) ** 2 + ((py - 0.55) / (half_h + 0.05)) ** 2) < 1.0)
        base[lips] = _LIPS
        inner = front & (m < 1.0) & (pose.mouth_open > 0.05)
        base[inner] = _MOUTH
        cavity[inner] = 0.02 * pose.mouth_open * (1.0 - m[inner])
        return base, cavity

    def render(
        self, prims: list[_Ellipsoid | _Capsule], pose: Pose
    ) -> tuple[F32, npt.NDArray[np.uint8]]:
        zbuf = self.bg_z.copy()
        rgb = self.bg_rgb.copy()
        for p in prims:
            if isinstance(p, _Ellipsoid):
                self._ellipsoid(p, zbuf, rgb, pose)
            else:
                self._capsule(p, zbuf, rgb)
        return zbuf, rgb

    def project(self, p: F64 | tuple[float, float, float]) -> tuple[float, float]:
        x, y, z = (float(c) for c in p)
        return x / z * self.intr.fx + self.intr.ppx, y / z * self.intr.fy + self.intr.ppy


def apply_noise(z: F32, fx: float, rng: np.random.Generator) -> F32:
    """RealSense-like depth: Gaussian error ∝ z², occlusion band, edge and random dropouts.

    Returns metres with 0 for invalid pixels (a new array).
    """
    h, w = z.shape
    sigma = np.float32(SUBPIXEL_RMS / (fx * BASELINE_M)) * z * z
    noisy = rng.standard_normal(size=(h, w), dtype=np.float32)
    noisy *= sigma
    noisy += z
    # Stereo occlusion: pixel u is hidden from the right imager if some pixel to its right lands
    # left of it in the right image (x_right = u - disparity).
    disparity = np.float32(fx * BASELINE_M) / z
    x_right = np.arange(w, dtype=np.float32)[None, :] - disparity
    right_min = np.minimum.accumulate(x_right[:, ::-1], axis=1)[:, ::-1]
    occluded = np.zeros((h, w), dtype=np.bool_)
    occluded[:, :-1] = right_min[:, 1:] < x_right[:, :-1] - 0.25
    # Depth edges: each side of a jump larger than EDGE_JUMP_M.
    jump_h = np.abs(z[:, 1:] - z[:, :-1]) > EDGE_JUMP_M
    jump_v = np.abs(z[1:, :] - z[:-1, :]) > EDGE_JUMP_M
    edge = np.zeros((h, w), dtype=np.bool_)
    edge[:, 1:] |= jump_h
    edge[:, :-1] |= jump_h
    edge[1:, :] |= jump_v
    edge[:-1, :] |= jump_v
    edge_idx = np.flatnonzero(edge)
    drop = edge_idx[rng.random(edge_idx.size) < EDGE_DROPOUT]
    flat = noisy.reshape(-1)
    flat[drop] = 0.0
    n_random = int(rng.poisson(RANDOM_DROPOUT * h * w))
    flat[rng.integers(0, h * w, n_random)] = 0.0
    noisy[occluded] = 0.0
    return noisy


class SyntheticPersonSource:
    """A :class:`~holocall_desktop.capture.base.FrameSource` showing an animated person.

    ``realtime=True`` paces frames with the wall clock (like a camera, it skips frames a slow
    reader missed); ``realtime=False`` hands out frames 0, 1, 2, … as fast as ``read`` is called,
    frame ``n`` having timestamp ``n / fps``. :meth:`frame` renders any frame directly and
    :meth:`truth` gives its ground truth (person mask, head/nose/mouth pixels, pose).
    """

    has_depth = True

    def __init__(
        self,
        width: int = 848,
        height: int = 480,
        fps: float = 30.0,
        realtime: bool = True,
        seed: int = 0,
        noise: bool = True,
    ) -> None:
        if width < 64 or height < 48:
            raise SourceError(f"synthetic source: {width}x{height} is too small (min 64x48)")
        if not fps > 0:
            raise SourceError(f"synthetic source: fps must be positive, got {fps}")
        self._fps = float(fps)
        self.realtime = realtime
        self.seed = int(seed)
        self.noise = noise
        self.intrinsics = default_intrinsics(width, height)
        self._renderer = _Renderer(self.intrinsics)
        self._shirt = _SHIRTS[self.seed % len(_SHIRTS)]
        self._phase = 0.0 if self.seed == 0 else (self.seed * 0.618034 % 1.0) * 2.0 * math.pi
        self._running = False
        self._next = 0
        self._t0 = 0.0

    # -- FrameSource ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        intr = self.intrinsics
        return f"Synthetic person ({intr.width}x{intr.height} @ {self._fps:g} fps)"

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def finished(self) -> bool:
        return False

    def start(self) -> None:
        self._running = True
        self._next = 0
        self._t0 = time.monotonic()

    def stop(self) -> None:
        self._running = False

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        if not self._running:
            raise SourceError("synthetic source: read() before start() or after stop()")
        n = self._next
        if self.realtime:
            due = next_frame_index(self._t0, self._fps, self._next, timeout)
            if due is None:
                return None
            n = due
        self._next = n + 1
        return self.frame(n)

    # -- direct access ----------------------------------------------------------------------

    def pose(self, n: int) -> Pose:
        return pose_at(n / self._fps, self._phase)

    def frame(self, n: int) -> DepthFrame:
        """Frame ``n`` (deterministic for the seed)."""
        pose = self.pose(n)
        z, rgb = self._renderer.render(_build_person(pose, self._shirt), pose)
        if self.noise:
            rng = np.random.default_rng([self.seed, n])
            z = apply_noise(z, self.intrinsics.fx, rng)
        depth = np.rint(z * np.float32(1.0 / DEPTH_UNITS))
        np.clip(depth, 0, 65535, out=depth)
        return DepthFrame(
            depth=depth.astype(np.uint16),
            depth_units=DEPTH_UNITS,
            depth_intrinsics=self.intrinsics,
            timestamp=n / self._fps,
            frame_number=n,
            color=rgb,
            color_intrinsics=self.intrinsics,
            depth_to_color=Extrinsics(),
        )

    def truth(self, n: int) -> SyntheticTruth:
        """Ground truth of frame ``n``: noise-free depth, person mask, key pixel positions."""
        pose = self.pose(n)
        z, _ = self._renderer.render(_build_person(pose, self._shirt), pose)
        mask = z < self._renderer.bg_z - 1e-4
        hc = np.array(pose.head_centre)
        rot = head_rotation(pose)
        nose = hc + rot @ np.array([0.0, 0.012, -0.094 - 0.024])
        mouth = hc + rot @ np.array([0.0, 0.55 * 0.11, -0.1 * math.sqrt(1 - 0.55**2)])
        r = self._renderer
        return SyntheticTruth(
            frame_number=n,
            pose=pose,
            person_mask=mask,
            depth_m=z,
            head_pixel=r.project(hc),
            nose_pixel=r.project(nose),
            mouth_pixel=r.project(mouth),
        )
