"""A call across a :class:`~holocall_desktop.netlab.lab.NetLab`: the signaling server and Alice
in namespace ``a``, Bob in ``b``, each a ``holocall join --headless`` process whose JSON lines
are collected as they come (for ``holocall bench network`` and the network tests)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from holocall_desktop.netlab.lab import NetLab

PORT = 8765


class JsonLinesProcess:
    """A process whose stdout lines are JSON objects (others are dropped), and its stderr."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[dict[str, Any]] = []
        self.err: list[str] = []
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                self.lines.append(json.loads(line))

    def _err(self) -> None:
        assert self.proc.stderr is not None
        self.err.extend(self.proc.stderr)

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first line ``pred`` accepts; ``RuntimeError`` after ``timeout`` or an exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if pred(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(
            f"no such line; last lines {self.lines[-3:]}; stderr: {''.join(self.err[-8:]).strip()}"
        )

    def stats(self) -> dict[str, Any]:
        """The last stats line ({} before the first)."""
        found = [x for x in list(self.lines) if x.get("event") == "stats"]
        return found[-1] if found else {}

    @property
    def traceback(self) -> str | None:
        """Its stderr, if it holds a Python traceback."""
        text = "".join(self.err)
        return text if "Traceback" in text else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextlib.contextmanager
def lab_call(
    lab: NetLab,
    join_args: Sequence[str],
    warm_frames: int = 1,
    alice_args: Sequence[str] = (),
) -> Iterator[tuple[JsonLinesProcess, JsonLinesProcess]]:
    """Start the server, Alice (creating the room) and Bob (joining by her invite link), with
    ``join_args`` for both (and ``alice_args`` for Alice alone); yields ``(alice, bob)`` once
    Bob received ``warm_frames`` of Alice's holograms, and stops them all afterwards."""
    from holocall_desktop.server.auth import generate_private_key_pem

    py = sys.executable
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOLOCALL_ADMIN_TOKEN=os.urandom(16).hex())
    procs: list[JsonLinesProcess] = []
    with tempfile.TemporaryDirectory(prefix="holocall-lab-call-") as tmp:
        key = Path(tmp) / "jwt.pem"
        key.write_bytes(generate_private_key_pem("RS256"))
        try:
            procs.append(JsonLinesProcess(lab.command("a", [
                py, "-m", "holocall_desktop.server.cli", "--host", "0.0.0.0", "--port",
                str(PORT), "--jwt-private-key", str(key), "--no-stun", "--cooldown", "0",
                "--log-level", "WARNING",
            ]), env))  # fmt: skip
            time.sleep(3.0)
            alice = JsonLinesProcess(lab.command("a", [
                py, "-m", "holocall_desktop", "join", f"http://127.0.0.1:{PORT}", "--create",
                "--name", "Alice", *join_args, *alice_args,
            ]), dict(env, HOLOCALL_ICE_HOSTS=lab.address("a")))  # fmt: skip
            procs.append(alice)
            invite = alice.wait_for(lambda x: x.get("event") == "invite", 60)["link"]
            link = invite.replace("127.0.0.1", lab.address("a"))
            bob = JsonLinesProcess(
                lab.command("b", [py, "-m", "holocall_desktop", "join", link, "--name", "Bob",
                                  *join_args]),
                dict(env, HOLOCALL_ICE_HOSTS=lab.address("b")),
            )  # fmt: skip
            procs.append(bob)
            bob.wait_for(lambda x: x.get("received", {}).get("Alice", 0) >= warm_frames, 60)
            yield alice, bob
        finally:
            for p in reversed(procs):
                p.stop()
