"""The avatar visual: a head with 52 ARKit morph targets blended on the GPU, posed and seated.

``AvatarVisual`` uploads the head mesh (``assets/avatar/head.npz``, MediaPipe's canonical face
with eyes, mouth, tongue and skull added) once, plus one float texture holding every
blendshape's per-vertex position and normal deltas (``avatar.rig``). Per frame only the 52
weights (a 52×1 float texture) and the model matrix change; ``shaders/avatar.vert`` does the
blending. The model matrix is ``seat · T(head offset) · R(head rotation) · S(0.01)``: the mesh is
in centimetres facing +z, the seat (a 4x4 transform in room metres) puts it at the table, the
head rotation comes from the ``AvatarFrame`` and the head position, relative to a neutral
position (the first frame's, or ``recenter``), is applied clamped to ±``max_offset`` metres.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from vispy import gloo
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

from holocall_desktop.avatar.mesh import HeadMesh, vertex_normals
from holocall_desktop.avatar.rig import MorphTargets, avatar_rig
from holocall_desktop.model.avatar import NUM_BLENDSHAPES, AvatarFrame, quaternion_to_matrix
from holocall_desktop.model.room import Seat
from holocall_desktop.render.avatar_body import AvatarBody
from holocall_desktop.render.avatar_hands import AvatarHands
from holocall_desktop.resources import shader_source

CM_TO_M = 0.01


class AvatarVisual(Visual):
    """One participant's avatar head.

    ``seat``: 4x4 transform (room metres, column vectors) of the seat; the head faces the seat's
    +z. ``follow_position``: apply head translation relative to the neutral position.
    """

    def __init__(
        self,
        mesh: HeadMesh | None = None,
        targets: MorphTargets | None = None,
        *,
        seat: npt.ArrayLike | None = None,
        follow_position: bool = True,
        max_offset: float = 0.25,
        light_dir: tuple[float, float, float] = (0.35, 0.45, 0.82),
    ) -> None:
        Visual.__init__(
            self, vcode=shader_source("avatar.vert"), fcode=shader_source("avatar.frag")
        )
        if mesh is None or targets is None:
            mesh, targets = avatar_rig(mesh)
        self._mesh, self._targets = mesh, targets
        self.hands: AvatarHands | None = None  # set by whoever gives the avatar hands
        self.body: AvatarBody | None = None  # and a neck and shoulders
        self._draw_mode = "triangles"
        self.set_gl_state("opaque", depth_test=True, cull_face=False)
        n = self._mesh.num_vertices
        vertices = np.zeros(
            n,
            dtype=[
                ("a_position", np.float32, 3),
                ("a_normal", np.float32, 3),
                ("a_color", np.float32, 3),
                ("a_index", np.float32),
            ],
        )
        vertices["a_position"] = self._mesh.positions
        vertices["a_normal"] = vertex_normals(self._mesh.positions, self._mesh.triangles)
        vertices["a_color"] = self._mesh.colors
        vertices["a_index"] = np.arange(n, dtype=np.float32)
        self._vbo = gloo.VertexBuffer(vertices)
        self._index_buffer = gloo.IndexBuffer(self._mesh.triangles.astype(np.uint32))
        # (2S, N, 3): rows 0..S-1 position deltas, S..2S-1 normal deltas
        deltas = np.concatenate(
            [self._targets.position_deltas, self._targets.normal_deltas], axis=0
        ).astype(np.float32)
        self._delta_tex = gloo.Texture2D(
            np.ascontiguousarray(deltas), interpolation="nearest", internalformat="rgb32f"
        )
        self._weights = np.zeros(NUM_BLENDSHAPES, np.float32)
        self._weight_tex = gloo.Texture2D(
            self._weights.reshape(1, NUM_BLENDSHAPES),
            interpolation="nearest",
            internalformat="r32f",
            format="luminance",
        )
        self._seat = np.eye(4)
        self._rotation = np.eye(3)
        self._offset = np.zeros(3)
        self._neutral: npt.NDArray[np.float64] | None = None
        self.follow_position = follow_position
        self.max_offset = float(max_offset)
        self._frame: AvatarFrame | None = None
        p = self.shared_program
        p["a_position"] = self._vbo["a_position"]
        p["a_normal"] = self._vbo["a_normal"]
        p["a_color"] = self._vbo["a_color"]
        p["a_index"] = self._vbo["a_index"]
        p["u_deltas"] = self._delta_tex
        p["u_weights"] = self._weight_tex
        p["u_num_vertices"] = float(n)
        light = np.asarray(light_dir, np.float64)
        p["u_light_dir"] = tuple(float(v) for v in light / np.linalg.norm(light))
        p["u_view_dir"] = (0.0, 0.0, 1.0)
        p["u_opacity"] = 1.0
        if seat is not None:
            self.set_seat(seat)
        self._update_model()
        self.freeze()

    # -- state ---------------------------------------------------------------------------
    @property
    def mesh(self) -> HeadMesh:
        return self._mesh

    @property
    def weights(self) -> npt.NDArray[np.float32]:
        return self._weights.copy()

    @property
    def frame(self) -> AvatarFrame | None:
        return self._frame

    def model_matrix(self) -> npt.NDArray[np.float64]:
        """Avatar local (cm) → visual coordinates (m), column-vector convention."""
        pose = np.eye(4)
        pose[:3, :3] = self._rotation * CM_TO_M
        pose[:3, 3] = self._offset
        return self._seat @ pose

    def set_seat(self, seat: npt.ArrayLike) -> None:
        m = np.asarray(seat, dtype=np.float64).reshape(4, 4)
        if not np.all(np.isfinite(m)):
            raise ValueError("seat transform must be finite")
        self._seat = m
        self._update_model()

    def set_blendshapes(self, weights: npt.ArrayLike) -> None:
        w = np.asarray(weights, dtype=np.float32).reshape(-1)
        if w.shape != (NUM_BLENDSHAPES,):
            raise ValueError(f"expected {NUM_BLENDSHAPES} blendshape weights, got {w.size}")
        self._weights = np.clip(w, 0.0, 1.0)
        self._weight_tex.set_data(self._weights.reshape(1, NUM_BLENDSHAPES))
        self.update()

    def set_head_pose(
        self, rotation_xyzw: npt.ArrayLike, position: npt.ArrayLike | None = None
    ) -> None:
        self._rotation = quaternion_to_matrix(rotation_xyzw)
        if position is not None and self.follow_position:
            pos = np.asarray(position, dtype=np.float64).reshape(3)
            if self._neutral is None:
                self._neutral = pos.copy()
            self._offset = np.clip(pos - self._neutral, -self.max_offset, self.max_offset)
        self._update_model()

    def recenter(self) -> None:
        """Take the next frame's head position as the neutral one."""
        self._neutral = None
        self._offset = np.zeros(3)
        self._update_model()

    def set_frame(self, frame: AvatarFrame) -> None:
        """Show one ``AvatarFrame``: blendshapes and head pose, and its hands when the avatar
        has :attr:`hands` (``render/avatar_hands.py``); its :attr:`body` follows the seat."""
        self._frame = frame
        self.set_head_pose(frame.head_rotation, frame.head_position)
        self.set_blendshapes(frame.blendshapes)
        if self.hands is not None or self.body is not None:
            head = np.eye(4)
            head[:3, 3] = self._offset
            if self.hands is not None:
                self.hands.show(frame, self._seat @ head)
            if self.body is not None:
                self.body.place(self._seat @ head)

    def _update_model(self) -> None:
        # vispy uploads matrices as given; GLSL reads them column-major: pass the transpose.
        self.shared_program["u_model"] = self.model_matrix().T.astype(np.float32)
        self.update()

    # -- vispy hooks ---------------------------------------------------------------------
    def _prepare_transforms(self, view: Any) -> None:
        view.view_program.vert["visual_to_render"] = view.get_transform("visual", "render")

    def _prepare_draw(self, view: Any) -> bool:
        view.view_program["u_view_dir"] = _view_direction(view, self.model_matrix())
        return True

    def _compute_bounds(self, axis: int, view: Any) -> tuple[float, float] | None:
        m = self.model_matrix()
        pts = self._mesh.positions.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
        return float(pts[:, axis].min()), float(pts[:, axis].max())


