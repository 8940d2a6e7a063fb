"""A group call through the SFU: four `holocall join --headless` processes, the signaling server
and a real Janus (the project's configuration), all in one network namespace (Janus gathers
no loopback candidates). The room is made for six, so its room-state says ``sfu`` and nobody
connects to anyone directly: each publishes once to Janus and receives the three others from
it, and every hologram that arrives is checked against the synthetic person its sender sent.
A fifth joins and leaves; a killed one disappears from the others."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess
from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.server.auth import generate_private_key_pem
from tests.server.janus_node import janus_node
from tests.transport.test_call_processes import EXACT, check_saved

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]
SECRET = "janus-secret-for-the-sfu-call-test"
PORT = 8766
PY = sys.executable


@pytest.fixture
def lab() -> Iterator[NetLab]:
    """This thread, and every process it starts, in the lab's namespace ``a``."""
    with NetLab(seed=3) as lab, lab.inside("a"):
        yield lab


def _received(p: JsonLinesProcess) -> dict[str, int]:
    return dict(p.stats().get("received", {}))


def _until(check: object, timeout: float, what: str, procs: list[JsonLinesProcess]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    detail = {p.proc.args[-1]: _received(p) for p in procs}  # type: ignore[index]
    raise AssertionError(f"{what}: never; received {detail}; {[p.err[-3:] for p in procs]}")


def test_four_participants_call_through_the_sfu(lab: NetLab, tmp_path: Path) -> None:
    key = tmp_path / "jwt.pem"
    key.write_bytes(generate_private_key_pem("RS256"))
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        HOLOCALL_JANUS_SECRET=SECRET,
        HOLOCALL_ICE_HOSTS=lab.address("a"),
    )
    procs: list[JsonLinesProcess] = []
    seeds = {"host": 1, "a": 2, "b": 3, "c": 4}
    dirs = {name: tmp_path / name for name in seeds}
    common = ["--headless", *EXACT, "--seconds", "200", "--save-limit", "3"]
    with janus_node(tmp_path, SECRET) as janus:
        try:
            procs.append(JsonLinesProcess([
                PY, "-m", "holocall_desktop.server.cli", "--host", "0.0.0.0", "--port", str(PORT),
                "--jwt-private-key", str(key), "--no-stun", "--cooldown", "0",
                "--log-level", "WARNING", "--janus-url", janus.url,
            ], env))  # fmt: skip
            time.sleep(3.0)
            host = JsonLinesProcess([
                PY, "-m", "holocall_desktop", "join", f"http://127.0.0.1:{PORT}", "--create",
                "--room-size", "6", *common, "--source", "synthetic:1",
                "--save-frames", str(dirs["host"]), "--name", "host",
            ], env)  # fmt: skip
            procs.append(host)
            link = host.wait_for(lambda x: x.get("event") == "invite", 60)["link"]
            people = {"host": host}
            for name in ("a", "b", "c"):
                people[name] = JsonLinesProcess([
                    PY, "-m", "holocall_desktop", "join", link, *common,
                    "--source", f"synthetic:{seeds[name]}", "--save-frames", str(dirs[name]),
                    "--name", name,
                ], env)  # fmt: skip
                procs.append(people[name])

            def everyone_sees_everyone(frames: int) -> bool:
                for name, p in people.items():
                    got = _received(p)
                    if any(got.get(o, 0) < frames for o in set(people) - {name}):
                        return False
                return True

            _until(lambda: everyone_sees_everyone(10), 120, "holograms all round", procs)
            for p in people.values():
                assert p.traceback is None, p.traceback
                # no direct connection: the others came through the SFU
                assert {s["user_id"] for s in p.stats()["peers"]} <= set(seeds)
            for receiver, directory in dirs.items():
                for sender in set(seeds) - {receiver}:
                    assert check_saved(directory, sender, seeds[sender], exact_mask=True) == 3

            # a fifth joins, is seen, and leaves
            fifth = JsonLinesProcess([
                PY, "-m", "holocall_desktop", "join", link, "--headless", *EXACT,
                "--source", "synthetic:5", "--seconds", "20", "--name", "e",
            ], env)  # fmt: skip
            procs.append(fifth)
            _until(
                lambda: all(_received(p).get("e", 0) >= 5 for p in people.values()),
                90, "the fifth one's holograms", procs,
            )  # fmt: skip
            assert fifth.proc.wait(90) == 0, fifth.err[-5:]
            for p in people.values():
                p.wait_for(lambda x: x.get("event") == "left" and x.get("userId") == "e", 20)

            # a killed one disappears from the others
            people["c"].proc.kill()
            killed = time.monotonic()
            for name in ("host", "a", "b"):
                people[name].wait_for(
                    lambda x: x.get("event") == "left" and x.get("userId") == "c", 15
                )
            assert time.monotonic() - killed < 8
            for name in ("host", "a", "b"):
                assert people[name].traceback is None, people[name].traceback
        finally:
            for p in reversed(procs):
                p.stop()
