"""Locate the ``shaders/`` and ``assets/`` folders, from a checkout or from an installed wheel.

In a checkout (or an editable install) they sit beside the package at the repository root; the
wheel carries them inside the package (``pyproject.toml`` force-includes them); a frozen
(PyInstaller) app carries them beside the executable's package data.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    candidates = [_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name]
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.insert(0, Path(frozen_root) / "holocall_desktop" / name)
    for path in candidates:
        if path.is_dir():
            return path
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"HoloCall's {name}/ folder is missing (looked in {looked}); the installation is incomplete"
    )


def shaders_dir() -> Path:
    return _find("shaders")


def assets_dir() -> Path:
    return _find("assets")


def shader_source(filename: str) -> str:
    """Text of a shader file in ``shaders/``, with ``#include "other.glsl"`` lines resolved."""
    return _resolve_includes(shaders_dir() / filename, seen=())


def _resolve_includes(path: Path, seen: tuple[Path, ...]) -> str:
    if path in seen:
        raise ValueError(f"shader include cycle: {' -> '.join(p.name for p in (*seen, path))}")
    if not path.is_file():
        raise FileNotFoundError(f"shader {path.name} not found in {path.parent}")
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#include"):
            target = stripped[len("#include") :].strip().strip('"<>')
            out.append(_resolve_includes(path.parent / target, (*seen, path)))
        else:
            out.append(line)
    return "\n".join(out) + "\n"
