"""The shared 3-D room: a floor, a round table, and one hologram per participant at its seat.

``HoloScene`` owns a vispy ``SceneCanvas``; the Qt window embeds ``scene.canvas.native`` (this
module never imports Qt). Room coordinates: metres, right-handed, y up (see ``model.room``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from vispy import gloo, scene
from vispy.geometry import create_cylinder
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual
from vispy.visuals.transforms import MatrixTransform

from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.model.room import RoomLayout, Seat, capture_to_room
from holocall_desktop.render.avatar import seat_matrix
from holocall_desktop.render.hologram import Hologram

BACKGROUND = (0.07, 0.08, 0.11, 1.0)
# Front view: the turntable azimuth that puts the eye on +z looking towards -z.
FRONT_AZIMUTH = 90.0


class _ClearDepthVisual(Visual):
    """Clears the depth buffer when drawn: a picture-in-picture view drawn after the room must
    not be hidden by the room's depth values (its own camera's depths are not comparable)."""

    def __init__(self) -> None:
        Visual.__init__(
            self, vcode="void main() { gl_Position = vec4(0.0); }", fcode="void main() {}"
        )

    def draw(self) -> None:
        gloo.clear(color=False, depth=True, stencil=False)

    def _prepare_transforms(self, view: Any) -> None:
        return None


_ClearDepth = create_visual_node(_ClearDepthVisual)

#: seconds for a participant to materialise (or dissolve) with the scan-line reveal
REVEAL_SECONDS = 0.8


@dataclass
class Participant:
    pid: str
    name: str
    seat_index: int
    node: Hologram
    label: scene.visuals.Text
    capture_distance: float
    reveal_target: float = 1.0  # 1 = present, 0 = leaving (removed once dissolved)
    avatar: Any = None  # an AvatarNode once avatar frames arrived
    shows_avatar: bool = False  # avatar mode: the head instead of the hologram
    placement: Seat | None = None  # where its anchor_sync put it, instead of its seat


class HoloScene:
    def __init__(
        self,
        size: tuple[int, int] = (1024, 640),
        layout: RoomLayout | None = None,
        show_room: bool = True,
        show: bool = False,
        grid_step: int = 1,
        splat: float = 2.0,
    ) -> None:
        self.layout = layout or RoomLayout()
        self.canvas = scene.SceneCanvas(size=size, bgcolor=BACKGROUND, show=show, keys=None)
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.TurntableCamera(up="+y", fov=50.0)
        self.reset_camera()
        self._grid_step = grid_step
        self._splat = splat
        self.participants: dict[str, Participant] = {}
        self._seat_count: int | None = None
        self._self_view: scene.widgets.ViewBox | None = None
        self._self_node: Hologram | None = None
        self._self_avatar: Any = None
        self.canvas.events.resize.connect(self._layout_self_view)
        self._room_nodes: list[scene.visuals.VisualNode] = []
        if show_room:
            self._build_room()

    # -- room ------------------------------------------------------------------------------
    def _build_room(self) -> None:
        lay = self.layout
        floor_r = lay.seat_distance + 1.2
        floor = _disc_mesh(floor_r, 64, y=0.0, color=(0.16, 0.17, 0.21, 1.0))
        table_geom = create_cylinder(
            rows=2, cols=64, radius=(lay.table_radius, lay.table_radius), length=0.04
        )
        table = scene.visuals.Mesh(
            meshdata=table_geom, color=(0.45, 0.33, 0.24, 1.0), shading="smooth"
        )
        # create_cylinder builds along +z: stand it up and lift it to table height
        table.transform = MatrixTransform()
        table.transform.rotate(-90, (1, 0, 0))
        table.transform.translate((0, lay.table_height - 0.04, 0))
        top = _disc_mesh(lay.table_radius, 64, y=lay.table_height, color=(0.36, 0.26, 0.19, 1.0))
        grid_lines = _floor_grid(floor_r, 0.5)
        grid = scene.visuals.Line(pos=grid_lines, connect="segments", color=(0.3, 0.32, 0.38, 1.0))
        floor.order = -2  # drawn first, so the grid lines on it stay visible
        grid.order = -1
        for node in (floor, grid, table, top):
            node.parent = self.view.scene
            self._room_nodes.append(node)

    def reset_camera(self) -> None:
        """The viewer's default eye: behind seat 0 looking across the table."""
        cam = self.view.camera
        cam.center = (0.0, 1.1, -0.6)
        cam.distance = 2.3
        cam.elevation = 6.0
        cam.azimuth = FRONT_AZIMUTH
        cam.fov = 50.0
        # near/far ratio of the projection: vispy's default (1e6) leaves too few depth-buffer
        # bits at room scale and the table top z-fights; the room is a few metres across.
        cam.depth_value = 200.0

    # -- participants ----------------------------------------------------------------------
    def add_participant(
        self,
        pid: str,
        name: str = "",
        seat_index: int | None = None,
        capture_distance: float = 1.3,
        animate: bool = False,
    ) -> Participant:
        """Put a participant at a seat; with ``animate`` they materialise from the feet up once
        their first frame arrives (see :meth:`animate`)."""
        if pid in self.participants:
            part = self.participants[pid]
            part.reveal_target = 1.0
            return part
        used = {p.seat_index for p in self.participants.values()}
        if seat_index is None:
            free = [i for i in range(1, self.layout.max_seats) if i not in used]
            if not free:
                raise ValueError(f"the table is full ({self.layout.max_seats} seats)")
            seat_index = free[0]
        node = Hologram(parent=self.view.scene, grid_step=self._grid_step, splat=self._splat)
        node.set_reveal(0.0 if animate else 1.0)
        label = scene.visuals.Text(
            name,
            color="white",
            font_size=11,
            anchor_x="center",
            anchor_y="bottom",
            parent=self.view.scene,
        )
        part = Participant(pid, name, seat_index, node, label, capture_distance)
        self.participants[pid] = part
        self._place_all()
        return part

    def remove_participant(self, pid: str, animate: bool = False) -> None:
        """Take a participant away; with ``animate`` they dissolve first."""
        part = self.participants.get(pid)
        if part is None:
            return
        if animate and part.node.frame is not None and part.node.reveal > 0.0:
            part.reveal_target = 0.0
            self.canvas.update()
            return
        del self.participants[pid]
        part.node.parent = None
        part.label.parent = None
        if part.avatar is not None:
            part.avatar.parent = None
        self._place_all()

    def set_name(self, pid: str, name: str) -> None:
        part = self.participants[pid]
        part.name = name
        part.label.text = name

    def set_highlight(self, pid: str, on: bool) -> None:
        """Mark the participant who is talking (their name turns bright yellow)."""
        self.participants[pid].label.color = (1.0, 0.85, 0.3, 1.0) if on else "white"

    def set_seat(self, pid: str, seat_index: int) -> None:
        self.participants[pid].seat_index = seat_index
        self._place_all()

    def set_seat_count(self, count: int | None) -> None:
        """Fix the number of places at the table (a call: everyone in the room); ``None`` =
        just enough for the viewer and the participants shown."""
        self._seat_count = count
        self._place_all()

    def set_frame(self, pid: str, frame: DepthFrame) -> None:
        self.participants[pid].node.set_frame(frame)
        self.canvas.update()

    def set_avatar_frame(self, pid: str, frame: AvatarFrame) -> None:
        """Pose the participant's avatar head (made on the first frame) from ``frame``."""
        part = self.participants[pid]
        if part.avatar is None:
            part.avatar = _new_avatar(self.view.scene)
            part.avatar.visible = part.shows_avatar
            self._place_all()
        part.avatar.set_frame(frame)
        self.canvas.update()

    def use_avatar(self, pid: str, on: bool) -> None:
        """Show the participant as an avatar (True) or as a hologram (False)."""
        part = self.participants[pid]
        part.shows_avatar = on
        part.node.visible = not on
        if part.avatar is not None:
            part.avatar.visible = on
        self.canvas.update()

    def hologram(self, pid: str) -> Hologram:
        return self.participants[pid].node

    def animate(self, dt: float) -> bool:
        """Advance join/leave reveals by ``dt`` seconds; True while something is moving."""
        moving = False
        step = dt / REVEAL_SECONDS
        for pid, part in list(self.participants.items()):
            node = part.node
            if node.frame is None or node.reveal == part.reveal_target:
                continue
            if part.reveal_target > node.reveal:
                node.set_reveal(min(part.reveal_target, node.reveal + step))
            else:
                node.set_reveal(max(part.reveal_target, node.reveal - step))
            if part.reveal_target == 0.0 and node.reveal == 0.0:
                self.remove_participant(pid)
            elif node.reveal != part.reveal_target:
                moving = True
        return moving

    def seat_count(self) -> int:
        """Seats around the table: fixed for a call, else the viewer plus every participant."""
        highest = max((p.seat_index for p in self.participants.values()), default=0)
        if self._seat_count is not None:
            # a participant still dissolving keeps its seat until it is gone
            return max(self._seat_count, 2, highest + 1)
        return max(2, len(self.participants) + 1, highest + 1)

    def seat_position(self, pid: str) -> npt.NDArray[np.float64]:
        """Room position (metres) of a participant's seat, head height: where their voice is."""
        return self.seat_of(pid).position + np.array([0.0, 1.25, 0.0])

    def seat_of(self, pid: str) -> Seat:
        """Where a participant is: its anchor's place (:meth:`set_placement`), else its seat."""
        part = self.participants[pid]
        if part.placement is not None:
            return part.placement
        return self.layout.seat(part.seat_index, self.seat_count())

    def set_placement(self, pid: str, seat: Seat | None) -> None:
        """Put a participant where its ``anchor_sync`` says (None: back at its seat)."""
        self.participants[pid].placement = seat
        self._place_all()

    def _place_all(self) -> None:
        for pid, part in self.participants.items():
            seat = self.seat_of(pid)
            m = capture_to_room(seat, capture_distance=part.capture_distance)
            part.node.transform = MatrixTransform(m.T.astype(np.float32))
            part.label.pos = (seat.position[0], 1.85, seat.position[2])
            if part.avatar is not None:
                part.avatar.set_seat(seat_matrix(seat))
        self.canvas.update()

    # -- self-view -------------------------------------------------------------------------
    def set_self_frame(self, frame: DepthFrame | None) -> None:
        """Show the local participant in a mirrored picture-in-picture corner (None hides it)."""
        if frame is None:
            self._close_self_view()
            return
        if self._self_view is None:
            self._build_self_view()
        assert self._self_node is not None and self._self_view is not None
        if not self._self_node.visible or self._self_node.frame is None:
            self._frame_self_view(center_y=1.2, distance=1.7)
        self._self_node.visible = True
        if self._self_avatar is not None:
            self._self_avatar.visible = False
        self._self_node.set_frame(frame)
        self.canvas.update()

    def set_self_avatar(self, frame: AvatarFrame | None) -> None:
        """Show the local participant's own avatar in the corner (None hides the corner)."""
        if frame is None:
            self._close_self_view()
            return
        if self._self_view is None:
            self._build_self_view()
        assert self._self_view is not None and self._self_node is not None
        if self._self_avatar is None:
            self._self_avatar = _new_avatar(self._self_view.scene)
            facing_viewer = Seat(index=0, position=np.zeros(3), facing=np.array([0.0, 0.0, 1.0]))
            mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
            self._self_avatar.set_seat(mirror @ seat_matrix(facing_viewer, head_height=1.45))
        if self._self_node.visible or not self._self_avatar.visible:
            self._frame_self_view(center_y=1.45, distance=0.55)  # head and shoulders
        self._self_node.visible = False
        self._self_avatar.visible = True
        self._self_avatar.set_frame(frame)
        self.canvas.update()

    def _frame_self_view(self, center_y: float, distance: float) -> None:
        assert self._self_view is not None
        cam = self._self_view.camera
        cam.center = (0.0, center_y, 0.0)
        cam.distance = distance

    def _close_self_view(self) -> None:
        if self._self_view is not None:
            self._self_view.parent = None
        self._self_view = None
        self._self_node = None
        self._self_avatar = None

    @property
    def self_view_rect(self) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) of the self-view in canvas pixels, if shown."""
        if self._self_view is None:
            return None
        x, y = self._self_view.pos
        w, h = self._self_view.size
        return int(x), int(y), int(w), int(h)

    def _build_self_view(self) -> None:
        box = scene.widgets.ViewBox(
            parent=self.canvas.scene,
            border_color=(0.6, 0.7, 0.9, 0.8),
            bgcolor=(0.1, 0.11, 0.15, 1),
        )
        box.camera = scene.TurntableCamera(
            up="+y",
            fov=40.0,
            center=(0.0, 1.2, 0.0),
            distance=1.7,
            elevation=0.0,
            azimuth=FRONT_AZIMUTH,
        )
        box.camera.depth_value = 200.0
        clear = _ClearDepth(parent=box.scene)
        clear.order = -100  # before the hologram
        node = Hologram(parent=box.scene, grid_step=self._grid_step, splat=self._splat)
        seat = self.layout.seat(1, 2)
        m = capture_to_room(seat, capture_distance=1.3)
        m[:3, 3] -= seat.position  # centre the person in the little view
        mirror = np.diag([-1.0, 1.0, 1.0, 1.0])  # a mirror image, as people expect of themselves
        node.transform = MatrixTransform((mirror @ m).T.astype(np.float32))
        scene.visuals.Text(
            "You", color="white", font_size=9, anchor_x="left", anchor_y="top", parent=box
        ).pos = (6, 4)
        self._self_view = box
        self._self_node = node
        self._layout_self_view()

    def _layout_self_view(self, _event: object = None) -> None:
        if self._self_view is None:
            return
        cw, ch = self.canvas.size
        w = max(120, cw // 5)
        h = int(w * 0.75)
        self._self_view.size = (w, h)
        self._self_view.pos = (cw - w - 12, ch - h - 12)

    def capture_to_canvas(self, pid: str) -> MatrixTransform:
        """The full transform from a participant's depth-camera coordinates to canvas pixels."""
        return self.participants[pid].node.get_transform("visual", "canvas")

    def render(self) -> npt.NDArray[np.uint8]:
        """Render offscreen to an RGBA image of the canvas size."""
        return np.asarray(self.canvas.render(alpha=False))

    def close(self) -> None:
        self.canvas.close()


