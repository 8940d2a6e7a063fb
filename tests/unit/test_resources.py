"""shaders/ and assets/ load from the checkout and from an installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from holocall_desktop import resources

ROOT = Path(__file__).resolve().parents[2]


def test_shaders_resolve_includes_from_the_checkout() -> None:
    src = resources.shader_source("hologram.vert")
    assert "vec3 deproject_pixel" in src  # pulled in from deproject.glsl
    assert "#include" not in src


def test_include_cycle_and_missing_shader_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shaders").mkdir()
    (tmp_path / "shaders" / "a.glsl").write_text('#include "b.glsl"\n')
    (tmp_path / "shaders" / "b.glsl").write_text('#include "a.glsl"\n')
    monkeypatch.setattr(resources, "shaders_dir", lambda: tmp_path / "shaders")
    with pytest.raises(ValueError, match="include cycle"):
        resources.shader_source("a.glsl")
    with pytest.raises(FileNotFoundError, match=r"nope\.vert"):
        resources.shader_source("nope.vert")


@pytest.mark.slow
def test_wheel_carries_shaders_and_assets(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("holocall_desktop-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "holocall_desktop/shaders/hologram.vert" in names
    assert "holocall_desktop/shaders/deproject.glsl" in names
    assert any(n.startswith("holocall_desktop/assets/") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "from holocall_desktop import resources as r; "
        "print(r.shaders_dir()); print(len(r.shader_source('hologram.vert')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(site)),
        cwd=tmp_path,
    )
    where, length = out.stdout.split()
    assert Path(where).is_relative_to(site)
    assert int(length) > 500
