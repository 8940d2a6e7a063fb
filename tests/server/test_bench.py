"""`holocall bench signal` runs end to end on a small load (ours only: the Node peer needs npm)."""

from __future__ import annotations

import argparse

import pytest

from holocall_desktop.bench import signal as bench


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_bench_signal_small_run(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(
        "--servers", "ours", "--connections", "40", "--workers", "2", "--rate", "100",
        "--duration", "1", "--saturate", "0.5", "--pairs", "5", "--waves", "2",
    )  # fmt: skip
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "`holocall bench signal --connections 40" in out
    row = next(line for line in out.splitlines() if line.startswith("| holocall-signal"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1].startswith("40 / 40")
    delivered, sent = (int(x.replace(",", "")) for x in cells[5].split(" / "))
    assert sent >= 90 and delivered == sent
    assert cells[2].endswith(" ms") and float(cells[2].split()[0]) > 0
    # every connection closed and opened again twice, the server's RSS after each wave
    waves = next(line for line in out.splitlines() if "RSS closed / reconnected" in line)
    assert waves.count("→") == 1 and waves.endswith(" MB"), waves


def test_bench_signal_rejects_bad_input() -> None:
    from holocall_desktop.cli import CliError

    with pytest.raises(CliError, match="room-size"):
        bench.run(_args("--room-size", "7"))
    with pytest.raises(CliError):
        bench.run(_args("--rate", "0"))
