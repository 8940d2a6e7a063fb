"""`holocall bench soak` runs a (short) call and reports every process over time."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from holocall_desktop.bench.soak import sample


def test_sampling_reads_this_process() -> None:
    s = sample(os.getpid(), 0.0)
    assert s is not None and s.rss_mb > 10 and s.fds > 2 and s.threads >= 1
    assert sample(2**22 + 12345, 0.0) is None  # no such process: no sample


@pytest.mark.slow
def test_bench_soak_small() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "holocall_desktop", "bench", "soak", "--seconds", "6",
         "--every", "2", "--warmup", "4", "--size", "160x120", "--fps", "10"],
        capture_output=True, text=True, timeout=180, check=False,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stderr[-2000:]  # 1: a process grew in so short a run
    for name in ("server", "host", "guest"):
        rows = re.findall(rf"^\| {name} \| \d+ \| [0-9.]+ \| \d+ \| \d+ \|$", out.stdout, re.M)
        assert len(rows) >= 3, out.stdout
        assert re.search(rf"^\| {name} \| .* \| (steady|GROWS) \|$", out.stdout, re.M)
    got = re.search(r"holograms the host received from the guest: (\d+)", out.stdout)
    assert got and int(got[1]) > 20, out.stdout  # the call carried holograms all along
