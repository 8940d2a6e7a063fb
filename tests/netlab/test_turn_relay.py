"""TURN proven: two participants in namespaces that cannot reach each other (each behind a
router that does not forward, as two symmetric NATs are for ICE) hold a hologram call through a
real coturn, run with the configuration the project ships and the signaling server's
time-limited credentials."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from holocall_desktop.netlab.call import JsonLinesProcess
from holocall_desktop.netlab.relay import RelayLab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CONFIG = Path(__file__).resolve().parents[2] / "packaging" / "coturn" / "turnserver.conf"
PORT, TURN_PORT = 8766, 3478
SECRET = "relay-lab-shared-secret"
#: connect to HOST:PORT within 2 s and say so (exit 0), or fail (exit 1)
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()\n"
    "except OSError:\n"
    "    sys.exit(1)\n"
)
LISTEN = "import socket, time\ns = socket.create_server(('0.0.0.0', 9000))\ntime.sleep(60)\n"


def _received(p: JsonLinesProcess, sender: str) -> int:
    return int(p.stats().get("received", {}).get(sender, 0))


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


def test_participants_that_cannot_reach_each_other_talk_through_the_relay() -> None:
    turnserver = shutil.which("turnserver")
    assert turnserver, "turnserver is not installed (Debian package coturn): run scripts/setup.sh"
    py = sys.executable
    procs: list[JsonLinesProcess] = []
    with RelayLab() as lab, tempfile.TemporaryDirectory(prefix="holocall-relay-") as tmp:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # no way from a to b; both reach the router
        listener = lab.popen("b", [py, "-c", LISTEN])
        try:
            time.sleep(0.5)
            assert lab.run("a", [py, "-c", CONNECT, lab.address("b"), "9000"]).returncode == 1
            assert lab.run("r", [py, "-c", CONNECT, lab.address("b"), "9000"]).returncode == 0
        finally:
            listener.kill()
            listener.wait(5)
        log = Path(tmp) / "turn.log"
        procs.append(JsonLinesProcess(lab.command("r", [
            turnserver, "-c", str(CONFIG), "--listening-ip", lab.router("a"),
            "--listening-ip", lab.router("b"), "--relay-ip", lab.router("a"),
            "--listening-port", str(TURN_PORT), f"--static-auth-secret={SECRET}",
            "--realm=holocall.test", "--no-tls", "--no-dtls", "--simple-log", "--verbose",
            f"--log-file={log}", f"--pidfile={Path(tmp) / 'turn.pid'}",
            f"--userdb={Path(tmp) / 'turndb'}",
        ]), env))  # fmt: skip
        key = Path(tmp) / "jwt.pem"
        from holocall_desktop.server.auth import generate_private_key_pem

        key.write_bytes(generate_private_key_pem("RS256"))
        turn_url = f"turn:{lab.router('a')}:{TURN_PORT}?transport=udp"
        procs.append(JsonLinesProcess(lab.command("r", [
            py, "-m", "holocall_desktop.server.cli", "--host", "0.0.0.0", "--port", str(PORT),
            "--jwt-private-key", str(key), "--no-stun", "--cooldown", "0",
            "--turn-url", turn_url, "--turn-secret", SECRET, "--log-level", "WARNING",
        ]), env))  # fmt: skip
        try:
            time.sleep(3.0)
            join = ["--headless", "--seconds", "120", "--size", "320x180", "--fps", "10"]
            alice = JsonLinesProcess(lab.command("a", [
                py, "-m", "holocall_desktop", "join", f"http://{lab.router('a')}:{PORT}",
                "--create", "--name", "Alice", *join,
            ]), dict(env, HOLOCALL_ICE_HOSTS=lab.address("a")))  # fmt: skip
            procs.append(alice)
            link = alice.wait_for(lambda x: x.get("event") == "invite", 60)["link"]
            link = link.replace(lab.router("a"), lab.router("b"))  # the server, as b reaches it
            bob = JsonLinesProcess(
                lab.command("b", [py, "-m", "holocall_desktop", "join", link, "--name", "Bob",
                                  *join]),
                dict(env, HOLOCALL_ICE_HOSTS=lab.address("b")),
            )  # fmt: skip
            procs.append(bob)
            assert _wait(lambda: _received(bob, "Alice") >= 20, 90), (bob.stats(), bob.err[-5:])
            assert _wait(lambda: _received(alice, "Bob") >= 20, 30), alice.stats()

            # both allocated on the relay with their credentials, and the relay lets the other
            # side in (the only way their media could take); coturn writes its log a little late
            def allocated() -> bool:
                text = log.read_text(errors="replace")
                users = all(
                    re.search(rf"user <\d+:{name}>: incoming packet ALLOCATE processed, success",
                              text)
                    for name in ("Alice", "Bob")
                )  # fmt: skip
                peers = any(f"peer {lab.address(side)}:" in text for side in ("a", "b"))
                return bool(users and peers)

            assert _wait(allocated, 15), log.read_text(errors="replace")[-3000:]
            for p in (alice, bob):
                assert p.traceback is None, p.traceback
        finally:
            for p in reversed(procs):
                p.stop()
