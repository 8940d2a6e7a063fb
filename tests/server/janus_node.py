"""A real Janus node for the tests, run with the configuration the project ships
(``packaging/janus``), on a free loopback port, with its own API secret."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[2] / "packaging" / "janus"
JANUS = shutil.which("janus") or ""


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JanusNode:
    def __init__(self, workdir: Path, api_secret: str) -> None:
        self.api_secret = api_secret
        self.port = _free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}/janus"
        self.configs = workdir / "configs"
        shutil.copytree(CONFIGS, self.configs, dirs_exist_ok=True)
        http = self.configs / "janus.transport.http.jcfg"
        text = http.read_text()
        assert "port = 8088" in text
        http.write_text(text.replace("port = 8088", f"port = {self.port}"))
        self.log = workdir / "janus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not JANUS:
            raise AssertionError("janus is not installed (Debian package janus: scripts/setup.sh)")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [JANUS, "-F", str(self.configs), "-a", self.api_secret, "-o", "-d", "4"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                urllib.request.urlopen(self.url + "/info", timeout=1).read()
                return
            except urllib.error.HTTPError:
                return  # it answers (a refusal is an answer)
            except OSError:
                time.sleep(0.1)
        raise AssertionError("janus never listened: " + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


@contextmanager
def janus_node(workdir: Path, api_secret: str) -> Iterator[JanusNode]:
    node = JanusNode(workdir, api_secret)
    node.start()
    try:
        yield node
    finally:
        node.stop()
