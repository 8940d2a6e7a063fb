"""SDK post-processing filters (on real recorded frames), the live-camera source without a
camera, and ``open_source``."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from holocall_desktop.capture import RecordingFormatError, SourceError
from holocall_desktop.capture.filters import FilterSettings
from holocall_desktop.capture.open import open_source
from holocall_desktop.capture.playback import PlaybackSource
from holocall_desktop.capture.realsense import RealSenseSource, list_devices
from holocall_desktop.capture.recorder import record
from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model import DepthFrame


def first_frame(path: Path, filters: FilterSettings | None) -> DepthFrame:
    src = PlaybackSource(path, realtime=False, filters=filters)
    src.start()
    f = src.read(timeout=5)
    src.stop()
    assert f is not None
    return f


def test_decimation_halves_resolution_and_scales_intrinsics(d435_db3: Path) -> None:
    raw = first_frame(d435_db3, None)
    dec = first_frame(d435_db3, FilterSettings(decimation=True, decimation_magnitude=2))
    assert dec.depth.shape == (240, 320)
    ri, di = raw.depth_intrinsics, dec.depth_intrinsics
    assert (di.width, di.height) == (320, 240)
    assert di.fx == pytest.approx(ri.fx / 2, rel=1e-3) and di.fy == pytest.approx(
        ri.fy / 2, rel=1e-3
    )
    assert di.ppx == pytest.approx(ri.ppx / 2, abs=1.0) and di.ppy == pytest.approx(
        ri.ppy / 2, abs=1.0
    )
    # Colour is untouched; the depth image still looks like the same scene.
    assert dec.color is not None and dec.color.shape == (480, 640, 3)
    a = np.median(raw.depth[raw.depth > 0])
    b = np.median(dec.depth[dec.depth > 0])
    assert abs(int(a) - int(b)) < 0.05 * a


def test_threshold_zeroes_pixels_outside_the_range(d435_bag: Path) -> None:
    raw = first_frame(d435_bag, None)
    thr = first_frame(
        d435_bag, FilterSettings(threshold=True, threshold_min=0.5, threshold_max=1.5)
    )
    m = thr.depth_metres()
    valid = thr.depth > 0
    assert valid.any()
    assert m[valid].min() >= 0.5 - 1e-3 and m[valid].max() <= 1.5 + 1e-3
    raw_m = raw.depth_metres()
    assert ((raw_m > 1.6) & (thr.depth > 0)).sum() == 0
    assert (raw_m > 1.6).sum() > 1000  # the scene has far pixels that the filter removed


def test_hole_filling_spatial_temporal_run_in_order(d435_bag: Path) -> None:
    raw = first_frame(d435_bag, None)
    filled = first_frame(d435_bag, FilterSettings(hole_filling=True, hole_filling_mode=1))
    assert (filled.depth == 0).sum() < 0.6 * (raw.depth == 0).sum()
    smooth = first_frame(d435_bag, FilterSettings(spatial=True, temporal=True))
    assert smooth.depth.shape == raw.depth.shape
    assert not np.array_equal(smooth.depth, raw.depth)
    valid = (raw.depth > 0) & (smooth.depth > 0)
    diff = np.abs(smooth.depth[valid].astype(int) - raw.depth[valid].astype(int))
    assert np.median(diff) <= 10  # smoothing, not a different scene


def test_filter_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        FilterSettings(decimation_magnitude=1)
    with pytest.raises(ValueError):
        FilterSettings(threshold_min=2.0, threshold_max=1.0)
    assert not FilterSettings().any_enabled and FilterSettings(spatial=True).any_enabled


def test_no_camera_here() -> None:
    assert list_devices() == []
    src = RealSenseSource()
    with pytest.raises(SourceError, match="No RealSense camera"):
        src.start()
    with pytest.raises(SourceError):
        src.read()
    src.stop()  # harmless when never started


def test_open_source_specs(d435_db3: Path, tmp_path: Path) -> None:
    syn = open_source("synthetic", realtime=False)
    assert isinstance(syn, SyntheticPersonSource) and not syn.realtime
    cam = open_source("camera:123456")
    assert isinstance(cam, RealSenseSource) and cam.serial == "123456"
    assert isinstance(open_source("camera"), RealSenseSource)
    pb = open_source(str(d435_db3), realtime=False, loop=True)
    assert isinstance(pb, PlaybackSource) and pb.loop and not pb.realtime
    with pytest.raises(SourceError, match="unknown source"):
        open_source("kinect")
    with pytest.raises(SourceError):
        open_source("camera:")
    with pytest.raises(RecordingFormatError):
        open_source(str(tmp_path / "nothing.bag"))


def test_recording_is_kept_on_keyboard_interrupt(tmp_path: Path) -> None:
    class Interrupting(SyntheticPersonSource):
        def read(self, timeout: float = 1.0) -> DepthFrame | None:
            if self._next == 5:
                raise KeyboardInterrupt
            return super().read(timeout)

    path = tmp_path / "interrupted.db3"
    with pytest.raises(KeyboardInterrupt):
        record(Interrupting(320, 240, realtime=False), path)
    src = PlaybackSource(path, realtime=False)
    assert src.frame_count == 5
    src.start()
    n = 0
    while src.read(timeout=5) is not None:
        n += 1
    src.stop()
    assert n == 5


def test_record_limits_and_stop_event(tmp_path: Path) -> None:
    s = record(
        SyntheticPersonSource(160, 96, fps=30, realtime=False), tmp_path / "a.db3", max_seconds=0.1
    )
    assert s.reason == "max_seconds" and s.frames == 4 and s.duration == pytest.approx(0.1)
    stop = threading.Event()
    stop.set()
    s = record(SyntheticPersonSource(160, 96, realtime=False), tmp_path / "b.db3", stop_event=stop)
    assert s.reason == "stopped" and s.frames == 0
    with pytest.raises(SourceError, match=r"\.db3"):
        record(SyntheticPersonSource(160, 96, realtime=False), tmp_path / "c.bag", max_frames=1)


def test_record_a_recording_without_colour_loss(d435_bag: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.db3"
    s = record(PlaybackSource(d435_bag, realtime=False), out)
    assert s.reason == "finished" and s.frames == 2
    a = PlaybackSource(d435_bag, realtime=False)
    b = PlaybackSource(out, realtime=False)
    for src in (a, b):
        src.start()
    fa, fb = a.read(timeout=5), b.read(timeout=5)
    a.stop()
    b.stop()
    assert fa is not None and fb is not None
    assert np.array_equal(fa.depth, fb.depth)
    assert fa.depth_intrinsics == fb.depth_intrinsics
    assert fa.color_intrinsics == fb.color_intrinsics
    # The SDK stores extrinsics rounded to 1e-6.
    assert np.allclose(fa.depth_to_color.as_matrix(), fb.depth_to_color.as_matrix(), atol=2e-6)
