"""The shared 3-D room: a floor, a round table, and one hologram per participant at its seat.

``HoloScene`` owns a vispy ``SceneCanvas``; the Qt window embeds ``scene.canvas.native`` (this
module never imports Qt). Room coordinates: metres, right-handed, y up (see ``model.room``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from vispy import scene
from vispy.geometry import create_cylinder
from vispy.visuals.transforms import MatrixTransform

from holocall_desktop.model import DepthFrame
from holocall_desktop.model.room import RoomLayout, capture_to_room
from holocall_desktop.render.hologram import Hologram

BACKGROUND = (0.07, 0.08, 0.11, 1.0)
# Front view: the turntable azimuth that puts the eye on +z looking towards -z.
FRONT_AZIMUTH = 90.0


@dataclass
class Participant:
    pid: str
    name: str
    seat_index: int
    node: Hologram
    label: scene.visuals.Text
    capture_distance: float


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
        self, pid: str, name: str = "", seat_index: int | None = None, capture_distance: float = 1.3
    ) -> Participant:
        if pid in self.participants:
            return self.participants[pid]
        used = {p.seat_index for p in self.participants.values()}
        if seat_index is None:
            seat_index = next(i for i in range(1, self.layout.max_seats) if i not in used)
        node = Hologram(parent=self.view.scene, grid_step=self._grid_step, splat=self._splat)
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

    def remove_participant(self, pid: str) -> None:
        part = self.participants.pop(pid, None)
        if part is None:
            return
        part.node.parent = None
        part.label.parent = None
        self._place_all()

    def set_frame(self, pid: str, frame: DepthFrame) -> None:
        self.participants[pid].node.set_frame(frame)
        self.canvas.update()

    def hologram(self, pid: str) -> Hologram:
        return self.participants[pid].node

    def seat_count(self) -> int:
        """Seats around the table: the viewer plus every participant, at least two."""
        highest = max((p.seat_index for p in self.participants.values()), default=0)
        return max(2, len(self.participants) + 1, highest + 1)

    def _place_all(self) -> None:
        count = self.seat_count()
        for part in self.participants.values():
            seat = self.layout.seat(part.seat_index, count)
            m = capture_to_room(seat, capture_distance=part.capture_distance)
            part.node.transform = MatrixTransform(m.T.astype(np.float32))
            part.label.pos = (seat.position[0], 1.85, seat.position[2])
        self.canvas.update()

    def capture_to_canvas(self, pid: str) -> MatrixTransform:
        """The full transform from a participant's depth-camera coordinates to canvas pixels."""
        return self.participants[pid].node.get_transform("visual", "canvas")

    def render(self) -> npt.NDArray[np.uint8]:
        """Render offscreen to an RGBA image of the canvas size."""
        return np.asarray(self.canvas.render(alpha=False))

    def close(self) -> None:
        self.canvas.close()


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
