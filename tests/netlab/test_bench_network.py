"""`holocall bench network` end to end on one short scenario, and its refusals."""

from __future__ import annotations

import argparse

import pytest

from holocall_desktop.bench import network
from holocall_desktop.errors import CliError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    network.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_bench_network_measures_a_lossy_link(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--scenarios", "loss-5", "--seconds", "6", "--size", "424x240", "--fps", "15")
    assert network.run(args) == 0
    out = capsys.readouterr().out
    assert "`holocall bench network --scenarios loss-5 --seconds 6" in out
    row = next(line for line in out.splitlines() if line.startswith("| loss-5 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) > 100  # kbit/s arrived
    assert float(cells[2]) > 5  # frames arrived at 5 % loss
    assert cells[5].endswith("%")
    assert cells[6].split("→")[0] in ("full", "high-30")  # the rungs Alice sent
    missing, made_up, tone = (c.strip() for c in cells[8].split("/"))
    assert float(missing.rstrip(" %")) < 2.0  # Alice's voice is there, its losses made good
    assert float(made_up.rstrip(" %")) > 0.5
    assert float(tone) > 0.7


def test_bench_network_refuses_unknown_scenarios() -> None:
    with pytest.raises(CliError, match="unknown scenario nope"):
        network.run(_args("--scenarios", "open,nope"))
    with pytest.raises(CliError, match="--seconds"):
        network.run(_args("--seconds", "0"))
