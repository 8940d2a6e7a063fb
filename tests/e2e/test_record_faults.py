"""`holocall record` when the output cannot take the recording: it says so and keeps the input."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import holocall


def _record_limited(
    out: Path, tmp_path: Path, limit_bytes: int
) -> subprocess.CompletedProcess[str]:
    """``holocall record`` under a file-size limit (what a full disk looks like to a writer)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "holocall_desktop", "record", "-o", str(out), "--frames", "30"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limit,
        env={"XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"},
    )


def test_recording_onto_a_full_disk_says_how_much_was_saved(tmp_path: Path) -> None:
    out = tmp_path / "full.db3"
    done = _record_limited(out, tmp_path, 300_000)
    assert done.returncode != 0, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "of 30 frames" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_recording_onto_its_own_source_is_refused_and_the_source_kept(tmp_path: Path) -> None:
    clip = tmp_path / "clip.db3"
    assert holocall("record", "-o", str(clip), "--frames", "5", tmp_path=tmp_path).returncode == 0
    before = clip.read_bytes()
    out = holocall("record", "--source", str(clip), "-o", str(clip), "--force", tmp_path=tmp_path)
    assert out.returncode != 0
    assert "is the recording being read" in out.stderr, out.stderr
    assert clip.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("folder.db3", "is a folder"),
        ("x" * 300 + ".db3", "name is too long"),
        ("/proc/out.db3", "cannot write"),  # a folder nobody may create files in, even root
    ],
)
def test_an_output_that_cannot_be_written_is_one_line(
    tmp_path: Path, name: str, reason: str
) -> None:
    (tmp_path / "folder.db3").mkdir()
    out = holocall("record", "-o", str(tmp_path / name), "--frames", "3", tmp_path=tmp_path)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_a_finished_recording_is_summarised_for_people(tmp_path: Path) -> None:
    clip = tmp_path / "clip.db3"
    out = holocall("record", "-o", str(clip), "--frames", "5", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "RecordingSummary" not in out.stdout
    assert "5 frames" in out.stdout and str(clip) in out.stdout
