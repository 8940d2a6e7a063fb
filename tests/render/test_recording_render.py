"""The real D435 recordings replay with their calibration and render as a recognisable scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from holocall_desktop.capture.playback import PlaybackSource
from holocall_desktop.processing.deproject import deproject_frame
from holocall_desktop.render.scene import FRONT_AZIMUTH, HoloScene
from tests.render.conftest import foreground_mask, splat_reference

pytestmark = pytest.mark.gui


def _first_frame(path: Path):  # type: ignore[no-untyped-def]
    source = PlaybackSource(path, realtime=False)
    source.start()
    try:
        frame = None
        while frame is None:
            frame = source.read(timeout=5.0)
        return frame
    finally:
        source.stop()


@pytest.mark.parametrize("name", ["d435_bag", "d435_db3"])
def test_d435_recording_renders_like_its_cpu_reference(
    name: str, bare_scene: HoloScene, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    frame = _first_frame(request.getfixturevalue(name))
    assert frame.depth_intrinsics.fx == pytest.approx(390.43, abs=0.05)
    assert frame.depth_units == pytest.approx(0.001)
    assert frame.color is not None and frame.color_intrinsics is not None
    assert frame.color_intrinsics.fx == pytest.approx(613.20, abs=0.05)
    assert frame.depth_to_color.translation[0] == pytest.approx(0.0143, abs=0.001)

    bare_scene.add_participant("p", capture_distance=1.3)
    bare_scene.set_frame("p", frame)
    bare_scene.hologram("p").set_splat(1.0)
    # look from (about) where the D435 stood, along its optical axis
    cam = bare_scene.view.camera
    cam.center, cam.distance, cam.elevation, cam.azimuth = (
        (0.0, 1.25, -2.2),
        2.4,
        0.0,
        FRONT_AZIMUTH,
    )
    image = bare_scene.render()
    rendered = foreground_mask(image, tol=2)

    cloud = deproject_frame(frame)
    ref_mask, ref_rgb = splat_reference(bare_scene, "p", cloud.points, cloud.colors, rendered.shape)
    both = rendered & ref_mask
    assert both.sum() > 0.5 * ref_mask.sum(), "the scene should fill the view like the reference"
    got = image[..., :3][both].astype(float).mean(axis=1)
    want = ref_rgb[both].astype(float).mean(axis=1)
    corr = np.corrcoef(got, want)[0, 1]
    assert corr > 0.8, f"rendered brightness correlates {corr:.2f} with the CPU reference"
    # and the picture has structure: an office corner is not one flat colour
    assert got.std() > 15
