"""The avatar's head mesh: MediaPipe's canonical face mesh, opened at eyes and mouth, with
eyeballs, a mouth cavity, teeth, a tongue and a skull added. Stored in ``assets/avatar/head.npz``.

Units are centimetres in MediaPipe's canonical face frame: x towards the subject's left, y up,
z out of the face (the face looks along +z), origin roughly at the centre of the head.

``build_head_asset`` regenerates the file from the ``face_landmarker.task`` bundle
(``python -m holocall_desktop.avatar.mesh build``): the bundle is a zip whose
``geometry_pipeline_metadata_landmarks.binarypb`` holds the canonical mesh (468 vertices with
UVs, 898 triangles) as a protobuf message, read here with a minimal wire-format parser. The
region polylines (eyelids, lips, brows, nose, face oval) come from MediaPipe's
``FaceLandmarksConnections``. ``load_head_mesh`` reads the shipped file with numpy only.
"""

from __future__ import annotations

import argparse
import dataclasses
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

GEOMETRY_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
NUM_FACE_VERTICES = 468

# Parts (``HeadMesh.part``)
PART_FACE = 0
PART_SKULL = 1
PART_EYE_LEFT = 2  # the subject's left eye (+x)
PART_EYE_RIGHT = 3
PART_MOUTH = 4
PART_TONGUE = 5
PART_TEETH_UPPER = 6
PART_TEETH_LOWER = 7  # moves with the jaw

#: Ordered landmark polylines kept in the asset (names → MediaPipe connection list, part).
REGION_NAMES = (
    "left_eye_upper",
    "left_eye_lower",
    "right_eye_upper",
    "right_eye_lower",
    "lips_outer_upper",
    "lips_outer_lower",
    "lips_inner_upper",
    "lips_inner_lower",
    "left_brow",
    "right_brow",
    "nose",
    "face_oval",
)

EYEBALL_RADIUS = 1.2
SKIN = (0.86, 0.69, 0.58)
LIPS = (0.74, 0.42, 0.42)
BROW = (0.32, 0.23, 0.17)
HAIR = (0.27, 0.19, 0.13)
SCLERA = (0.94, 0.94, 0.92)
IRIS = (0.30, 0.20, 0.12)
PUPIL = (0.03, 0.03, 0.03)
CAVITY = (0.30, 0.08, 0.09)
TONGUE = (0.78, 0.38, 0.40)
TEETH = (0.93, 0.91, 0.84)

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class HeadMesh:
    positions: F32  # (N, 3) cm
    uvs: F32  # (N, 2); zero outside the face
    colors: F32  # (N, 3) linear RGB in [0, 1]
    triangles: I32  # (T, 3), counter-clockwise seen from outside
    part: npt.NDArray[np.uint8]  # (N,) PART_*
    regions: dict[str, I32]  # ordered landmark polylines (indices < 468)
    eye_centers: F32  # (2, 3): left, right eyeball centres

    @property
    def num_vertices(self) -> int:
        return int(self.positions.shape[0])

    def normals(self, positions: F32 | None = None) -> F32:
        return vertex_normals(self.positions if positions is None else positions, self.triangles)


def vertex_normals(positions: npt.NDArray[np.floating], triangles: I32) -> F32:
    """Area-weighted unit vertex normals (vectorised)."""
    p = np.asarray(positions, dtype=np.float64)
    t = triangles
    face_n = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    n = np.zeros_like(p)
    for k in range(3):
        np.add.at(n, t[:, k], face_n)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.maximum(length, 1e-12)).astype(np.float32)


# ---------------------------------------------------------------- reading the .task bundle


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message, top level only."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed_or_single_floats(wire: int, value: int | bytes) -> list[float]:
    assert isinstance(value, bytes)
    return [float(v) for v in np.frombuffer(value, dtype="<f4")]


def _packed_or_single_varints(wire: int, value: int | bytes) -> list[int]:
    if wire == 0:
        assert isinstance(value, int)
        return [value]
    assert isinstance(value, bytes)
    out, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(v)
    return out


