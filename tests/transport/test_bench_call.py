"""`holocall bench call` runs end to end on a small load and prints its table."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


def run_bench(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``holocall bench NAME ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "holocall_desktop", "bench", name, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        check=False,
    )


#: a call as small as still measures something
SMALL_BENCH = ["--size", "160x120", "--fps", "10", "--warmup", "1", "--preload", "5"]


@pytest.mark.slow
def test_bench_call_small() -> None:
    out = run_bench("call", "--participants", "2", "--seconds", "2", *SMALL_BENCH)
    assert out.returncode == 0, out.stderr[-2000:]
    row = re.search(r"^\| 2 \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| (\d+) \|", out.stdout, re.M)
    assert row, out.stdout
    join_s, p50, p95, frames = float(row[1]), float(row[2]), float(row[3]), int(row[4])
    assert 0 < join_s < 10 and 0 < p50 <= p95 < 5000 and frames > 10
    assert "Targets:" in out.stdout


def test_bench_call_refuses_a_mesh_too_large() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "holocall_desktop", "bench", "call", "--participants", "4"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "2 or 3 participants" in out.stderr
