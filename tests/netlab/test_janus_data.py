"""What the group-call design relies on in Janus' data channel relay, asked of a real Janus
(Debian's janus 1.1, the project's configuration) by real aiortc peers in a network namespace:
a subscriber gets nothing until it opens a channel of its own; then every message a publisher
sends, on any of its channels, arrives on one channel labelled with the publisher's id,
ordered and reliable, binary or text as sent, whole up to 64 KB."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from holocall_desktop.netlab.lab import NetLab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
PROBE = Path(__file__).with_name("janus_data_probe.py")


def test_janus_relays_a_publishers_channels_on_one_reliable_channel_named_after_it(
    tmp_path: Path,
) -> None:
    import subprocess

    with NetLab(seed=1) as lab:
        env = {"PYTHONUNBUFFERED": "1", "HOLOCALL_ICE_HOSTS": lab.address("a")}
        out = subprocess.run(
            lab.command("a", ["env", *(f"{k}={v}" for k, v in env.items()),
                              sys.executable, str(PROBE), lab.address("a"), str(tmp_path)]),
            capture_output=True, text=True, timeout=150,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["without_own_channel"] == []  # Janus waits for the subscriber's own channel
    got = result["with_own_channel"]
    expected = [(True, n) for n in (100, 1200, 16000, 60000)] + [(True, 8), (False, 4)]
    assert [(m["binary"], m["size"]) for m in got] == expected  # all, whole, in order
    assert {m["label"] for m in got} == {"alice"}  # the publisher's id, not "hologram"/"control"
    assert all(m["ordered"] and m["maxRetransmits"] is None for m in got)
    assert all(m["maxPacketLifeTime"] is None for m in got)  # reliable: no lifetime either
    assert result["max_message_size"] == 65536