def read_canonical_mesh(task_path: Path) -> tuple[F32, F32, I32]:
    """(positions (468, 3) cm, uvs (468, 2), triangles (898, 3)) from a face_landmarker.task.

    GeometryPipelineMetadata: field 1 = canonical_mesh (Mesh3d), 2 = procrustes landmark basis,
    3 = input source. Mesh3d: 1 vertex_type (0 = VERTEX_PT: x, y, z, u, v), 2 primitive_type
    (0 = TRIANGLE), 3 vertex_buffer (float), 4 index_buffer (uint32).
    """
    with zipfile.ZipFile(task_path) as zf:
        meta = zf.read(GEOMETRY_MEMBER)
    mesh_msgs = [v for n, w, v in _fields(meta) if n == 1 and w == 2]
    if len(mesh_msgs) != 1 or not isinstance(mesh_msgs[0], bytes):
        raise ValueError("no canonical mesh in the geometry metadata")
    floats: list[float] = []
    indices: list[int] = []
    for number, wire, value in _fields(mesh_msgs[0]):
        if number == 1 and value != 0:
            raise ValueError(f"unexpected vertex type {value!r}")
        if number == 2 and value != 0:
            raise ValueError(f"unexpected primitive type {value!r}")
        if number == 3:
            floats.extend(_packed_or_single_floats(wire, value))
        elif number == 4:
            indices.extend(_packed_or_single_varints(wire, value))
    vertices = np.asarray(floats, dtype=np.float32).reshape(-1, 5)
    triangles = np.asarray(indices, dtype=np.int32).reshape(-1, 3)
    if vertices.shape[0] != NUM_FACE_VERTICES:
        raise ValueError(f"expected {NUM_FACE_VERTICES} vertices, got {vertices.shape[0]}")
    return vertices[:, :3].copy(), vertices[:, 3:].copy(), triangles


def _mediapipe_regions() -> dict[str, I32]:
    from mediapipe.tasks.python.vision import FaceLandmarksConnections as C

    def chain(connections: Sequence[object], start: int, second: int, end: int = -1) -> I32:
        """Walk the connection graph from ``start`` through ``second`` to ``end`` (or round)."""
        nxt: dict[int, list[int]] = {}
        for c in connections:
            a, b = c.start, c.end  # type: ignore[attr-defined]
            nxt.setdefault(a, []).append(b)
            nxt.setdefault(b, []).append(a)
        path = [start, second]
        while True:
            options = [n for n in nxt[path[-1]] if n != path[-2]]
            if path[-1] == end or len(options) != 1 or options[0] in path:
                break
            path.append(options[0])
        return np.asarray(path, dtype=np.int32)

    lips = C.FACE_LANDMARKS_LIPS
    return {
        "left_eye_upper": chain(C.FACE_LANDMARKS_LEFT_EYE, 263, 466, 362),
        "left_eye_lower": chain(C.FACE_LANDMARKS_LEFT_EYE, 263, 249, 362),
        "right_eye_upper": chain(C.FACE_LANDMARKS_RIGHT_EYE, 33, 246, 133),
        "right_eye_lower": chain(C.FACE_LANDMARKS_RIGHT_EYE, 33, 7, 133),
        "lips_outer_upper": chain(lips, 61, 185, 291),
        "lips_outer_lower": chain(lips, 61, 146, 291),
        "lips_inner_upper": chain(lips, 78, 191, 308),
        "lips_inner_lower": chain(lips, 78, 95, 308),
        "left_brow": np.unique(
            [i for c in C.FACE_LANDMARKS_LEFT_EYEBROW for i in (c.start, c.end)]
        ),
        "right_brow": np.unique(
            [i for c in C.FACE_LANDMARKS_RIGHT_EYEBROW for i in (c.start, c.end)]
        ),
        "nose": np.unique([i for c in C.FACE_LANDMARKS_NOSE for i in (c.start, c.end)]),
        "face_oval": chain(C.FACE_LANDMARKS_FACE_OVAL, 10, 338),
    }


# ---------------------------------------------------------------- procedural parts


