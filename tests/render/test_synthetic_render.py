"""A rendered frame of the synthetic person: the person where expected, background elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.processing.deproject import deproject_frame
from holocall_desktop.render.scene import HoloScene
from tests.render.conftest import foreground_mask, map_to_canvas, splat_reference

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def person() -> tuple[SyntheticPersonSource, int]:
    return SyntheticPersonSource(realtime=False, seed=0), 12


def test_person_silhouette_where_expected(
    bare_scene: HoloScene, person: tuple[SyntheticPersonSource, int]
) -> None:
    source, n = person
    truth = source.truth(n)
    frame = source.frame(n)
    only_person = frame.with_depth(np.where(truth.person_mask, frame.depth, 0).astype(np.uint16))
    bare_scene.add_participant("p")
    bare_scene.set_frame("p", only_person)
    image = bare_scene.render()
    rendered = foreground_mask(image)

    cloud = deproject_frame(only_person)
    expected, _ = splat_reference(
        bare_scene, "p", cloud.points, cloud.colors, rendered.shape, radius=1
    )
    inter = (rendered & expected).sum()
    union = (rendered | expected).sum()
    assert union > 2000, "the person should cover a good part of the view"
    assert inter / union > 0.85, f"silhouette IoU {inter / union:.2f}"

    # the head is drawn in skin tones where its centre projects, the sides of the body are empty
    hc = truth.pose.head_centre
    head_xy = map_to_canvas(
        bare_scene, "p", np.array([hc], np.float32) - np.array([[0, 0, 0.09]], np.float32)
    )[0]
    hx, hy = int(head_xy[0]), int(head_xy[1])
    assert rendered[hy - 2 : hy + 3, hx - 2 : hx + 3].all()
    skin = image[hy - 2 : hy + 3, hx - 2 : hx + 3, :3].reshape(-1, 3).mean(axis=0)
    assert skin[0] > skin[2] + 30, f"head centre colour {skin} is not skin-like"
    h, w = rendered.shape
    assert not rendered[:, : w // 8].any() and not rendered[:, -w // 8 :].any()
    assert not rendered[: h // 20].any()


def test_animation_moves_the_rendered_person(
    bare_scene: HoloScene, person: tuple[SyntheticPersonSource, int]
) -> None:
    source, _ = person
    bare_scene.add_participant("p")
    masks = []
    for n in (0, 45):
        truth = source.truth(n)
        frame = source.frame(n)
        bare_scene.set_frame(
            "p", frame.with_depth(np.where(truth.person_mask, frame.depth, 0).astype(np.uint16))
        )
        masks.append(foreground_mask(bare_scene.render()))
    changed = (masks[0] ^ masks[1]).sum() / max(1, masks[0].sum())
    assert changed > 0.02
