"""The Linux installer as a user gets it: the .deb built, installed with apt on a clean Debian
root filesystem (debootstrap), run there headless with no network, and removed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def _run(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3000,
        env=dict(os.environ, **(env or {})),
        check=False,
    )


def test_the_deb_installs_runs_offline_and_uninstalls_on_a_clean_debian(tmp_path: Path) -> None:
    build = _run("packaging/build-installer.sh")
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-4000:]
    deb = ROOT / build.stdout.strip().splitlines()[-1]
    assert deb.name.endswith("_amd64.deb") and deb.is_file(), build.stdout[-2000:]

    listing = _run("dpkg-deb", "-c", str(deb)).stdout
    for path in (
        "./opt/holocall/holocall",
        "./usr/bin/holocall -> /opt/holocall/holocall",
        "./usr/share/applications/holocall.desktop",
        "./usr/share/mime/packages/holocall.xml",
        "./usr/share/icons/hicolor/256x256/apps/holocall.png",
    ):
        assert path in listing, path
    desktop = (ROOT / "packaging/linux/holocall.desktop").read_text()
    assert "x-scheme-handler/holocall;" in desktop and "Exec=holocall %u" in desktop
    assert "face_landmarker.task" in listing  # the face model travels with the app

    smoke = _run("packaging/linux/smoke-test.sh", str(deb), env={"SMOKE_OUT": str(tmp_path)})
    assert smoke.returncode == 0, smoke.stdout[-4000:] + smoke.stderr[-4000:]
    assert "smoke: passed" in smoke.stdout
    check = (tmp_path / "check.txt").read_text()
    assert "OpenGL        ok" in check and "face model    ok" in check, check
    assert (tmp_path / "demo.png").stat().st_size > 10_000
