"""A call across an emulated lossy link: two headless participants in their own network
namespaces, the signaling server in the first, 5 % of packets lost each way."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def call() -> Iterator[tuple[NetLab, JsonLinesProcess, JsonLinesProcess]]:
    with NetLab(seed=2) as lab:
        join = ["--headless", "--fps", "15", "--seconds", "120"]
        with lab_call(lab, join, warm_frames=11) as (alice, bob):
            yield lab, alice, bob
        for p in (alice, bob):
            assert p.traceback is None, p.traceback


def _frames(alice: JsonLinesProcess, bob: JsonLinesProcess) -> tuple[int, int]:
    """(frames Alice sent to Bob, frames Bob received from Alice), from their last stats."""
    a = [x for x in alice.lines if x.get("event") == "stats" and x.get("peers")][-1]
    b = [x for x in bob.lines if x.get("event") == "stats"][-1]
    return int(a["peers"][0]["frames_out"]), int(b["received"].get("Alice", 0))


def test_at_5_percent_loss_most_holograms_still_arrive(
    call: tuple[NetLab, JsonLinesProcess, JsonLinesProcess],
) -> None:
    lab, alice, bob = call
    lab.shape("both", Shape(loss=0.05))
    time.sleep(4)  # let the rate control settle
    sent0, got0 = _frames(alice, bob)
    time.sleep(15)
    sent1, got1 = _frames(alice, bob)
    sent, got = sent1 - sent0, got1 - got0
    assert lab.stats()["a->b"]["lost"] > 100  # the link did lose packets
    assert sent >= 15 * 15 * 0.6, (sent, got)  # the sender was not driven down
    assert got >= 0.85 * sent, (sent, got)  # and nearly every frame it sent arrived
