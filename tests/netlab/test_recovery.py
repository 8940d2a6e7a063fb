"""Recovery without the user: the emulated link between two headless participants is cut and
restored. A short cut is ridden out by the transports; one longer than the peer timeout drops
the peer connection, and a new one is negotiated once the link is back."""

from __future__ import annotations

import time

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess, lab_call
from holocall_desktop.netlab.lab import NetLab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _received(bob: JsonLinesProcess) -> int:
    return int(bob.stats()["received"].get("Alice", 0))


def _frames_back_after(lab: NetLab, bob: JsonLinesProcess, cut_s: float, limit_s: float) -> float:
    """Cut for ``cut_s``, restore, and the seconds until Alice's frames arrive again."""
    lab.cut()
    time.sleep(cut_s)
    stalled = _received(bob)
    lab.restore()
    restored = time.monotonic()
    while time.monotonic() - restored < limit_s:
        if _received(bob) >= stalled + 3:
            return time.monotonic() - restored
        time.sleep(0.2)
    raise AssertionError(f"no frames {limit_s:g} s after a {cut_s:g} s cut: {bob.stats()}")


def test_cuts_are_recovered_without_anyone_doing_anything() -> None:
    with NetLab(seed=5) as lab:
        join = ["--headless", "--fps", "15", "--size", "424x240", "--seconds", "200"]
        with lab_call(lab, join, warm_frames=11) as (alice, bob):
            assert _frames_back_after(lab, bob, 3.0, 5.0) < 5.0
            time.sleep(2)
            n = len(bob.lines)
            assert _frames_back_after(lab, bob, 12.0, 20.0) < 20.0
            events = bob.lines[n:]
            # the long cut broke the connection; Alice is back with her name, hologram on
            back = [e for e in events if e.get("event") == "participant"]
            assert back and back[-1]["name"] == "Alice" and back[-1]["connection"] == "connected"
            assert back[-1]["mode"] == "volumetric"
        for p in (alice, bob):
            assert p.traceback is None, p.traceback


def test_a_broken_media_path_gets_a_new_connection_while_signaling_stays_up() -> None:
    with NetLab(seed=6) as lab:
        join = ["--headless", "--fps", "15", "--size", "424x240", "--seconds", "200"]
        with lab_call(lab, join, warm_frames=11) as (alice, bob):
            n = len(bob.lines)
            lab.cut("udp")  # the media path breaks; the signaling connection (TCP) stays up
            time.sleep(12)  # longer than the 5 s peer timeout: both sides drop it
            stalled = _received(bob)
            lab.restore()
            restored = time.monotonic()
            while _received(bob) < stalled + 3 and time.monotonic() - restored < 30:
                time.sleep(0.2)
            assert _received(bob) >= stalled + 3, bob.stats()
            events = bob.lines[n:]
            assert not any(e.get("event") == "state" and e.get("state") == "reconnecting"
                           for e in events)  # fmt: skip
            # reported gone when the connection broke, and back on the new one
            assert any(e.get("event") == "left" and e["userId"] == "Alice" for e in events)
            back = [e for e in events if e.get("event") == "participant"]
            assert back and back[-1]["name"] == "Alice"
            assert back[-1]["connection"] == "connected"
        for p in (alice, bob):
            assert p.traceback is None, p.traceback
