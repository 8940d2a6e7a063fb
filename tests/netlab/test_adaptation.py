"""The quality ladder on an emulated slow link: two headless participants in their own network
namespaces; the link drops to 1 Mbit/s each way and is then lifted again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from holocall_desktop.codec.base import Quality
from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape
from holocall_desktop.transport.ladder import Ladder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
LADDER = Ladder(Quality())


def _to_bob(alice: JsonLinesProcess) -> dict[str, Any]:
    """Alice's last stats about Bob ({} while she has none)."""
    peers = alice.stats().get("peers") or [{}]
    return dict(peers[0])


def _rung(alice: JsonLinesProcess) -> int:
    name = _to_bob(alice).get("send_rung")
    return LADDER.index(name) if name else 0


def _wait(cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.5)
    return False


def _received(bob: JsonLinesProcess) -> int:
    return int(bob.stats()["received"].get("Alice", 0))


def test_a_1_mbit_link_moves_the_sender_down_the_ladder_and_lifting_it_moves_it_back_up() -> None:
    with NetLab(seed=3) as lab:
        join = ["--headless", "--seconds", "200"]
        with lab_call(lab, join, warm_frames=11) as (alice, bob):
            assert _wait(lambda: _to_bob(alice).get("send_rung") == "full", 30), _to_bob(alice)
            lab.shape("both", Shape(rate_kbps=1000.0))
            # down, to a rung the link can carry, within a few seconds
            assert _wait(lambda: (LADDER.kbps(_rung(alice)) or 0) < 1000, 10), _to_bob(alice)
            time.sleep(4)
            slow = _rung(alice)
            got0, t0 = _received(bob), time.monotonic()
            time.sleep(6)
            fps = (_received(bob) - got0) / (time.monotonic() - t0)
            assert fps >= 12, fps  # a hologram still arrives at a watchable rate
            stats = _to_bob(alice)
            assert stats["network"] in ("good", "poor") and stats["network_reason"], stats
            assert stats["estimate_kbps"] is not None and stats["estimate_kbps"] < 1500
            lab.shape("both", Shape())
            # and back up once the link is lifted
            assert _wait(lambda: _rung(alice) < slow - 1, 40), (slow, _to_bob(alice))
        for p in (alice, bob):
            assert p.traceback is None, p.traceback
