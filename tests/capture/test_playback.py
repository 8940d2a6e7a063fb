"""Real pyrealsense2 playback of the D435 fixtures and of recordings made by our recorder."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from holocall_desktop.capture import FrameSource, PlaybackControl, RecordingFormatError, SourceError
from holocall_desktop.capture.playback import PlaybackSource
from holocall_desktop.capture.recorder import record
from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model import DepthFrame


def read_all(src: PlaybackSource, limit: int = 1000) -> list[DepthFrame]:
    frames = []
    for _ in range(limit):
        f = src.read(timeout=5.0)
        if f is None:
            assert src.finished
            break
        frames.append(f)
    return frames


@pytest.fixture(params=["bag", "db3"])
def d435(request: pytest.FixtureRequest, d435_bag: Path, d435_db3: Path) -> Path:
    return d435_bag if request.param == "bag" else d435_db3


@pytest.fixture(scope="module")
def synthetic_db3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "synthetic.db3"
    summary = record(SyntheticPersonSource(realtime=False, seed=3), path, max_frames=12)
    assert summary.frames == 12 and summary.reason == "max_frames"
    assert summary.path == path and summary.bytes == path.stat().st_size > 0
    return path


def test_d435_fixture_replays_all_frames_with_real_calibration(d435: Path) -> None:
    src = PlaybackSource(d435, realtime=False)
    assert isinstance(src, FrameSource) and isinstance(src, PlaybackControl)
    assert src.frame_count == 2
    assert src.fps == 6.0
    assert src.duration == pytest.approx(0.1679, abs=1e-3)
    src.start()
    frames = read_all(src)
    assert src.read() is None and src.finished
    src.stop()
    assert len(frames) == 2  # the .bag gives only one frameset through rs.pipeline
    for f in frames:
        assert f.depth.shape == (480, 640) and f.depth_units == 0.001
        di = f.depth_intrinsics
        assert di.fx == pytest.approx(390.43, abs=0.01) and di.fy == pytest.approx(390.43, abs=0.01)
        assert di.ppx == pytest.approx(331.39, abs=0.01) and di.ppy == pytest.approx(
            242.19, abs=0.01
        )
        assert f.color is not None and f.color.shape == (480, 640, 3)
        ci = f.color_intrinsics
        assert ci is not None and ci.fx == pytest.approx(613.20, abs=0.01)
        assert ci.fy == pytest.approx(613.42, abs=0.01)
        t = f.depth_to_color.translation
        assert t == pytest.approx([0.0143, 0.0006, 0.0006], abs=1e-4)
        # An office corner: most pixels valid, at plausible indoor distances.
        valid = f.depth[f.depth > 0]
        assert valid.size > 0.5 * f.depth.size
        assert 0.3 < np.median(valid) * f.depth_units < 5.0
    assert frames[1].timestamp - frames[0].timestamp == pytest.approx(1 / 6, abs=0.01)
    assert [f.frame_number for f in frames] == [0, 1]
    assert src.position == pytest.approx(src.duration, abs=1e-3)


def test_bag_and_db3_fixtures_have_identical_depth(d435_bag: Path, d435_db3: Path) -> None:
    def depths(path: Path) -> list[np.ndarray]:
        s = PlaybackSource(path, realtime=False)
        s.start()
        out = [f.depth for f in read_all(s)]
        s.stop()
        return out

    a, b = depths(d435_bag), depths(d435_db3)
    assert len(a) == len(b) == 2
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], a[1])  # two distinct frames, not one repeated


def test_synthetic_recording_round_trip(synthetic_db3: Path) -> None:
    ref = SyntheticPersonSource(realtime=False, seed=3)
    src = PlaybackSource(synthetic_db3, realtime=False)
    assert src.frame_count == 12
    src.start()
    frames = read_all(src)
    src.stop()
    assert len(frames) == 12
    for i, f in enumerate(frames):
        g = ref.frame(i)
        assert np.array_equal(f.depth, g.depth)
        assert f.color is not None and g.color is not None and np.array_equal(f.color, g.color)
        assert f.depth_intrinsics == g.depth_intrinsics
        assert f.color_intrinsics == g.color_intrinsics
        assert f.depth_units == g.depth_units == 0.001
        assert f.timestamp == pytest.approx(g.timestamp, abs=1e-6)
        assert f.depth_to_color == g.depth_to_color


def test_seek_and_loop(synthetic_db3: Path) -> None:
    ref = SyntheticPersonSource(realtime=False, seed=3)
    src = PlaybackSource(synthetic_db3, realtime=False)
    src.start()
    times = src.index.depth_times_ns
    target = (times[7] - times[0]) / 1e9
    src.seek(target)
    f = src.read(timeout=5)
    assert f is not None and np.array_equal(f.depth, ref.frame(7).depth)
    ref_color = ref.frame(7).color
    assert f.color is not None and ref_color is not None and np.array_equal(f.color, ref_color)
    assert src.position == pytest.approx(target, abs=1e-3)
    src.seek(0.0)
    f = src.read(timeout=5)
    assert f is not None and np.array_equal(f.depth, ref.frame(0).depth)
    # Past the end clamps to the last frame; then the recording finishes ...
    src.seek(1e6)
    f = src.read(timeout=5)
    assert f is not None and np.array_equal(f.depth, ref.frame(11).depth)
    assert src.read(timeout=5) is None and src.finished
    # ... unless it loops: frames 0.. again, timestamps keep increasing.
    src.loop = True
    src.seek(src.position)
    seen = [src.read(timeout=5) for _ in range(4)]
    src.stop()
    assert all(s is not None for s in seen)
    assert np.array_equal(seen[1].depth, ref.frame(0).depth)  # type: ignore[union-attr]
    ts = [s.timestamp for s in seen if s is not None]
    assert ts == sorted(ts) and len(set(ts)) == 4
    numbers = [s.frame_number for s in seen if s is not None]
    assert numbers == sorted(numbers)


def test_pause_shows_the_sought_frame_once(synthetic_db3: Path) -> None:
    ref = SyntheticPersonSource(realtime=False, seed=3)
    src = PlaybackSource(synthetic_db3, realtime=False)
    src.start()
    assert src.read(timeout=5) is not None
    src.pause()
    assert src.paused
    assert src.read(timeout=0.05) is None
    times = src.index.depth_times_ns
    src.seek((times[4] - times[0]) / 1e9)
    f = src.read(timeout=5)
    assert f is not None and np.array_equal(f.depth, ref.frame(4).depth)
    assert src.read(timeout=0.05) is None
    src.resume()
    f = src.read(timeout=5)
    src.stop()
    assert f is not None and np.array_equal(f.depth, ref.frame(5).depth)


def test_realtime_paces_by_timestamps_and_speed(synthetic_db3: Path) -> None:
    def play(speed: float) -> float:
        src = PlaybackSource(synthetic_db3, realtime=True, speed=speed)
        src.start()
        first = src.read(timeout=5)  # the clock starts at the first frame
        t0 = time.monotonic()
        frames = read_all(src)
        elapsed = time.monotonic() - t0
        src.stop()
        assert first is not None and len(frames) == 11
        for f in frames:  # no frame before it is due
            assert f.timestamp > first.timestamp
        return elapsed

    span = 11 / 30.0  # first to last frame timestamp
    slow = play(0.5)
    fast = play(3.0)
    assert slow >= 0.95 * span / 0.5
    assert 0.95 * span / 3.0 <= fast < 0.6 * slow
    with pytest.raises(ValueError):
        PlaybackSource(synthetic_db3, speed=0)


def test_realtime_read_timeout_keeps_the_frame(synthetic_db3: Path) -> None:
    ref = SyntheticPersonSource(realtime=False, seed=3)
    src = PlaybackSource(synthetic_db3, realtime=True, speed=0.05)  # 1 frame per 0.67 s
    src.start()
    assert src.read(timeout=5) is not None
    assert src.read(timeout=0.05) is None  # next frame not due yet
    f = src.read(timeout=5)
    src.stop()
    assert f is not None and np.array_equal(f.depth, ref.frame(1).depth)


def test_pause_from_another_thread_interrupts_a_realtime_wait(synthetic_db3: Path) -> None:
    ref = SyntheticPersonSource(realtime=False, seed=3)
    src = PlaybackSource(synthetic_db3, realtime=True, speed=0.02)  # frames 1.7 s apart
    src.start()
    assert src.read(timeout=5) is not None
    timer = threading.Timer(0.1, src.pause)
    timer.start()
    t0 = time.monotonic()
    assert src.read(timeout=5) is None  # woken by pause, not after 1.7 s
    assert time.monotonic() - t0 < 1.0
    timer.join()
    src.resume()
    t0 = time.monotonic()
    f = src.read(timeout=5)
    src.stop()
    assert f is not None and np.array_equal(f.depth, ref.frame(1).depth)
    assert time.monotonic() - t0 < 1.0  # resuming restarts the clock at this frame


def test_read_before_start_is_an_error(d435_db3: Path) -> None:
    src = PlaybackSource(d435_db3)
    with pytest.raises(SourceError):
        src.read()


# -- bad files --------------------------------------------------------------------------------


def _bad_files(tmp: Path, bag: Path, db3: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = tmp / name
        files[name].write_bytes(data)

    bag_bytes, db3_bytes = bag.read_bytes(), db3.read_bytes()
    put("text.bag", b"this is not a recording\n")
    put("text.db3", b"this is not a recording\n")
    put("empty.bag", b"")
    put("empty.db3", b"")
    put("half.bag", bag_bytes[: len(bag_bytes) // 2])
    put("half.db3", db3_bytes[: len(db3_bytes) // 2])
    put("cut-end.bag", bag_bytes[:-100])
    put("cut-end.db3", db3_bytes[:-4096])
    put("header-only.bag", bag_bytes[:13])
    put("header-only.db3", db3_bytes[:100])
    put("bag-named.db3", bag_bytes)
    put("png-renamed.bag", b"\x89PNG\r\n\x1a\n" + bytes(1000))
    return files


def test_bad_recordings_fail_fast_with_one_line(
    tmp_path: Path, d435_bag: Path, d435_db3: Path
) -> None:
    files = _bad_files(tmp_path, d435_bag, d435_db3)
    files["missing.bag"] = tmp_path / "missing.bag"
    files["folder.db3"] = tmp_path / "folder.db3"
    files["folder.db3"].mkdir()
    for name, path in files.items():
        t0 = time.monotonic()
        with pytest.raises(RecordingFormatError) as info:
            PlaybackSource(path)
        assert time.monotonic() - t0 < 2.0, name
        message = str(info.value)
        assert "\n" not in message and len(message) < 200, name
        assert path.name in message, name


def test_wrong_extension_is_rejected(tmp_path: Path, d435_bag: Path) -> None:
    other = tmp_path / "recording.mp4"
    other.write_bytes(d435_bag.read_bytes()[:1000])
    with pytest.raises(RecordingFormatError, match=r"\.bag or \.db3"):
        PlaybackSource(other)


def test_corrupt_frame_data_is_reported_not_swallowed(tmp_path: Path, d435_db3: Path) -> None:
    """Garbage inside a structurally valid .db3: the SDK silently drops frames; we report it.

    Run in a child process so that an SDK crash on garbage could never take the test run down.
    """
    data = bytearray(d435_db3.read_bytes())
    rnd = np.random.default_rng(650000)
    data[650000:652000] = rnd.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    bad = tmp_path / "garbage-inside.db3"
    bad.write_bytes(bytes(data))
    code = (
        "import sys\n"
        "from holocall_desktop.capture import RecordingFormatError\n"
        "from holocall_desktop.capture.playback import PlaybackSource\n"
        "try:\n"
        "    s = PlaybackSource(sys.argv[1], realtime=False)\n"
        "    s.start()\n"
        "    while s.read(timeout=5) is not None:\n"
        "        pass\n"
        "    print('NO ERROR')\n"
        "except RecordingFormatError as e:\n"
        "    print('ERROR', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR garbage-inside.db3:"), out.stdout


def test_the_sdks_own_error_words_become_one_line_for_people() -> None:
    from holocall_desktop.capture.playback import _one_line

    raw = RuntimeError("Failed to decompress chunk:\n ROSLZ4_DATA_ERROR (-4)")
    assert _one_line(raw) == "compressed frame data in the recording is corrupt (LZ4)"
    assert _one_line(RuntimeError("some\n  other   problem")) == "some other problem"
