"""What a desktop launcher passes to `holocall` (Exec=holocall %u) opens the right command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from holocall_desktop.cli import route


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["app"]),
        (["--source", "synthetic"], ["app", "--source", "synthetic"]),
        (["--version"], ["--version"]),
        (["holocall://h:8765/r1?invite=s"], ["join", "holocall://h:8765/r1?invite=s"]),
        (["HOLOCALLS://h/r1?invite=s"], ["join", "HOLOCALLS://h/r1?invite=s"]),
        (["/home/a/Take 1.bag"], ["replay", "/home/a/Take 1.bag"]),
        (["file:///home/a/Take%201.db3"], ["replay", "/home/a/Take 1.db3"]),
        (["rec.DB3", "--frames", "3"], ["replay", "rec.DB3", "--frames", "3"]),
        (["call-20261201.holocall"], ["replay", "call-20261201.holocall"]),
        (["demo", "--no-call"], ["demo", "--no-call"]),
    ],
)
def test_a_launchers_argument_picks_the_command(argv: list[str], expected: list[str]) -> None:
    assert route(argv) == expected


def test_opening_a_missing_recording_says_so_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "gone.bag"
    run = subprocess.run(
        [sys.executable, "-m", "holocall_desktop", f"file://{missing}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == f"holocall: error: {missing}: no such file"
