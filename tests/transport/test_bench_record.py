"""`holocall bench record` runs a call twice (plain, recorded) and reports the recording's cost."""

from __future__ import annotations

import re

import pytest

from tests.transport.test_bench_call import SMALL_BENCH, run_bench


@pytest.mark.slow
def test_bench_record_small() -> None:
    out = run_bench("record", "--participants", "2", "--seconds", "3", *SMALL_BENCH, timeout=180)
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
