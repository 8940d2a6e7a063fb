"""Recording a call with consent, between separate `holocall join --headless` processes through
a real signaling server and real aiortc, replayed with `holocall replay FILE --headless`: what
each participant allowed is recorded (holograms as sent, checked against the source; voice
checked by its tone), nothing of one who refused, and a recorder stopped by SIGINT or killed
leaves a file that replays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.transport.conftest import SMALL, Participant, RunningServer, host_and_link
from tests.transport.test_call_processes import check_saved

Start = Callable[[list[str]], Participant]
EXACT = [*SMALL, "--no-adapt"]  # frames as the source gave them: checkable against it
pytestmark = pytest.mark.slow


def replay(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "holocall_desktop", "replay", str(path), "--headless", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        check=False,
    )


def report_of(path: Path, *extra: str) -> dict[str, Any]:
    out = replay(path, *extra)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    report = json.loads(out.stdout)
    assert isinstance(report, dict)
    return report


def person(report: dict[str, Any], user: str) -> dict[str, Any]:
    found = [p for p in report["participants"] if p["userId"] == user]
    assert found, f"{user} is not in the recording: {report['participants']}"
    return found[0]


def received(p: Participant, user: str) -> int:
    stats = p.events("stats")
    return int(stats[-1]["received"].get(user, 0)) if stats else 0


def record_call(
    participants: Start,
    server: RunningServer,
    path: Path,
    guests: dict[str, list[str]],
    host_extra: tuple[str, ...] = (),
) -> tuple[Participant, dict[str, Participant]]:
    """The host records; each guest joins with its own arguments; about 10 s of call once
    everyone's frames flow."""
    host, link = host_and_link(
        participants, server, [*EXACT, "--seconds", "120", "--record", str(path), *host_extra]
    )
    others = {
        name: participants([link, "--name", name, *EXACT, "--seconds", "120", *args])
        for name, args in guests.items()
    }
    host.wait_for(
        lambda _x: all(received(host, n) >= 3 for n in guests), 60, "frames from every guest"
    )
    time.sleep(10.0)
    return host, others


def test_a_call_recorded_with_consent_replays_what_each_allowed(
    signal_server: RunningServer, participants: Start, tmp_path: Path
) -> None:
    path = tmp_path / "call.rec"  # any name: a call file is known by its content
    guests = {
        "a": ["--consent", "yes", "--source", "synthetic:2", "--tone", "440", "--say", "hi from a"],
        "b": ["--consent", "yes", "--source", "synthetic:3", "--tone", "660"],
    }
    host, others = record_call(
        participants, signal_server, path, guests, ("--source", "synthetic:1", "--tone", "550")
    )
    # everyone sees that the host records
    for name, p in others.items():
        assert any(x["userId"] == "host" and x["recording"] for x in p.events("participant")), name
    sent = {n: received(host, n) for n in guests}
    host.terminate()
    assert host.finish(30) == 0, host.stderr[-10:]
    started = host.events("recording")
    assert [x["state"] for x in started] == ["started", "stopped"]
    assert "error" not in started[-1]

    frames = tmp_path / "frames"
    report = report_of(path, "--save-frames", str(frames), "--save-limit", "3")
    assert not report["truncated"] and report["durationS"] >= 9
    assert report["metadata"]["recorder"] == "host"
    for name, seed, hz in (("a", 2, 440.0), ("b", 3, 660.0)):
        p = person(report, name)
        assert p["name"] == name and p["allows"] == ["voice", "hologram"]
        # every frame the host drew was recorded (and a few it dropped as newer ones came)
        assert p["decoded"] == p["holograms"] >= max(60, sent[name] - 5) and p["bad"] == 0
        assert check_saved(frames, name, seed=seed, exact_mask=True) == 3
        voice = p["voice"]
        assert voice["receivedMs"] >= 9000 and voice["toneHz"] == pytest.approx(hz, abs=3)
        assert voice["toneShare"] > 0.8
    assert [c["text"] for c in report["chat"] if c["userId"] == "a"] == ["hi from a"]
    # the recorder's own hologram (as sent) and voice are in the file too
    own = person(report, "host")
    assert own["recorder"] and own["decoded"] == own["holograms"] >= 60 and own["bad"] == 0
    assert check_saved(frames, "host", seed=1, exact_mask=True) == 3
    assert own["voice"]["toneHz"] == pytest.approx(550.0, abs=3)
    for p in others.values():
        p.terminate()
        assert p.finish(30) == 0
        assert not any("Traceback" in line for line in p.stderr)


def test_nothing_is_recorded_of_a_participant_who_refuses(
    signal_server: RunningServer, participants: Start, tmp_path: Path
) -> None:
    path = tmp_path / "call.rec"
    guests = {
        "voiceonly": ["--consent", "voice", "--source", "synthetic:2", "--tone", "440"],
        "refuser": ["--source", "synthetic:3", "--tone", "660", "--say", "do not keep this"],
    }
    host, others = record_call(participants, signal_server, path, guests)
    host.terminate()
    assert host.finish(30) == 0
    report = report_of(path)
    refuser = person(report, "refuser")  # they were there (name and seat) ...
    assert refuser["allows"] == []
    # ... but nothing of theirs was kept
    assert refuser["holograms"] == refuser["avatars"] == refuser["voicePackets"] == 0
    assert refuser["chat"] == 0 and all(c["userId"] != "refuser" for c in report["chat"])
    voiceonly = person(report, "voiceonly")
    assert voiceonly["holograms"] == 0 and voiceonly["voicePackets"] > 300
    assert voiceonly["voice"]["toneHz"] == pytest.approx(440.0, abs=3)
    for p in others.values():
        p.terminate()
        p.finish(30)


@pytest.mark.parametrize("stop", ["sigint", "kill"])
def test_a_recorder_interrupted_or_killed_leaves_a_file_that_replays(
    signal_server: RunningServer, participants: Start, tmp_path: Path, stop: str
) -> None:
    path = tmp_path / "call.rec"
    host, others = record_call(
        participants, signal_server, path, {"a": ["--consent", "yes", "--tone", "440"]}
    )
    frames = received(host, "a")
    if stop == "sigint":
        host.proc.send_signal(signal.SIGINT)
        assert host.finish(30) == 130
    else:
        host.kill()
        host.finish(30)
    report = report_of(path)
    assert report["truncated"] is (stop == "kill")
    a = person(report, "a")
    # a kill loses at most the last second (10 frames at 10 fps); SIGINT nothing
    assert a["decoded"] == a["holograms"] >= frames - (15 if stop == "kill" else 5)
    for p in others.values():
        p.terminate()
        p.finish(30)


def test_a_foreign_file_explains_itself(tmp_path: Path) -> None:
    path = tmp_path / "notes.rec"
    path.write_bytes(b"\x89MCAP0\r\n" + os.urandom(64))
    out = replay(path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"holocall: error: {path} is damaged before its first message")
