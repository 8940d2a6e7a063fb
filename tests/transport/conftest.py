"""Fixtures for call tests: a real signaling server on loopback (in a background thread) and
headless participants as separate processes (`python -m holocall_desktop join … --headless`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.auth import generate_private_key_pem
from holocall_desktop.server.config import ServerConfig

#: keep every ICE candidate on the loopback interface
LOOPBACK_ENV = {"HOLOCALL_ICE_HOSTS": "127.0.0.1"}


@dataclass
class RunningServer:
    server: SignalingServer
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture(scope="session")
def jwt_pem() -> bytes:
    return generate_private_key_pem("RS256")


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in LOOPBACK_ENV.items():
        monkeypatch.setenv(key, value)


@contextmanager
def running_server(jwt_pem: bytes, **changes: Any) -> Iterator[RunningServer]:
    """A signaling server without STUN (nothing outside loopback), no cooldown, short grace,
    in a background thread; ``changes`` override ServerConfig fields."""
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        jwt_private_key_pem=jwt_pem,
        stun_urls=(),
        connection_cooldown=0.0,
        reconnect_grace=2.0,
        shutdown_grace=0.2,
    ).replace(**changes)
    loop = asyncio.new_event_loop()
    server = SignalingServer(config)
    started: Future[None] = Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        loop.run_forever()

    thread = threading.Thread(target=run, name="signal-server", daemon=True)
    thread.start()
    started.result(10)
    try:
        yield RunningServer(server, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def signal_server(jwt_pem: bytes) -> Iterator[RunningServer]:
    with running_server(jwt_pem) as server:
        yield server


class Participant:
    """A headless participant process; its JSON lines are collected as they arrive."""

    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **LOOPBACK_ENV)
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "holocall_desktop", "join", *args, "--headless"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = {"event": "non-json", "text": line}
            with self._cond:
                self.lines.append(obj)
                self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str = ""
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._readers[0].is_alive()):
                    raise AssertionError(
                        f"timed out waiting for {what or 'a line'}; lines: {self.lines[-5:]}; "
                        f"stderr: {''.join(self.stderr[-20:])}"
                    )
                self._cond.wait(min(left, 0.2))

    def events(self, name: str) -> list[dict[str, Any]]:
        with self._cond:
            return [x for x in self.lines if x.get("event") == name]

    def last_stats(self) -> dict[str, Any]:
        stats = self.events("stats")
        assert stats, f"no stats lines; stderr: {''.join(self.stderr[-20:])}"
        return stats[-1]

    def finish(self, timeout: float = 30.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"participant {self.args} did not finish; stderr: {''.join(self.stderr[-20:])}"
            ) from None
        for t in self._readers:
            t.join(5)
        return code

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


@pytest.fixture
def participants() -> Iterator[Callable[[list[str]], Participant]]:
    started: list[Participant] = []

    def start(args: list[str]) -> Participant:
        p = Participant(args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.proc.wait(10)


#: a small, cheap source for tests on a 2-core machine
SMALL = ["--size", "320x180", "--fps", "10"]


def host_and_link(
    start: Callable[[list[str]], Participant], server: RunningServer, extra: list[str]
) -> tuple[Participant, str]:
    host = start([server.url, "--create", "--name", "host", *extra])
    line = host.wait_for(lambda x: x.get("event") == "invite", 30, "the invite line")
    assert host.lines[0]["event"] == "invite", "the invite link must be the first line"
    return host, str(line["link"])
