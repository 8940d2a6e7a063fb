"""Face tracking with real MediaPipe inference on real face photos shipped with scikit-image.

Photos: ``skimage.data.astronaut()`` (Eileen Collins, smiling, 512 px colour) and faces from
``skimage.data.lfw_subset()`` (Labeled Faces in the Wild crops, 25 px grey, upscaled). The LFW
faces were labelled by eye, independently of MediaPipe, as clearly neutral (closed mouth, no
smile) or clearly smiling. Head pose is checked on the astronaut rotated in the image plane.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize, rotate

from holocall_desktop.avatar.model_files import (
    FaceModelError,
    FaceModelMissingError,
    find_face_model,
)
from holocall_desktop.avatar.tracker import (
    FaceTracker,
    FaceTrackingWorker,
    TrackingState,
    blendshapes_from_mediapipe,
    pose_from_matrix,
)
from holocall_desktop.model.avatar import ARKIT_BLENDSHAPES, quaternion_to_matrix

NEUTRAL_LFW = (3, 6, 7, 17, 20, 24, 25, 26)
SMILING_LFW = (1, 11, 18, 19, 31, 37, 38)


@pytest.fixture(scope="module")
def face_model_path() -> Path:
    """The installed model (``scripts/setup.sh`` installs it); fail when it is absent."""
    try:
        return find_face_model()
    except FaceModelError as exc:
        pytest.fail(f"face model not installed: {exc.user_message}")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


def _lfw_face(index: int) -> np.ndarray:
    grey = resize(data.lfw_subset()[index], (256, 256))
    return np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)


def _still(model: Path, image: np.ndarray) -> SimpleNamespace:
    """One still photo through a fresh tracker (no smoothing, no history)."""
    with FaceTracker(model, smooth=False) as tracker:
        raw, _ = tracker.detect(image, 0.0)
    assert raw is not None, "no face found"
    smile = (raw.blendshape("mouthSmileLeft") + raw.blendshape("mouthSmileRight")) / 2
    return SimpleNamespace(frame=raw, smile=smile)


def _smile_scores(model: Path, indices: tuple[int, ...]) -> list[float]:
    return [_still(model, _lfw_face(i)).smile for i in indices]


def test_astronaut_face_found_with_plausible_scores(
    face_model_path: Path, astronaut: np.ndarray
) -> None:
    frame = _still(face_model_path, astronaut).frame
    assert frame.blendshapes.shape == (52,)
    assert np.all((frame.blendshapes >= 0) & (frame.blendshapes <= 1))
    assert frame.blendshape("mouthSmileLeft") > 0.5
    assert frame.blendshape("mouthSmileRight") > 0.5
    assert frame.blendshape("jawOpen") < 0.3  # smiling with closed lips
    assert frame.blendshape("eyeBlinkLeft") < 0.3 and frame.blendshape("eyeBlinkRight") < 0.3
    assert frame.blendshape("tongueOut") == 0.0  # MediaPipe does not estimate it
    # a face in front of the camera: negative z, within arm's reach, roughly facing it
    assert -1.5 < frame.head_position[2] < -0.2
    angle = np.degrees(2 * np.arccos(min(1.0, abs(float(frame.head_rotation[3])))))
    assert angle < 30


def test_smiling_faces_score_above_neutral_ones(
    face_model_path: Path, astronaut: np.ndarray
) -> None:
    neutral = _smile_scores(face_model_path, NEUTRAL_LFW)
    smiling = _smile_scores(face_model_path, SMILING_LFW)
    astro = _still(face_model_path, astronaut).smile
    assert astro > max(neutral)
    assert np.median(smiling) > np.median(neutral) + 0.3
    assert min(smiling) > max(neutral)


@pytest.mark.parametrize("degrees", [20.0, -20.0])
def test_in_plane_rotation_changes_roll(
    face_model_path: Path, astronaut: np.ndarray, degrees: float
) -> None:
    upright = _still(face_model_path, astronaut).frame
    turned_img = (rotate(astronaut, degrees, preserve_range=True)).astype(np.uint8)  # CCW
    turned = _still(face_model_path, turned_img).frame
    rel = turned.rotation_matrix() @ upright.rotation_matrix().T
    angle = np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1)))
    axis = np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]])
    axis /= np.linalg.norm(axis)
    # a counter-clockwise image rotation is a rotation about +z (towards the viewer)
    assert angle == pytest.approx(abs(degrees), abs=3.0)
    assert axis[2] * np.sign(degrees) > 0.98


def test_face_lost_after_n_frames_and_found_again(
    face_model_path: Path, astronaut: np.ndarray
) -> None:
    blank = np.full_like(astronaut, 128)
    with FaceTracker(face_model_path, lost_after=3) as tracker:
        assert tracker.process(blank, 0.0).state is TrackingState.SEARCHING
        first = tracker.process(astronaut, 0.033)
        assert first.state is TrackingState.TRACKING and first.frame is not None
        states = [tracker.process(blank, 0.066 + 0.033 * i) for i in range(4)]
        assert [r.state for r in states] == [
            TrackingState.HOLDING,
            TrackingState.HOLDING,
            TrackingState.LOST,
            TrackingState.LOST,
        ]
        assert states[0].frame is first.frame  # held while briefly missing
        assert states[2].frame is None and states[2].face_lost and states[2].missed == 3
        again = tracker.process(astronaut, 1.0)
        assert again.state is TrackingState.TRACKING and again.frame is not None


def test_timestamps_need_not_increase(face_model_path: Path, astronaut: np.ndarray) -> None:
    with FaceTracker(face_model_path) as tracker:
        for ts in (5.0, 5.0, 4.0):  # repeated and going back: still accepted by VIDEO mode
            assert tracker.process(astronaut, ts).state is TrackingState.TRACKING


def test_smoothing_damps_jitter(face_model_path: Path, astronaut: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    shifts = rng.integers(-3, 4, size=(12, 2))
    frames = [np.roll(astronaut, tuple(s), axis=(0, 1)) for s in shifts]

    def spread(smooth: bool) -> float:
        with FaceTracker(face_model_path, smooth=smooth) as tracker:
            pos = [tracker.process(f, i / 30).frame.head_position for i, f in enumerate(frames)]  # type: ignore[union-attr]
        return float(np.std(np.asarray(pos)[4:], axis=0).sum())

    assert spread(True) < 0.7 * spread(False)


def test_worker_tracks_off_the_calling_thread(face_model_path: Path, astronaut: np.ndarray) -> None:
    seen_threads: set[int] = set()
    results = []

    def on_result(r: object) -> None:
        seen_threads.add(threading.get_ident())
        results.append(r)

    with FaceTrackingWorker(FaceTracker(face_model_path), on_result=on_result) as worker:
        for i in range(20):  # faster than inference: most are replaced, none queue up
            worker.submit(astronaut, i / 1000)
        deadline = time.monotonic() + 10
        while worker.processed < 2 and time.monotonic() < deadline:
            worker.submit(astronaut, 1 + time.monotonic())
            time.sleep(0.05)
        latest = worker.results.wait(timeout=5)
    assert worker.error is None
    assert latest is not None and latest.state is TrackingState.TRACKING
    assert worker.dropped > 0
    assert worker.processed + worker.dropped <= worker._inbox.posted
    assert threading.get_ident() not in seen_threads


def test_webcam_feeder_reads_a_video_file(
    face_model_path: Path, astronaut: np.ndarray, tmp_path: Path
) -> None:
    import cv2

    from holocall_desktop.avatar.webcam import CameraUnavailableError, WebcamFeeder

    video = tmp_path / "face.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (512, 512))
    assert writer.isOpened()
    for _ in range(6):
        writer.write(cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    writer.release()

    tracker = FaceTracker(face_model_path)
    got = []
    feeder = WebcamFeeder(str(video), lambda rgb, ts: got.append(tracker.process(rgb, ts)))
    feeder.start()
    assert feeder.finished.wait(20)
    tracker.close()
    assert feeder.error is None and feeder.frames == 6
    assert all(r.state is TrackingState.TRACKING for r in got)
    assert got[-1].frame.blendshape("mouthSmileLeft") > 0.5  # colours survived BGR → RGB
    with pytest.raises(CameraUnavailableError):
        WebcamFeeder(str(tmp_path / "missing.avi"), lambda rgb, ts: None)


def test_bad_model_path_gives_the_clear_message(tmp_path: Path) -> None:
    with pytest.raises(FaceModelMissingError) as info:
        FaceTracker(tmp_path / "nowhere.task")
    assert "Avatars are off" in info.value.user_message


def test_bad_image_is_rejected(face_model_path: Path) -> None:
    with FaceTracker(face_model_path) as tracker, pytest.raises(ValueError, match="RGB uint8"):
        tracker.process(np.zeros((10, 10), np.float32), 0.0)


def test_mediapipe_categories_map_by_name() -> None:
    names = ["_neutral", *ARKIT_BLENDSHAPES[:-1]]
    cats = [SimpleNamespace(category_name=n, score=i / 100) for i, n in enumerate(names)]
    cats.reverse()  # order must not matter
    shapes = blendshapes_from_mediapipe(cats)
    assert shapes.shape == (52,)
    for i in range(len(ARKIT_BLENDSHAPES) - 1):
        assert shapes[i] == pytest.approx((i + 1) / 100)  # shifted past _neutral
    assert shapes[51] == 0.0  # tongueOut


def test_pose_from_matrix_converts_units_and_rotation() -> None:
    m = np.eye(4)
    a = np.radians(30)
    m[:3, :3] = [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]
    m[:3, 3] = [1.0, -2.0, -50.0]  # centimetres
    pos, q = pose_from_matrix(m)
    np.testing.assert_allclose(pos, [0.01, -0.02, -0.5])
    np.testing.assert_allclose(quaternion_to_matrix(q), m[:3, :3], atol=1e-12)


def test_downscaled_input_keeps_expression_and_pose(
    face_model_path: Path, astronaut: np.ndarray
) -> None:
    full = _still(face_model_path, astronaut).frame
    with FaceTracker(face_model_path, smooth=False, max_side=256) as tracker:
        small, _ = tracker.detect(astronaut, 0.0)
    assert small is not None
    assert small.blendshape("mouthSmileLeft") > 0.5
    cos_half = abs(float(np.dot(small.head_rotation, full.head_rotation)))
    assert np.degrees(2 * np.arccos(min(1.0, cos_half))) < 4.0
    with pytest.raises(ValueError, match="max_side"):
        FaceTracker(face_model_path, max_side=10)


def test_bench_avatar_runs(face_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from holocall_desktop.cli import main

    assert main(["bench", "avatar", "--frames", "3", "--warmup", "1", "--size", "320x240"]) == 0
    out = capsys.readouterr().out
    assert "| Stage | median ms | p95 ms | min ms |" in out
    assert "Frame size 91 B" in out
    assert "| hand landmarker (palm detector + 21 landmarks), 320x240 |" in out
    assert "With hands tracked too:" in out


def test_an_empty_image_is_no_face_and_tracking_goes_on(
    face_model_path: Path, astronaut: np.ndarray
) -> None:
    tracker = FaceTracker(face_model_path, smooth=False)
    worker = FaceTrackingWorker(tracker).start()
    try:
        worker.submit(np.zeros((0, 0, 3), np.uint8), 0.0)
        worker.submit(np.zeros((0, 64, 3), np.uint8), 0.05)
        time.sleep(0.3)
        worker.submit(astronaut, 0.1)
        deadline = time.monotonic() + 10
        result = None
        while time.monotonic() < deadline:
            result = worker.results.take() or result
            if result is not None and result.raw is not None:
                break
            time.sleep(0.05)
        assert worker.error is None, worker.error
        assert result is not None and result.raw is not None  # the next real face is tracked
    finally:
        worker.stop()  # closing does not raise
