"""The emulated link: its per-packet rules, and two real namespaces joined through it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import netns

from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Direction, Shape

TOOL = str(Path(__file__).with_name("udp_tool.py"))


def test_the_bottleneck_spaces_packets_and_drops_what_overflows_its_queue() -> None:
    d = Direction(Shape(rate_kbps=1000, queue_ms=50))
    departures = [d.admit(1250, 0.0) for _ in range(10)]  # 10 ms each at 1 Mbit/s
    assert departures[:6] == pytest.approx([0.01 * (i + 1) for i in range(6)])
    assert departures[6:] == [None] * 4 and d.dropped_queue == 4  # waited over 50 ms
    assert d.admit(1250, 1.0) == pytest.approx(1.01)  # the queue drained meanwhile


@pytest.mark.parametrize("burst", [1.0, 4.0])
def test_losses_have_the_asked_share_and_burst_length(burst: float) -> None:
    d = Direction(Shape(loss=0.05, burst=burst), seed=7)
    lost = [d.admit(100, i * 0.001) is None for i in range(200_000)]
    assert sum(lost) / len(lost) == pytest.approx(0.05, rel=0.1)
    runs, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert sum(runs) / len(runs) == pytest.approx(burst, rel=0.15)


def test_delay_keeps_order_unless_reordering_is_asked() -> None:
    d = Direction(Shape(delay_ms=50, jitter_ms=20), seed=3)
    dues = [d.admit(100, i * 0.001) for i in range(1000)]
    assert dues == sorted(dues) and min(dues) >= 0.0  # type: ignore[type-var]
    r = Direction(Shape(delay_ms=50, reorder=0.1), seed=3)
    dues = [r.admit(100, i * 0.001) for i in range(1000)]
    assert dues != sorted(dues)  # type: ignore[type-var]
    cut = Direction(Shape(cut=True))
    assert cut.admit(100, 0.0) is None and cut.dropped_cut == 1


@pytest.fixture
def lab() -> Iterator[NetLab]:
    with NetLab(seed=11) as lab:
        echo = lab.popen("b", [sys.executable, TOOL, "echo", "9999"])
        time.sleep(0.3)
        yield lab
        echo.kill()
        echo.wait()


def _json(lab: NetLab, side: str, *args: str) -> Any:
    out = lab.run(side, [sys.executable, TOOL, *args], capture_output=True, text=True, timeout=60)  # type: ignore[arg-type]
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _ping(lab: NetLab, n: int, timeout: float = 0.6) -> dict[str, Any]:
    result: dict[str, Any] = _json(lab, "a", "ping", lab.address("b"), "9999", str(n), str(timeout))
    return result


def test_two_namespaces_talk_through_the_shaped_link(lab: NetLab) -> None:
    open_link = _ping(lab, 20)
    assert len(open_link["rtts_ms"]) == 20 and max(open_link["rtts_ms"]) < 20

    lab.shape("both", Shape(delay_ms=40, jitter_ms=5))
    delayed = sorted(_ping(lab, 20)["rtts_ms"])
    assert len(delayed) == 20 and 70 < delayed[10] < 110  # 40 ms each way

    lab.shape("both", Shape(loss=0.2))
    lossy = _ping(lab, 200, timeout=0.1)
    lost = 1 - len(lossy["rtts_ms"]) / 200  # a round trip survives with 0.8 ** 2
    assert 0.2 < lost < 0.52, lost

    lab.cut()
    assert _ping(lab, 5, timeout=0.2)["rtts_ms"] == []
    lab.shape("both", Shape())
    lab.restore()
    assert len(_ping(lab, 5)["rtts_ms"]) == 5
    stats = lab.stats()
    assert stats["a->b"]["cut"] >= 5 and stats["a->b"]["lost"] > 10  # (and kernel chatter)


def test_the_rate_limit_holds_a_faster_sender_to_it(lab: NetLab) -> None:
    lab.shape("a->b", Shape(rate_kbps=1000, queue_ms=100))
    sink = lab.popen(
        "b", [sys.executable, TOOL, "sink", "9998", "4"], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.3)
    _ = lab.run("a", [sys.executable, TOOL, "blast", lab.address("b"), "9998", "3000", "2.5"])
    out, _ = sink.communicate(timeout=30)
    got = json.loads(out)
    kbps = got["bytes"] * 8 / got["seconds"] / 1000
    assert 700 < kbps < 1150, got  # 3 Mbit/s offered, 1 Mbit/s through
    assert lab.stats()["a->b"]["queue_drops"] > 100


def test_the_namespaces_are_removed_even_when_the_run_fails() -> None:
    with pytest.raises(RuntimeError), NetLab() as lab:
        names = list(lab.names.values())
        assert all(n in netns.listnetns() for n in names)
        raise RuntimeError("the test body failed")
    assert not any(n in netns.listnetns() for n in names)
