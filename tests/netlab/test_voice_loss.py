"""Voice across an emulated lossy link: both headless participants send a tone as their
microphone, 5 % of the packets are lost each way, and Bob's ear (a tone meter on Alice's
decoded Opus) must still hear Alice's tone, with what was lost recovered from Opus' FEC or
concealed rather than missing."""

from __future__ import annotations

import time

import pytest

from holocall_desktop.netlab.call import lab_call
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_voice_passes_at_5_percent_loss() -> None:
    with NetLab(seed=7) as lab:
        join = ["--headless", "--fps", "10", "--size", "424x240", "--seconds", "120",
                "--tone", "440", "--hear"]  # fmt: skip
        with lab_call(lab, join, warm_frames=5) as (alice, bob):
            lab.shape("both", Shape(loss=0.05))
            time.sleep(3)
            before = bob.stats()["audio"]["Alice"]
            time.sleep(10)
            after = bob.stats()["audio"]["Alice"]
            assert lab.stats()["a->b"]["lost"] > 20  # the link did lose packets
            received = after["receivedMs"] - before["receivedMs"]
            lost = after["lostMs"] - before["lostMs"]  # missing: neither recovered nor made up
            recovered = after["recoveredMs"] - before["recoveredMs"]
            made_up = after["concealedMs"] - before["concealedMs"]
            assert received >= 9000, (before, after)  # ~10 s of Alice's voice came
            assert recovered >= 100, (before, after)  # 5 % of 10 s lost: most came back by FEC
            assert lost <= 0.01 * received, (before, after)  # hardly anything is missing
            assert recovered + made_up <= 0.12 * received, (before, after)  # about the loss
            assert after["toneHz"] == pytest.approx(440.0, abs=3.0)
            assert after["toneShare"] >= 0.8, after  # what is heard is what was sent
        for p in (alice, bob):
            assert p.traceback is None, p.traceback
