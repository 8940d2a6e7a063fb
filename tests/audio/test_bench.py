"""`holocall bench audio` runs end to end (small load) and rejects bad arguments."""

from __future__ import annotations

import argparse

import pytest

from holocall_desktop.audio.virtual import VirtualSoundServer
from holocall_desktop.bench import audio as bench


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    return p.parse_args(list(argv))


def test_mixer_cost_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.run(parse("--skip-latency", "--participants", "1,3", "--blocks", "20")) == 0
    out = capsys.readouterr().out
    assert "| 1 |" in out and "| 3 |" in out and "µs per voice" in out


@pytest.mark.parametrize(
    "argv", [("--participants", "x"), ("--blocks", "1"), ("--repeat", "0"), ("--seconds", "1")]
)
def test_bad_arguments(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.run(parse(*argv)) == 2
    assert capsys.readouterr().out.startswith("error:")


def test_latency_round_end_to_end(
    pulse: VirtualSoundServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("--participants", "1", "--blocks", "10", "--seconds", "3", "--repeat", "1")
    assert bench.run(parse(*argv)) == 0
    out = capsys.readouterr().out
    assert "low-latency receiver, playout 1 block" in out
    rows = [line for line in out.splitlines() if line.startswith("| low-latency")]
    assert len(rows) == 2
