"""`holocall bench record` runs a call twice (plain, recorded) and reports the recording's cost."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_record_small() -> None:
    out = subprocess.run(
        [
            *[sys.executable, "-m", "holocall_desktop", "bench", "record", "--participants", "2"],
            *["--size", "160x120", "--fps", "10", "--seconds", "3", "--warmup", "1"],
            *["--preload", "5"],
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for run in ("not recorded", "recorded"):
        assert re.search(rf"^\| {run} \| [0-9.]+ \| [0-9.]+ \|$", out.stdout, re.M), out.stdout
    assert re.search(r"costs the recorder [0-9.]+× its CPU", out.stdout), out.stdout
    rates = re.search(
        r"Call file: ([0-9.]+) MB .* \(holograms ([0-9.]+), voice ([0-9.]+),", out.stdout
    )
    assert rates, out.stdout
    total, holograms, voice = (float(x) for x in rates.groups())
    # the file compresses what it holds; voice (~64 kbit/s: ~0.5 MB a minute while it runs)
    # covers only part of so short a file's span
    assert 0 < total < holograms + voice and holograms > 0 and 0.02 < voice < 1.0
