"""The headless participant as a library (the demo runs it in a background thread) and the
`holocall join` command line's refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from holocall_desktop.session.headless import HeadlessParticipant, LoopedSource, user_id_for
from holocall_desktop.transport.api import CallState
from tests.transport.conftest import RunningServer
from tests.transport.engines import engine, guest_config, host_config


def test_headless_participant_in_a_background_thread(signal_server: RunningServer) -> None:
    lines: list[dict[str, Any]] = []
    lock = threading.Lock()

    def emit(obj: dict[str, Any]) -> None:
        with lock:
            lines.append(obj)

    with engine(host_config(signal_server.url)) as (host, rec):
        rec.wait_state(CallState.JOINED)
        bot = HeadlessParticipant(
            guest_config(host, signal_server.url, "bot"),
            "synthetic:4",
            fps=10,
            size=(160, 120),
            emit=emit,
        )
        bot.start()  # returns at once; the call runs on the bot's threads
        try:
            info = rec.wait_connected("bot")
            assert info.seat == 1
            frame = host.remote.frame("bot").wait(15)
            assert frame is not None and frame.frame.width == 160
            rec.wait(lambda: any(i.display_name == "Bot" for i in rec.infos), 10, "bot's name")
        finally:
            bot.stop()
        rec.wait(lambda: ("bot", "left") in rec.left, 10, "the bot leaving")
    assert bot.engine.state == CallState.LEFT
    with lock:
        states = [x["state"] for x in lines if x.get("event") == "state"]
    assert states[:2] == ["connecting", "joined"] and states[-1] == "left"


def test_looped_source_is_cheap_and_numbers_frames() -> None:
    from holocall_desktop.capture.synthetic import SyntheticPersonSource

    src = LoopedSource(SyntheticPersonSource(96, 64, fps=100, realtime=False), 3, fps=100)
    src.start()
    frames = [src.read() for _ in range(7)]
    assert [f.frame_number for f in frames if f is not None] == list(range(7))
    assert frames[3] is not None and frames[0] is not None
    assert (frames[3].depth == frames[0].depth).all()


def test_user_ids_from_names() -> None:
    assert user_id_for("Guest One") == "Guest-One"
    assert user_id_for("Zoë 🙂!") == "Zo"
    assert user_id_for("   ") == "guest"
    assert len(user_id_for("x" * 100)) == 64


def join(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "holocall_desktop", "join", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, HOLOCALL_ICE_HOSTS="127.0.0.1"),
        check=False,
    )


LINK_1S = ["holocall://h/r?invite=0123456789", "--headless", "--seconds", "1"]


def test_join_command_line_refusals() -> None:
    cases = [
        (["ftp://x"], "an invite link starts with holocall://"),  # the windowed join checks too
        (
            [
                *["holocall://h/r?invite=0123456789", "--headless", "--seconds", "1"],
                "--screenshot",
                "x.png",
            ],
            "for the window",
        ),
        (["ftp://x", "--headless", "--frames", "1"], "an invite link starts with holocall://"),
        (["holocall://h:3000/r?invite=0123456789", "--headless"], "give --frames N or --seconds"),
        (["holocall://h/r?invite=0123456789", "--headless", "--seconds", "-1"], "positive"),
        (
            ["holocall://h/r?invite=0123456789", "--headless", "--seconds", "1", "--size", "x"],
            "WIDTHxHEIGHT",
        ),
        (
            [*LINK_1S, "--source", "synthetic:abc"],
            "seed must be a whole number",
        ),
        (
            ["holocall://h/r?invite=0123456789", "--headless", "--seconds", "1", "--codec", "x"],
            "unknown codec 'x'",
        ),
    ]
    for args, reason in cases:
        out = join(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0], (args, out.stderr)


def test_unreachable_server_fails_with_one_json_line_and_exit_1() -> None:
    out = join("holocall://127.0.0.1:9/r?invite=0123456789", "--headless", "--seconds", "5")
    assert out.returncode == 1, out.stderr
    states = [line for line in out.stdout.splitlines() if '"state":"failed"' in line]
    assert states and "cannot reach the signaling server" in states[0]


def test_synthetic_seed_spec() -> None:
    import pytest

    from holocall_desktop.capture.base import SourceError
    from holocall_desktop.capture.open import open_source
    from holocall_desktop.capture.synthetic import SyntheticPersonSource

    a, b = open_source("synthetic:3"), open_source(" Synthetic:3 ")
    assert isinstance(a, SyntheticPersonSource) and isinstance(b, SyntheticPersonSource)
    assert a.seed == b.seed == 3
    plain = open_source("synthetic")
    assert isinstance(plain, SyntheticPersonSource) and plain.seed == 0
    # another seed is another person (shirt colour, noise)
    assert not (a.frame(0).color == plain.frame(0).color).all()  # type: ignore[union-attr]
    for bad in ("synthetic:", "synthetic:-1", "synthetic:x"):
        with pytest.raises(SourceError, match="seed must be a whole number"):
            open_source(bad)


def test_a_source_that_fails_during_the_call_is_reported(
    signal_server: RunningServer, tmp_path: Path
) -> None:
    """A host whose video stops: the JSON lines (held for the invite) and one stderr line."""
    import time

    import cv2
    import numpy as np

    video = tmp_path / "me.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    proc = subprocess.Popen(
        [sys.executable, "-m", "holocall_desktop", "join", signal_server.url, "--create",
         "--headless", "--source", f"webcam:{video}", "--seconds", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, HOLOCALL_ICE_HOSTS="127.0.0.1"),
    )  # fmt: skip
    time.sleep(0.2)
    video.unlink()  # when the video loops, it is gone
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert '"event":"error"' in out and "source:" in out
    lines = [line for line in err.splitlines() if line.startswith("holocall: error:")]
    assert len(lines) == 1 and "source:" in lines[0], err
    assert "Traceback" not in err