def _ellipsoid(
    center: Sequence[float], radii: Sequence[float], n_lat: int, n_lon: int
) -> tuple[F32, I32, F32]:
    """UV-sphere ellipsoid: positions, outward CCW triangles, unit directions (sphere space)."""
    theta = np.linspace(0, np.pi, n_lat + 1)  # from +z pole (front) to -z pole
    phi = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    th, ph = np.meshgrid(theta[1:-1], phi, indexing="ij")
    dirs = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(
        -1, 3
    )
    dirs = np.vstack([[0, 0, 1], dirs, [0, 0, -1]])
    pos = np.asarray(center) + dirs * np.asarray(radii)
    tris: list[list[int]] = []
    ring = lambda r, k: 1 + r * n_lon + (k % n_lon)  # noqa: E731
    last = len(dirs) - 1
    for k in range(n_lon):
        tris.append([0, ring(0, k), ring(0, k + 1)])
        tris.append([last, ring(n_lat - 2, k + 1), ring(n_lat - 2, k)])
    for r in range(n_lat - 2):
        for k in range(n_lon):
            a, b, c, d = ring(r, k), ring(r, k + 1), ring(r + 1, k), ring(r + 1, k + 1)
            tris.append([a, c, b])
            tris.append([b, c, d])
    t = np.asarray(tris, dtype=np.int32)
    # make the winding outward whatever the parametrisation's handedness
    p = pos
    n = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    centroid_dir = p[t].mean(axis=1) - np.asarray(center)
    flip = np.einsum("ij,ij->i", n, centroid_dir) < 0
    t[flip] = t[flip][:, ::-1]
    return pos.astype(np.float32), t, dirs.astype(np.float32)


