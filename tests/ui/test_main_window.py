"""The main window opens, shows a hologram, switches sources, reports errors, closes cleanly."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.render.conftest import foreground_mask

pytestmark = pytest.mark.gui


def _capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("capture:")]


def test_opens_on_the_synthetic_person_and_draws_it(make_window: Any, qtbot: Any) -> None:
    window = make_window("synthetic")
    qtbot.waitUntil(lambda: window.frames_drawn >= 5, timeout=15000)
    image = window.scene.render()
    fg = foreground_mask(image)
    h, w = fg.shape
    # the person stands in the middle of the view, behind the table
    assert fg[h // 5 : h * 3 // 4, w * 2 // 5 : w * 3 // 5].mean() > 0.3
    qtbot.waitUntil(lambda: window.fps > 0, timeout=5000)
    window._update_stats()
    assert "fps" in window.stats_label.text() and "848×480" in window.stats_label.text()
    assert not window.banner.isVisible()


def test_switches_sources_and_closes_cleanly(make_window: Any, qtbot: Any, d435_db3: Path) -> None:
    window = make_window("synthetic")
    qtbot.waitUntil(lambda: window.frames_drawn >= 2, timeout=15000)
    assert window.playback.isHidden()

    window.open_source(str(d435_db3))
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=15000)
    assert window.last_frame.width == 640
    assert not window.playback.isHidden()
    assert window.source_box.currentData() == str(d435_db3)
    assert window.settings.source == str(d435_db3)

    window.open_source("synthetic")
    qtbot.waitUntil(
        lambda: window.last_frame is not None and window.last_frame.width == 848, timeout=15000
    )
    assert window.playback.isHidden()
    assert len(_capture_threads()) == 1

    window.close()
    qtbot.waitUntil(lambda: not _capture_threads(), timeout=5000)


def test_a_bad_recording_is_reported_in_the_window(
    make_window: Any, qtbot: Any, tmp_path: Path
) -> None:
    bogus = tmp_path / "notes.bag"
    bogus.write_text("this is not a RealSense recording\n" * 20)
    window = make_window("synthetic")
    ok = window.open_source(str(bogus))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10000)
    assert not ok or window.media.runner is not None
    message = window.banner.message
    assert "notes.bag" in message
    assert "Traceback" not in message and "\n" not in message.strip()
    # the window keeps working: another source can be chosen
    window.open_source("synthetic")
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=15000)
    assert not window.banner.isVisible()


def test_playback_controls_pause_and_seek(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    from holocall_desktop.capture.recorder import record
    from holocall_desktop.capture.synthetic import SyntheticPersonSource

    path = tmp_path / "clip.db3"
    record(SyntheticPersonSource(realtime=False, width=212, height=120), path, max_frames=60)
    window = make_window(str(path))
    window.playback.loop_box.setChecked(False)
    qtbot.waitUntil(lambda: window.frames_drawn >= 3, timeout=15000)
    assert window.playback.slider.maximum() == pytest.approx(1967, abs=40)  # 60 frames at 30 fps

    window.playback.play_button.setChecked(False)  # pause
    qtbot.wait(300)
    paused_at = window.frames_drawn
    qtbot.wait(400)
    assert window.frames_drawn <= paused_at + 1

    window.playback.step_requested.emit()
    qtbot.waitUntil(lambda: window.frames_drawn > paused_at, timeout=5000)

    source = window.media.runner.source
    stepped = window.frames_drawn
    window.playback.seek_requested.emit(1.5)  # paused seek shows the frame at 1.5 s
    qtbot.waitUntil(lambda: window.frames_drawn > stepped, timeout=5000)
    assert source.position == pytest.approx(1.5, abs=0.04)
    window.playback.seek_requested.emit(0.0)
    qtbot.waitUntil(lambda: source.position < 0.04, timeout=5000)
    window.playback.play_button.setChecked(True)
    qtbot.waitUntil(lambda: source.position > 0.3, timeout=5000)


def test_settings_are_kept_between_runs(make_window: Any, qtbot: Any, d435_db3: Path) -> None:
    first = make_window(str(d435_db3))
    first.background_box.setChecked(False)
    first.playback.speed_changed.emit(2.0)
    first.close()
    second = make_window()  # no source asked for: the last one is reopened
    assert second.source_spec == str(d435_db3)
    assert not second.background_box.isChecked()
    assert second.settings.speed == 2.0
    assert second.settings.recent_recording == str(d435_db3)


def test_window_draws_real_recording(make_window: Any, qtbot: Any, d435_db3: Path) -> None:
    window = make_window(str(d435_db3), remove_background=False)
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=15000)
    assert window.last_frame.depth_units == pytest.approx(0.001)
    assert np.count_nonzero(window.last_frame.depth) > 100000


def test_depth_settings_apply_filters_to_a_recording(
    make_window: Any, qtbot: Any, d435_db3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from holocall_desktop.ui.depth_settings import DepthSettingsDialog

    window = make_window(str(d435_db3), remove_background=False)
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=15000)
    assert window.last_frame.width == 640

    def accept_with_decimation(dialog: DepthSettingsDialog) -> int:
        dialog.decimation.setChecked(True)
        dialog.decimation_magnitude.setValue(2)
        dialog.mode_box.setCurrentIndex(1)  # 640x480 at 30 fps
        return DepthSettingsDialog.DialogCode.Accepted

    monkeypatch.setattr(DepthSettingsDialog, "exec", accept_with_decimation)
    window.edit_depth_settings()
    qtbot.waitUntil(
        lambda: window.last_frame is not None and window.last_frame.width == 320, timeout=15000
    )
    assert window.last_frame.depth_intrinsics.fx == pytest.approx(390.43 / 2, abs=0.1)
    kept = window.settings.depth
    assert kept.filters.decimation and kept.camera_mode == (640, 480, 30)

    def contradictory(dialog: DepthSettingsDialog) -> int:
        dialog.near.setValue(3.0)
        dialog.far.setValue(1.0)
        return DepthSettingsDialog.DialogCode.Accepted

    monkeypatch.setattr(DepthSettingsDialog, "exec", contradictory)
    window.edit_depth_settings()
    assert "nearer" in window.banner.message
    assert window.settings.depth == kept
