"""A shared screen in the room: a large panel on the far side of the table, like a wall display
behind the others, with the sharer's name above it.

:class:`ScreenPanel` draws one share at a time (the room view chooses which). Room coordinates:
metres, y up; the viewer looks from +z across the table towards -z (see ``render/scene.py``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from vispy import scene
from vispy.visuals.transforms import MatrixTransform

from holocall_desktop.render.scene import HoloScene

#: the panel's centre (metres) and height; its width follows the picture's aspect (at most
#: :data:`MAX_WIDTH`)
CENTRE = (0.0, 1.75, -2.2)
HEIGHT = 1.1
MAX_WIDTH = 2.4


class ScreenPanel:
    def __init__(self, holo: HoloScene) -> None:
        self.holo = holo
        self.sharer: str | None = None
        self.size: tuple[int, int] | None = None  # width, height of the picture shown
        parent = holo.view.scene
        self.image = scene.visuals.Image(
            np.zeros((2, 2, 3), np.uint8), parent=parent, method="subdivide", interpolation="linear"
        )
        self.image.set_gl_state("opaque", depth_test=True, cull_face=False)
        self.label = scene.visuals.Text(
            "", color="white", font_size=12, anchor_x="center", anchor_y="bottom", parent=parent
        )
        self.hide()

    @property
    def visible(self) -> bool:
        return bool(self.image.visible)

    def show(self, sharer: str, name: str) -> None:
        """Show ``sharer``'s screen (blank until its first picture) titled with ``name``."""
        if sharer != self.sharer:
            self.size = None
            self.image.set_data(np.zeros((9, 16, 3), np.uint8))
            self._place(16, 9)
        self.sharer = sharer
        self.label.text = name
        self.image.visible = self.label.visible = True
        self.holo.canvas.update()

    def hide(self) -> None:
        self.sharer = None
        self.size = None
        self.image.visible = self.label.visible = False
        self.holo.canvas.update()

    def set_picture(self, image: npt.NDArray[np.uint8]) -> None:
        """A new picture (RGB ``uint8 (H, W, 3)``) of the screen shown."""
        h, w = image.shape[:2]
        self.image.set_data(image)
        if self.size != (w, h):
            self.size = (w, h)
            self._place(w, h)
        self.holo.canvas.update()

    def _place(self, w: int, h: int) -> None:
        metres = min(HEIGHT / h, MAX_WIDTH / w)  # per pixel
        width, height = w * metres, h * metres
        x, y, z = CENTRE
        m = MatrixTransform()
        m.scale((metres, -metres, 1.0))  # image rows go down, the room's y goes up
        m.translate((x - width / 2, y + height / 2, z))
        self.image.transform = m
        self.label.pos = (x, y + height / 2 + 0.12, z)

    def picture_to_canvas(self, u: float, v: float) -> tuple[float, float]:
        """Canvas pixel of the point at fractions ``u`` (left to right), ``v`` (top to bottom)
        of the picture shown."""
        w, h = self.size or (16, 9)
        mapped = self.image.get_transform("visual", "canvas").map([u * w, v * h, 0.0, 1.0])
        return float(mapped[0] / mapped[3]), float(mapped[1] / mapped[3])

    def close(self) -> None:
        self.image.parent = None
        self.label.parent = None
