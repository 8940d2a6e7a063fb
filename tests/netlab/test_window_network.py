"""The window tells the user how the network to each participant is: the app's window joins a
call in one namespace, next to Bob, while Alice is behind the emulated link; the link then loses
15 % of its packets each way."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape

pytestmark = [pytest.mark.slow, pytest.mark.gui, pytest.mark.timeout(300)]
PROBE = Path(__file__).with_name("window_probe.py")


def _panel(window: JsonLinesProcess, timeout: float, pred: Any) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        panels = [x for x in window.lines if x.get("event") == "panel"]
        if panels:
            seen = panels[-1]["texts"]
            if pred(seen):
                return seen
        assert window.proc.poll() is None, "".join(window.err[-40:])
        time.sleep(0.5)
    raise AssertionError(f"the panel never showed it: {seen}")


def test_the_window_shows_poor_for_a_participant_behind_a_lossy_link(xvfb: Any) -> None:
    with NetLab(seed=4) as lab:
        join = ["--headless", "--fps", "10", "--size", "424x240", "--seconds", "200"]
        with lab_call(lab, join, warm_frames=5) as (alice, bob):
            link = next(x for x in alice.lines if x.get("event") == "invite")["link"]
            link = link.replace("127.0.0.1", lab.address("a"))
            env = dict(os.environ, PYTHONUNBUFFERED="1", HOLOCALL_ICE_HOSTS=lab.address("b"))
            window = JsonLinesProcess(
                lab.command("b", [sys.executable, str(PROBE), link, "150"]), env
            )
            try:
                connected = _panel(
                    window,
                    60,
                    lambda t: all("Excellent" in t.get(u, "") for u in ("Alice", "Bob")),
                )
                assert "hologram" in connected["Alice"]
                lab.shape("both", Shape(loss=0.15))
                # Poor, and it says why (the rung may fall a report before the loss is named)
                texts = _panel(
                    window, 30, lambda t: "Poor" in t.get("Alice", "") and "loss" in t["Alice"]
                )
                # Bob's way does not cross the link: no loss is his (a busy 2-core machine may
                # still slow what the window sends him: that is its CPU, not the link)
                assert "loss" not in texts["Bob"], texts["Bob"]
            finally:
                window.stop()
            assert not any("Traceback" in line for line in window.err), "".join(window.err)
        for p in (alice, bob):
            assert p.traceback is None, p.traceback
