"""The hologram visual: depth + colour textures in, deprojected splats out, all on the GPU.

A static grid with one vertex per depth pixel is uploaded once per resolution; each frame
uploads the depth (as float metres) and colour textures plus an index list of the pixels that
have depth (one ``np.flatnonzero``), so only those become vertices. ``shaders/hologram.vert``
deprojects with the intrinsics passed as uniforms, looks colour up through the depth->colour
extrinsics, drops invalid depth and sizes splats by distance. Local coordinates are the depth
camera's (x right, y down, z forward, metres); a node transform places the hologram in the room.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from vispy import gloo
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

from holocall_desktop.model import DepthFrame, Intrinsics
from holocall_desktop.processing.deproject import pixel_grid
from holocall_desktop.resources import shader_source


class HologramVisual(Visual):
    """Draws one participant's depth frame as coloured splats.

    ``grid_step``: draw every n-th depth pixel (1 = all). ``splat``: splat diameter in grid
    cells (≥ 1 closes the gaps between neighbours). ``near``/``far``: depth range kept, metres.
    """

    def __init__(
        self,
        grid_step: int = 1,
        splat: float = 2.0,
        near: float = 0.1,
        far: float = 10.0,
        max_point_size: float = 64.0,
        round_splats: bool = True,
    ) -> None:
        Visual.__init__(
            self, vcode=shader_source("hologram.vert"), fcode=shader_source("hologram.frag")
        )
        self._draw_mode = "points"
        self.set_gl_state("translucent", depth_test=True, blend=False, cull_face=False)
        self._grid_step = int(grid_step)
        self._grid_shape: tuple[int, int] | None = None
        self._vbo: gloo.VertexBuffer | None = None
        self._indices = gloo.IndexBuffer(np.zeros(1, np.uint32))
        self._index_count = 0
        self._depth_tex = gloo.Texture2D(
            np.zeros((1, 1), np.float32),
            interpolation="nearest",
            internalformat="r32f",
            format="luminance",
        )
        self._color_tex = gloo.Texture2D(np.zeros((1, 1, 3), np.uint8), interpolation="nearest")
        self._frame: DepthFrame | None = None
        p = self.shared_program
        p["u_depth"] = self._depth_tex
        p["u_color"] = self._color_tex
        p["u_has_color"] = 0.0
        p["u_depth_to_color"] = np.eye(4, dtype=np.float32)
        p["u_range"] = (float(near), float(far))
        p["u_splat"] = float(splat)
        p["u_grid_step"] = float(grid_step)
        p["u_max_point"] = float(max_point_size)
        p["u_opacity"] = 1.0
        p["u_reveal"] = 1.0
        self._reveal = 1.0
        p["u_round"] = 1.0 if round_splats else 0.0
        self.freeze()

    # -- state ---------------------------------------------------------------------------
    @property
    def frame(self) -> DepthFrame | None:
        return self._frame

    @property
    def vertex_count(self) -> int:
        """Vertices submitted per draw: the pixels of the current frame that have depth."""
        return self._index_count if self._frame is not None else 0

    def set_range(self, near: float, far: float) -> None:
        self.shared_program["u_range"] = (float(near), float(far))
        self.update()

    def set_splat(self, splat: float) -> None:
        self.shared_program["u_splat"] = float(splat)
        self.update()

    @property
    def reveal(self) -> float:
        return self._reveal

    def set_reveal(self, reveal: float) -> None:
        """Show the bottom ``reveal`` fraction of the rows (1 = whole hologram, 0 = nothing)."""
        self._reveal = min(1.0, max(0.0, float(reveal)))
        self.shared_program["u_reveal"] = self._reveal
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self.shared_program["u_opacity"] = float(opacity)
        self.update()

    def set_grid_step(self, step: int) -> None:
        if step < 1:
            raise ValueError(f"grid step must be >= 1, got {step}")
        if step != self._grid_step:
            self._grid_step = int(step)
            self._grid_shape = None
            self.shared_program["u_grid_step"] = float(step)
            if self._frame is not None:
                self._ensure_grid(self._frame.width, self._frame.height)
            self.update()

    def set_frame(self, frame: DepthFrame) -> None:
        """Upload a new frame: two textures and the valid-pixel indices; the grid is reused."""
        self._ensure_grid(frame.width, frame.height)
        p = self.shared_program
        self._depth_tex.set_data(frame.depth_metres())
        # Only pixels with a measurement become vertices: a person is ~10 % of the frame.
        step = self._grid_step
        valid = frame.depth[::step, ::step] > 0
        indices = np.flatnonzero(valid).astype(np.uint32)
        self._index_count = int(indices.size)
        if indices.size:
            self._indices.set_data(indices)
        self._index_buffer = self._indices
        p["u_depth_size"] = (float(frame.width), float(frame.height))
        p["u_depth_intr"] = _intr_vec(frame.depth_intrinsics)
        if frame.color is not None and frame.color_intrinsics is not None:
            self._color_tex.set_data(np.ascontiguousarray(frame.color))
            ci = frame.color_intrinsics
            p["u_color_size"] = (float(ci.width), float(ci.height))
            p["u_color_intr"] = _intr_vec(ci)
            # vispy uploads matrices as given; GLSL reads them column-major, so pass the transpose.
            p["u_depth_to_color"] = frame.depth_to_color.as_matrix().T.astype(np.float32)
            p["u_has_color"] = 1.0
        else:
            p["u_color_size"] = (1.0, 1.0)
            p["u_color_intr"] = (1.0, 1.0, 0.0, 0.0)
            p["u_has_color"] = 0.0
        self._frame = frame
        self.update()

    def clear(self) -> None:
        self._frame = None
        self._index_count = 0
        self._vbo = None
        self._grid_shape = None
        self.update()

    # -- vispy hooks ---------------------------------------------------------------------
    def _ensure_grid(self, width: int, height: int) -> None:
        if self._grid_shape == (width, height) and self._vbo is not None:
            return
        grid = pixel_grid(width, height, self._grid_step).astype(np.float32)
        self._vbo = gloo.VertexBuffer(grid)
        self.shared_program["a_pixel"] = self._vbo
        self._grid_shape = (width, height)

    def _prepare_transforms(self, view: Any) -> None:
        view.view_program.vert["visual_to_render"] = view.get_transform("visual", "render")

    def _prepare_draw(self, view: Any) -> bool:
        if self._vbo is None or self._frame is None or self._index_count == 0:
            return False
        view.view_program["u_px_per_unit"] = _pixels_per_unit(view, self._frame)
        return True

    def _compute_bounds(self, axis: int, view: Any) -> tuple[float, float] | None:
        frame = self._frame
        if frame is None:
            return None
        z = frame.depth_metres()
        valid = z[z > 0]
        if valid.size == 0:
            return None
        zmin, zmax = float(valid.min()), float(valid.max())
        di = frame.depth_intrinsics
        if axis == 2:
            return (zmin, zmax)
        if axis == 0:
            return ((0 - di.ppx) / di.fx * zmax, (di.width - di.ppx) / di.fx * zmax)
        return ((0 - di.ppy) / di.fy * zmax, (di.height - di.ppy) / di.fy * zmax)


def _pixels_per_unit(view: Any, frame: DepthFrame) -> float:
    """Framebuffer pixels covered by one metre (in the visual's frame) at clip w = 1.

    Under a perspective projection a length ``s`` at a point of clip-space ``w`` spans
    ``s * k / w`` pixels, with ``k`` constant for the whole draw. It is measured once per draw
    on the CPU, at a point in front of the camera, across the screen's x axis, so the vertex shader
    needs one transform per vertex instead of three.
    """
    to_fb = view.get_transform("visual", "framebuffer")
    from_fb = view.get_transform("framebuffer", "visual")
    to_render = view.get_transform("visual", "render")
    di = frame.depth_intrinsics
    z = 1.5
    p0 = np.array([0.0, 0.0, z, 1.0])
    fb0 = np.asarray(to_fb.map(p0), dtype=np.float64).ravel()
    across = np.asarray(
        from_fb.map(fb0 + np.array([10.0 * fb0[3], 0.0, 0.0, 0.0])), np.float64
    ).ravel()
    direction = across[:3] / across[3] - p0[:3]
    norm = float(np.linalg.norm(direction))
    if not np.isfinite(norm) or norm == 0.0:
        return float(di.fx)
    p1 = np.append(p0[:3] + direction / norm * 0.01, 1.0)
    fb1 = np.asarray(to_fb.map(p1), dtype=np.float64).ravel()
    pixels = abs(fb1[0] / fb1[3] - fb0[0] / fb0[3])
    w0 = float(np.asarray(to_render.map(p0), dtype=np.float64).ravel()[3])
    return float(pixels / 0.01 * w0)


def _intr_vec(intr: Intrinsics) -> tuple[float, float, float, float]:
    return (float(intr.fx), float(intr.fy), float(intr.ppx), float(intr.ppy))


Hologram = create_visual_node(HologramVisual)