@functools.lru_cache(maxsize=1)
def _avatar_rig() -> tuple[Any, Any]:
    """The head mesh and its 52 morph targets, built once per process and shared."""
    from holocall_desktop.avatar.rig import avatar_rig

    return avatar_rig()


def _new_avatar(parent: Any) -> Any:
    from holocall_desktop.render.avatar import AvatarNode
    from holocall_desktop.render.avatar_body import AvatarBody
    from holocall_desktop.render.avatar_hands import AvatarHands

    mesh, targets = _avatar_rig()
    node = AvatarNode(mesh, targets, parent=parent)
    node.hands = AvatarHands(parent=node)
    node.body = AvatarBody(parent=node)
    return node


def _disc_mesh(
    radius: float, segments: int, y: float, color: tuple[float, ...]
) -> scene.visuals.Mesh:
    angles = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    verts = np.zeros((segments + 1, 3), np.float32)
    verts[1:, 0] = np.sin(angles) * radius
    verts[1:, 2] = np.cos(angles) * radius
    verts[:, 1] = y
    idx = np.arange(1, segments + 1)
    faces = np.stack([np.zeros(segments, int), idx, np.roll(idx, -1)], axis=1).astype(np.uint32)
    return scene.visuals.Mesh(vertices=verts, faces=faces, color=color)


def _floor_grid(radius: float, step: float) -> npt.NDArray[np.float32]:
    ticks = np.arange(-radius, radius + 1e-6, step)
    segs = []
    for t in ticks:
        half = math.sqrt(max(radius**2 - t**2, 0.0))
        segs += [(t, 0.005, -half), (t, 0.005, half), (-half, 0.005, t), (half, 0.005, t)]
    return np.asarray(segs, np.float32)
