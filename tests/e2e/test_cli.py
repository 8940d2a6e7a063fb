"""The `holocall` commands as a user runs them: real processes, real window under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.gui


def holocall(*args: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "holocall_desktop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    out = holocall("--help", tmp_path=tmp_path)
    assert out.returncode == 0
    for command in ("demo", "replay", "record", "bench"):
        assert command in out.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("replay", "missing.bag"), "no such file"),
        (("replay", "README.md"), "not a RealSense recording"),
        (("record", "-o", "out.bag", "--frames", "3"), ".db3"),
        (("record", "-o", "out.db3"), "--frames or --seconds"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(
    args: tuple[str, ...], reason: str, tmp_path: Path
) -> None:
    out = holocall(*args, tmp_path=tmp_path)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_demo_shows_the_person_and_saves_a_screenshot(tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    out = holocall("demo", "--screenshot", str(shot), "--frames", "8", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    h, w, _ = image.shape
    assert w >= 640 and h >= 400
    # skin and shirt colours of the synthetic person appear in the middle of the window
    middle = image[h // 4 : h * 3 // 4, w // 3 : w * 2 // 3]
    shirt = (middle[..., 2] > middle[..., 0] + 60).mean()
    skin = ((middle[..., 0] > 150) & (middle[..., 0] > middle[..., 2] + 40)).mean()
    assert shirt > 0.02 and skin > 0.002, (shirt, skin)


def test_record_then_replay(tmp_path: Path) -> None:
    clip = tmp_path / "clip.db3"
    out = holocall("record", "-o", str(clip), "--frames", "12", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert clip.stat().st_size > 0
    again = holocall("record", "-o", str(clip), "--frames", "3", tmp_path=tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr
    out = holocall("replay", str(clip), "--frames", "5", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