def seat_matrix(seat: Seat, head_height: float = 1.2) -> npt.NDArray[np.float64]:
    """The 4x4 transform that puts an avatar's head above ``seat``, facing the table centre.

    The avatar's +z (where its face looks) becomes ``seat.facing``, +y stays up, and the head
    centre sits ``head_height`` metres above the seat's floor point.
    """
    forward = np.asarray(seat.facing, dtype=np.float64)
    forward = forward / np.linalg.norm(forward)
    up = np.array([0.0, 1.0, 0.0])
    right = np.cross(up, forward)
    right /= np.linalg.norm(right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = right, np.cross(forward, right), forward
    m[:3, 3] = np.asarray(seat.position, dtype=np.float64) + up * head_height
    return m


def _view_direction(view: Any, model: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Unit vector from the head towards the camera, in visual coordinates (approximate)."""
    try:
        to_render = view.get_transform("visual", "render")
        center = model[:3, 3]
        ndc = np.asarray(to_render.map(np.append(center, 1.0)), dtype=np.float64).ravel()
        ndc = ndc / ndc[3]
        back = view.get_transform("render", "visual")
        near = np.asarray(back.map([ndc[0], ndc[1], -1.0, 1.0]), dtype=np.float64).ravel()
        far = np.asarray(back.map([ndc[0], ndc[1], 1.0, 1.0]), dtype=np.float64).ravel()
        d = near[:3] / near[3] - far[:3] / far[3]
        norm = float(np.linalg.norm(d))
        if np.isfinite(norm) and norm > 0:
            return (float(d[0] / norm), float(d[1] / norm), float(d[2] / norm))
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
        pass
    return (0.0, 0.0, 1.0)


AvatarNode = create_visual_node(AvatarVisual)
"""``AvatarVisual`` as a scene node: ``AvatarNode(parent=view.scene, seat=...)``."""
