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


def holocall(
    *args: str, tmp_path: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONUNBUFFERED="1", **(env or {})
    )
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
    app = holocall("app", "--help", tmp_path=tmp_path)
    assert "webcam" in app.stdout  # every kind of source is named


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


def test_demo_runs_a_call_and_saves_a_screenshot(tmp_path: Path) -> None:
    """One command, no hardware: a local server, a simulated participant, you joining."""
    shot = tmp_path / "demo.png"
    out = holocall("demo", "--screenshot", str(shot), "--frames", "10", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    h, w, _ = image.shape
    assert w >= 640 and h >= 400
    red = (
        (image[..., 0] > 120)
        & (image[..., 0] > image[..., 1] + 60)
        & (image[..., 0] > image[..., 2] + 60)
    )
    blue = (image[..., 2] > 120) & (image[..., 2] > image[..., 0] + 60)
    # the simulated participant (red shirt) across the table, in the upper middle of the room
    assert red[h // 5 : h * 3 // 4, w // 5 : w * 3 // 5].mean() > 0.02
    # you (blue shirt), in the self-view in the lower right corner of the room view only
    assert blue[h // 2 :, w // 2 :].sum() > 200
    # (below the toolbars: the microphone meter's bar is blue when a sound server is running)
    assert blue[h // 8 : h // 2].sum() < 50


@pytest.mark.parametrize(
    "content", [b"", b"not a recording at all", b"#ROSBAG V2.0\n" + b"\x00" * 64], ids=str
)
def test_scripted_replay_of_an_unreadable_recording_exits_1(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.bag"
    bad.write_bytes(content)
    shot = tmp_path / "shot.png"
    out = holocall(
        "replay",
        str(bad),
        "--screenshot",
        str(shot),
        "--frames",
        "5",
        tmp_path=tmp_path,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("holocall: error:")]
    assert len(errors) == 1 and "bad.bag" in errors[0], out.stderr
    assert "Traceback" not in out.stderr
    assert shot.exists()  # the window as it was: with the error banner


def test_scripted_window_on_a_bad_source_exits_1(tmp_path: Path) -> None:
    out = holocall(
        "app",
        "--source",
        "webcam:/no/such/video.avi",
        "--frames",
        "5",
        tmp_path=tmp_path,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_a_recording_shorter_than_the_frames_asked_for_ends_the_run(tmp_path: Path) -> None:
    clip = tmp_path / "clip.db3"
    out = holocall("record", "-o", str(clip), "--frames", "5", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    settings = tmp_path / "settings.ini"
    settings.write_text("[playback]\nloop=false\n")
    env = {"HOLOCALL_SETTINGS": str(settings)}
    out = holocall("replay", str(clip), "--frames", "500", tmp_path=tmp_path, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]


def test_record_then_replay(tmp_path: Path) -> None:
    clip = tmp_path / "clip.db3"
    out = holocall("record", "-o", str(clip), "--frames", "12", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert clip.stat().st_size > 0
    again = holocall("record", "-o", str(clip), "--frames", "3", tmp_path=tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr
    out = holocall("replay", str(clip), "--frames", "5", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]


def test_join_opens_the_window_in_the_call(tmp_path: Path) -> None:
    """`holocall join LINK`: the app starts already in that call (here the demo's room)."""
    from holocall_desktop.demo import DemoBackend

    backend = DemoBackend(startup_timeout=30.0)
    try:
        backend.start("placeholder", "Placeholder")  # starts the server and Ava's room
        assert backend.remote is not None and backend.remote.invite_link is not None
        shot = tmp_path / "join.png"
        out = holocall(
            "join",
            backend.remote.invite_link,
            "--name",
            "Guest",
            "--screenshot",
            str(shot),
            "--frames",
            "8",
            tmp_path=tmp_path,
        )
    finally:
        backend.stop()
    assert out.returncode == 0, out.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    h, w, _ = image.shape
    red = (
        (image[..., 0] > 120)
        & (image[..., 0] > image[..., 1] + 60)
        & (image[..., 0] > image[..., 2] + 60)
    )
    assert red[h // 5 : h * 3 // 4, w // 5 : w * 3 // 5].mean() > 0.02  # Ava, across the table


@pytest.mark.parametrize("delay", [0.05, 0.08, 0.11, 0.14, 0.2, 0.3, 0.5])
def test_ctrl_c_at_any_moment_is_one_line(tmp_path: Path, delay: float) -> None:
    import signal
    import time

    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "holocall_desktop", "record", "-o", str(tmp_path / "x.db3"),
         "--seconds", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    # 0: stopped and saved; 130 or killed by SIGINT: interrupted (with one line)
    assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)
    assert len(err.strip().splitlines()) <= 1, err


def test_without_opengl_the_window_commands_say_so_in_one_line(tmp_path: Path) -> None:
    """Qt's offscreen platform has no usable OpenGL (none without a display, a 2.0 context with
    one): the user reads why, not a shader error."""
    out = holocall(
        "demo", "--screenshot", str(tmp_path / "x.png"), tmp_path=tmp_path,
        env={"QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("holocall: error: OpenGL")
    assert "HoloCall draws its 3D room with OpenGL 2.1 or newer" in lines[0]
    assert "Shader" not in out.stderr and not (tmp_path / "x.png").exists()


def test_check_reports_opengl_the_face_model_audio_and_cameras(tmp_path: Path) -> None:
    out = holocall("check", tmp_path=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert " ok " in lines["OpenGL"] and "GLSL" in lines["OpenGL"]
    assert " ok " in lines["face"] and "face_landmarker.task" in lines["face"]
    for part in ("microphone", "speakers", "depth"):
        assert part in lines  # present or missing, each is told
    offscreen = holocall("check", tmp_path=tmp_path, env={"QT_QPA_PLATFORM": "offscreen"})
    assert offscreen.returncode == 1
    assert "OpenGL        FAILED  OpenGL " in offscreen.stdout
    assert offscreen.stderr.strip().endswith("holocall: error: OpenGL unusable (see above)")
    assert "Traceback" not in out.stderr + offscreen.stderr


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_call_bar_at_the_bottom_in_both_themes(tmp_path: Path, theme: str) -> None:
    """The in-call window as the user sees it: the bar of icon buttons along the bottom, in the
    theme asked for, with *Leave call* in red at its right."""
    shot = tmp_path / f"call-{theme}.png"
    out = holocall(
        "demo",
        "--screenshot",
        str(shot),
        "--frames",
        "5",
        tmp_path=tmp_path,
        env={"HOLOCALL_THEME": theme},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    h, w, _ = image.shape
    status_and_bar = image[h - 110 :]  # the bar (icons over names) above the status bar
    brightness = status_and_bar.mean(axis=2)
    background = np.median(brightness)
    assert background < 70 if theme == "dark" else background > 200
    # icons and names in the theme's text colour: light on dark, dark on light
    ink = brightness > 190 if theme == "dark" else brightness < 90
    assert ink[:, : w // 2].sum() > 400
    # Leave call: a red button in the right part of the bar
    red = (
        (status_and_bar[..., 0] > 180)
        & (status_and_bar[..., 1] < 90)
        & (status_and_bar[..., 2] < 90)
    )
    assert red[:, w * 3 // 4 :].sum() > 300
    assert red[:, : w // 2].sum() < 100  # (the Record icon's dot is the only other red)
    # the room above it: the dark 3-D room, whatever the theme
    assert image[h // 3 : h // 2, w // 3 : w * 2 // 3].mean() < 90
