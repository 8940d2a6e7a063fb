"""A call across an emulated lossy link: two headless participants in their own network
namespaces, the signaling server in the first, 5 % of packets lost each way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.netlab.shape import Shape
from holocall_desktop.server.auth import generate_private_key_pem

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
PY = sys.executable


class _Proc:
    def __init__(self, lab: NetLab, side: str, argv: list[str], env: dict[str, str]) -> None:
        self.proc = lab.popen(
            side,
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,  # type: ignore[arg-type]
        )
        self.lines: list[dict[str, Any]] = []
        self.err: list[str] = []
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.append(json.loads(line))
            except json.JSONDecodeError:
                self.lines.append({"text": line})

    def _err(self) -> None:
        assert self.proc.stderr is not None
        self.err.extend(self.proc.stderr)

    def wait_for(self, pred: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if pred(line):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"timed out; last lines {self.lines[-3:]}; stderr {self.err[-10:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def lab_call(tmp_path: Path) -> Iterator[tuple[NetLab, _Proc, _Proc]]:
    key = tmp_path / "jwt.pem"
    key.write_bytes(generate_private_key_pem("RS256"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOLOCALL_ADMIN_TOKEN="t" * 32)
    with NetLab(seed=2) as lab:
        server = _Proc(lab, "a", [
            PY, "-m", "holocall_desktop.server.cli", "--host", "0.0.0.0", "--port", "8765",
            "--jwt-private-key", str(key), "--no-stun", "--cooldown", "0",
        ], env)  # fmt: skip
        procs = [server]
        try:
            time.sleep(3)
            common = ["--headless", "--fps", "15", "--seconds", "120"]
            alice = _Proc(lab, "a", [
                PY, "-m", "holocall_desktop", "join", "http://127.0.0.1:8765", "--create",
                "--name", "Alice", *common,
            ], dict(env, HOLOCALL_ICE_HOSTS=lab.address("a")))  # fmt: skip
            procs.append(alice)
            invite = alice.wait_for(lambda x: x.get("event") == "invite", 60)["link"]
            link = invite.replace("127.0.0.1", lab.address("a"))
            bob_env = dict(env, HOLOCALL_ICE_HOSTS=lab.address("b"))
            bob = _Proc(
                lab, "b", [PY, "-m", "holocall_desktop", "join", link, "--name", "Bob", *common],
                bob_env,
            )  # fmt: skip
            procs.append(bob)
            bob.wait_for(lambda x: x.get("received", {}).get("Alice", 0) > 10, 60)
            yield lab, alice, bob
        finally:
            for p in reversed(procs):
                p.stop()
        for p in (alice, bob):
            assert not any("Traceback" in line for line in p.err), "".join(p.err)


def _frames(alice: _Proc, bob: _Proc) -> tuple[int, int]:
    """(frames Alice sent to Bob, frames Bob received from Alice), from their last stats."""
    a = [x for x in alice.lines if x.get("event") == "stats" and x.get("peers")][-1]
    b = [x for x in bob.lines if x.get("event") == "stats"][-1]
    return int(a["peers"][0]["frames_out"]), int(b["received"].get("Alice", 0))


def test_at_5_percent_loss_most_holograms_still_arrive(
    lab_call: tuple[NetLab, _Proc, _Proc],
) -> None:
    lab, alice, bob = lab_call
    lab.shape("both", Shape(loss=0.05))
    time.sleep(4)  # let the rate control settle
    sent0, got0 = _frames(alice, bob)
    time.sleep(15)
    sent1, got1 = _frames(alice, bob)
    sent, got = sent1 - sent0, got1 - got0
    assert lab.stats()["a->b"]["lost"] > 100  # the link did lose packets
    assert sent >= 15 * 15 * 0.6, (sent, got)  # the sender was not driven down
    assert got >= 0.85 * sent, (sent, got)  # and nearly every frame it sent arrived