def _face_depth(face: F32, face_tris: I32, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """z of the face surface at each (x, y) (+inf where the face does not cover it)."""
    from scipy.interpolate import LinearNDInterpolator

    interp = LinearNDInterpolator(face[:, :2].astype(np.float64), face[:, 2].astype(np.float64))
    z = np.asarray(interp(xy), dtype=np.float64)
    return np.where(np.isfinite(z), z, np.inf)


def build_head_mesh(task_path: Path) -> HeadMesh:
    positions, uvs, tris = read_canonical_mesh(task_path)
    regions = _mediapipe_regions()
    n_face = positions.shape[0]

    # Open the eyes and the mouth: drop triangles whose corners all lie on one opening's rim.
    openings = [
        np.union1d(regions["left_eye_upper"], regions["left_eye_lower"]),
        np.union1d(regions["right_eye_upper"], regions["right_eye_lower"]),
        np.union1d(regions["lips_inner_upper"], regions["lips_inner_lower"]),
    ]
    keep = np.ones(len(tris), dtype=bool)
    for rim in openings:
        keep &= ~np.isin(tris, rim).all(axis=1)
    face_tris = tris[keep]

    colors = np.tile(np.asarray(SKIN, np.float32), (n_face, 1))
    lip_idx = np.unique(np.concatenate([regions[k] for k in REGION_NAMES if k.startswith("lips")]))
    colors[lip_idx] = LIPS
    for brow in ("left_brow", "right_brow"):
        colors[regions[brow]] = BROW

    parts_pos: list[F32] = [positions]
    parts_tri: list[I32] = [face_tris]
    parts_col: list[F32] = [colors]
    parts_id: list[npt.NDArray[np.uint8]] = [np.full(n_face, PART_FACE, np.uint8)]
    offset = n_face

    def add(pos: F32, tri: I32, col: F32, part: int) -> None:
        nonlocal offset
        parts_pos.append(pos.astype(np.float32))
        parts_tri.append(tri + offset)
        parts_col.append(col.astype(np.float32))
        parts_id.append(np.full(len(pos), part, np.uint8))
        offset += len(pos)

    # Eyeballs behind the lid openings; iris and pupil face +z.
    eye_centers = []
    for side, part in (("left", PART_EYE_LEFT), ("right", PART_EYE_RIGHT)):
        rim = np.union1d(regions[f"{side}_eye_upper"], regions[f"{side}_eye_lower"])
        c = positions[rim].mean(axis=0).astype(np.float64)
        c[2] -= EYEBALL_RADIUS - 0.05
        eye_centers.append(c)
        pos, tri, dirs = _ellipsoid(c, [EYEBALL_RADIUS] * 3, 16, 24)
        cosang = dirs[:, 2]
        col = np.where(
            (cosang > 0.97)[:, None], PUPIL, np.where((cosang > 0.86)[:, None], IRIS, SCLERA)
        )
        add(pos, tri, col, part)

    face_xy_z = lambda p: _face_depth(positions, face_tris, p[:, :2].astype(np.float64))  # noqa: E731

    # Mouth cavity: the back half of an ellipsoid behind the lips, kept behind the face surface.
    inner = np.union1d(regions["lips_inner_upper"], regions["lips_inner_lower"])
    mouth_c = positions[inner].mean(axis=0).astype(np.float64)
    cav_c = mouth_c + np.array([0.0, -0.6, -1.6])
    pos, tri, dirs = _ellipsoid(cav_c, [2.3, 2.0, 1.8], 12, 20)
    back = dirs[:, 2] <= 0.35
    pos, tri = _subset(pos, tri, back)
    pos[:, 2] = np.minimum(pos[:, 2], face_xy_z(pos) - 0.15)
    add(pos, tri, np.tile(np.asarray(CAVITY, np.float32), (len(pos), 1)), PART_MOUTH)

    # Tongue: a flattened ellipsoid resting in the cavity.
    tongue_c = mouth_c + np.array([0.0, -0.7, -1.3])
    pos, tri, _ = _ellipsoid(tongue_c, [1.5, 0.45, 1.5], 8, 16)
    add(pos, tri, np.tile(np.asarray(TONGUE, np.float32), (len(pos), 1)), PART_TONGUE)

    # Teeth: the front of two flat arcs just behind the lips where they meet (the lower one a
    # little further back; it goes with the jaw), kept behind the face surface.
    for dy, dz, part in ((-0.45, -1.15, PART_TEETH_UPPER), (-0.55, -1.3, PART_TEETH_LOWER)):
        pos, tri, dirs = _ellipsoid(mouth_c + np.array([0.0, dy, dz]), [1.9, 0.22, 1.0], 6, 24)
        pos, tri = _subset(pos, tri, dirs[:, 2] >= -0.1)
        pos[:, 2] = np.minimum(pos[:, 2], face_xy_z(pos) - 0.2)
        add(pos, tri, np.tile(np.asarray(TEETH, np.float32), (len(pos), 1)), part)

    # Skull: an ellipsoid pushed behind the face wherever the face covers it.
    pos, tri, dirs = _ellipsoid([0.0, 1.0, -2.2], [7.6, 9.6, 9.2], 18, 32)
    # Behind the eyes and the mouth it must also clear the eyeballs and the cavity, which show
    # through the openings.
    z_face = face_xy_z(pos)
    near_openings = _smooth_box(
        pos, x_half=4.6, y_lo=mouth_c[1] - 3.0, y_hi=eye_centers[0][1] + 1.6
    )
    pos[:, 2] = np.minimum(pos[:, 2], z_face - 0.4 - 4.8 * near_openings)
    hair = (pos[:, 1] > 3.0) | (pos[:, 2] < -5.5)
    col = np.where(hair[:, None], HAIR, SKIN)
    add(pos, tri, col, PART_SKULL)

    all_pos = np.vstack(parts_pos)
    uv_all = np.zeros((len(all_pos), 2), np.float32)
    uv_all[:n_face] = uvs
    return HeadMesh(
        positions=all_pos.astype(np.float32),
        uvs=uv_all,
        colors=np.vstack(parts_col).astype(np.float32),
        triangles=np.vstack(parts_tri).astype(np.int32),
        part=np.concatenate(parts_id),
        regions=regions,
        eye_centers=np.asarray(eye_centers, np.float32),
    )


def _smooth_box(
    pos: npt.NDArray[np.floating], x_half: float, y_lo: float, y_hi: float
) -> npt.NDArray[np.float64]:
    """1 inside |x| < x_half, y_lo < y < y_hi, falling to 0 within 1 cm outside."""
    x, y = np.abs(pos[:, 0]), pos[:, 1]
    fx = np.clip(x_half + 1.0 - x, 0.0, 1.0)
    fy = np.clip(np.minimum(y - y_lo + 1.0, y_hi + 1.0 - y), 0.0, 1.0)
    return np.asarray(fx * fy, dtype=np.float64)


def _subset(pos: F32, tri: I32, keep: npt.NDArray[np.bool_]) -> tuple[F32, I32]:
    """Vertices where ``keep`` and the triangles entirely made of them, re-indexed."""
    remap = np.full(len(pos), -1, np.int64)
    remap[keep] = np.arange(int(keep.sum()))
    tri_keep = keep[tri].all(axis=1)
    return pos[keep].copy(), remap[tri[tri_keep]].astype(np.int32)


# ---------------------------------------------------------------- the asset file


def default_asset_path() -> Path:
    from holocall_desktop.resources import assets_dir

    return assets_dir() / "avatar" / "head.npz"


def save_head_mesh(mesh: HeadMesh, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "positions": mesh.positions,
        "uvs": mesh.uvs,
        "colors": mesh.colors,
        "triangles": mesh.triangles,
        "part": mesh.part,
        "eye_centers": mesh.eye_centers,
    }
    arrays.update({f"region_{k}": v for k, v in mesh.regions.items()})
    np.savez_compressed(path, allow_pickle=False, **arrays)


def seal_lips(mesh: HeadMesh) -> HeadMesh:
    """The head with its lips together at rest.

    MediaPipe's canonical face has its mouth a little open (0.58 cm between the inner lips at
    the centre), so a ``jawOpen`` of 0 would still show an open mouth. The upper lip comes down
    and the lower lip up, each by half the gap at its ``x``, fading out to nothing 1 cm beyond
    the outer lip line; the mouth cavity, teeth and tongue stay where they are.
    """
    p = mesh.positions.astype(np.float64)
    x, y = p[:, 0], p[:, 1]

    def line(region: str) -> npt.NDArray[np.float64]:
        contour = p[mesh.regions[region]]
        order = np.argsort(contour[:, 0])
        return np.interp(x, contour[order, 0], contour[order, 1])

    up_in, lo_in = line("lips_inner_upper"), line("lips_inner_lower")
    up_out, lo_out = line("lips_outer_upper"), line("lips_outer_lower")
    gap = np.clip(up_in - lo_in, 0.0, None)
    mid = 0.5 * (up_in + lo_in)
    w_up = 1.0 - np.clip((y - up_in) / np.maximum(up_out + 1.0 - up_in, 1e-6), 0.0, 1.0)
    w_lo = 1.0 - np.clip((lo_in - y) / np.maximum(lo_in - (lo_out - 1.0), 1e-6), 0.0, 1.0)
    shift = np.where(y >= mid, -0.5 * gap * w_up, 0.5 * gap * w_lo)
    shift *= mesh.part == PART_FACE
    positions = p.copy()
    positions[:, 1] += shift
    return dataclasses.replace(mesh, positions=positions.astype(np.float32))


def load_head_mesh(path: Path | None = None) -> HeadMesh:
    """The shipped head (``assets/avatar/head.npz``) or another file of the same layout, as
    MediaPipe's canonical face has it (the mouth a little open: see :func:`seal_lips`)."""
    with np.load(path or default_asset_path()) as data:
        return HeadMesh(
            positions=data["positions"].astype(np.float32),
            uvs=data["uvs"].astype(np.float32),
            colors=data["colors"].astype(np.float32),
            triangles=data["triangles"].astype(np.int32),
            part=data["part"].astype(np.uint8),
            regions={k: data[f"region_{k}"].astype(np.int32) for k in REGION_NAMES},
            eye_centers=data["eye_centers"].astype(np.float32),
        )


def build_head_asset(task_path: Path | None = None, out: Path | None = None) -> Path:
    from holocall_desktop.avatar.model_files import find_face_model

    mesh = build_head_mesh(task_path or find_face_model())
    target = out or default_asset_path()
    save_head_mesh(mesh, target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m holocall_desktop.avatar.mesh",
        description="Rebuild assets/avatar/head.npz from MediaPipe's face_landmarker.task.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="extract the canonical face mesh and add eyes, mouth, skull")
    p.add_argument("--model", type=Path, help="face_landmarker.task (default: the installed one)")
    p.add_argument("--out", type=Path, help="output .npz (default: assets/avatar/head.npz)")
    args = parser.parse_args(argv)
    path = build_head_asset(args.model, args.out)
    mesh = load_head_mesh(path)
    print(f"wrote {path}: {mesh.num_vertices} vertices, {len(mesh.triangles)} triangles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
