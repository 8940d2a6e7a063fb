"""Neck and shoulders under an avatar's head, so that it is a person at the table and not a
floating mask.

The body stays upright at the seat (only the head turns, as a head does on its neck) and follows
the head's offset when the user leans. Metres, in the avatar's frame (x right, y up, z towards
the viewer), the head's centre at the origin. Built once from vispy's cylinder and sphere
meshes; only its transform changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from vispy import scene
from vispy.geometry import create_cylinder, create_sphere
from vispy.visuals.transforms import MatrixTransform

SKIN = (0.87, 0.71, 0.6, 1.0)
CLOTH = (0.22, 0.33, 0.52, 1.0)
#: the neck: from under the chin down into the shoulders (metres below the head's centre)
NECK_TOP, NECK_BOTTOM, NECK_RADIUS = -0.05, -0.16, 0.058
#: the shoulders: a flattened ellipsoid, centre below the head, half extents
SHOULDERS_CENTRE = (0.0, -0.205, -0.025)
SHOULDERS_HALF = (0.19, 0.075, 0.1)


def body_meshes() -> list[
    tuple[npt.NDArray[np.float32], npt.NDArray[np.uint32], tuple[float, ...]]
]:
    """(vertices, faces, colour) of the neck and of the shoulders."""
    neck = create_cylinder(12, 24, radius=[NECK_RADIUS, NECK_RADIUS * 1.15],
                           length=NECK_TOP - NECK_BOTTOM)  # fmt: skip
    v = neck.get_vertices().astype(np.float64)  # along +z from 0 to length
    neck_v = np.stack([v[:, 0], NECK_TOP - v[:, 2], v[:, 1] - 0.01], axis=1)
    shoulders = create_sphere(16, 32, radius=1.0)
    s = shoulders.get_vertices().astype(np.float64) * np.asarray(SHOULDERS_HALF)
    s = s + np.asarray(SHOULDERS_CENTRE)
    return [
        (neck_v.astype(np.float32), neck.get_faces().astype(np.uint32), SKIN),
        (s.astype(np.float32), shoulders.get_faces().astype(np.uint32), CLOTH),
    ]


class AvatarBody:
    """The neck and shoulders of one avatar, children of its node (hidden with it)."""

    def __init__(self, parent: Any) -> None:
        self.meshes = []
        for vertices, faces, colour in body_meshes():
            mesh = scene.visuals.Mesh(vertices, faces, color=colour, shading="smooth",
                                      parent=parent)  # fmt: skip
            light = mesh.shading_filter
            light.light_dir = (0.3, -0.4, -1.0)
            light.ambient_light = (1, 1, 1, 0.45)
            light.specular_light = (1, 1, 1, 0.05)
            self.meshes.append(mesh)

    def place(self, head_to_room: npt.ArrayLike) -> None:
        """``head_to_room``: the 4x4 (column vectors) that puts the head's centre, unrotated,
        in the room (the seat and the head's offset)."""
        m = np.asarray(head_to_room, dtype=np.float64).reshape(4, 4)
        transform = MatrixTransform(m.T.astype(np.float32))  # vispy acts on rows
        for mesh in self.meshes:
            mesh.transform = transform
