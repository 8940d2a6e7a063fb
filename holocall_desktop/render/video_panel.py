"""Participants whose camera is plain video (a browser, a phone): a picture at their seat.

:class:`VideoPanels` keeps one panel per such participant, standing where their head would be
and facing the table centre like a hologram, under their name label (``render/scene.py``
draws the label). The room view hands it each new picture; a panel follows its participant's
seat on every picture.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from vispy import scene
from vispy.visuals.transforms import MatrixTransform

from holocall_desktop.render.avatar import seat_matrix
from holocall_desktop.render.scene import HoloScene

#: the panel's height (metres) and the height of its centre above the seat's floor point
HEIGHT = 0.5
CENTRE_HEIGHT = 1.3


class VideoPanels:
    def __init__(self, holo: HoloScene) -> None:
        self.holo = holo
        self.panels: dict[str, scene.visuals.Image] = {}
        self.pictures: dict[str, npt.NDArray[np.uint8]] = {}  # the picture each panel shows

    def set_picture(self, pid: str, image: npt.NDArray[np.uint8]) -> None:
        """A new picture (RGB ``uint8 (H, W, 3)``) of participant ``pid``'s camera."""
        part = self.holo.participants.get(pid)
        if part is None:
            return
        panel = self.panels.get(pid)
        if panel is None:
            panel = scene.visuals.Image(
                image, parent=self.holo.view.scene, method="subdivide", interpolation="linear"
            )
            panel.set_gl_state("opaque", depth_test=True, cull_face=False)
            self.panels[pid] = panel
        else:
            panel.set_data(image)
        self.pictures[pid] = image
        h, w = image.shape[:2]
        seat = self.holo.seat_of(pid)
        metres = HEIGHT / h  # per pixel
        local = np.eye(4)
        local[0, 0], local[1, 1] = metres, -metres  # image rows go down, the room's y goes up
        local[3, :2] = (-w * metres / 2, h * metres / 2)
        placed = local @ seat_matrix(seat, CENTRE_HEIGHT).T  # vispy's matrices act on rows
        panel.transform = MatrixTransform(placed.astype(np.float32))
        self.holo.canvas.update()

    def remove(self, pid: str) -> None:
        panel = self.panels.pop(pid, None)
        self.pictures.pop(pid, None)
        if panel is not None:
            panel.parent = None
            self.holo.canvas.update()

    def clear(self) -> None:
        for pid in list(self.panels):
            self.remove(pid)

    def picture_to_canvas(self, pid: str, u: float, v: float) -> tuple[float, float]:
        """Canvas pixel of the point at fractions ``u`` (left to right), ``v`` (top to bottom)
        of ``pid``'s picture."""
        panel = self.panels[pid]
        w, h = panel.size
        mapped = panel.get_transform("visual", "canvas").map([u * w, v * h, 0.0, 1.0])
        return float(mapped[0] / mapped[3]), float(mapped[1] / mapped[3])
