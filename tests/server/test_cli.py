"""``holocall-signal`` as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

CMD = [sys.executable, "-m", "holocall_desktop.server.cli"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CMD, *args], capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})}
    )


def test_help() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for option in ("--port", "--redis", "--max-users", "--turn-secret", "--cooldown", "--grace"):
        assert option in out.stdout
    assert "default: 3000" in out.stdout


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        (["--port", "70000"], {}, "port must be 0..65535"),
        (["--jwt-algorithm", "HS256"], {}, "HS256 needs a JWT secret"),
        (["--jwt-algorithm", "HS256", "--jwt-secret", "short"], {}, "at least 32 bytes"),
        (["--turn-url", "turn:example.com:3478"], {}, "TURN shared secret"),
        (
            ["--turn-url", "http://example.com"],
            {"HOLOCALL_TURN_SECRET": "x"},
            "not a STUN/TURN URL",
        ),
        (["--max-users", "0"], {}, "max users per room must be > 0"),
        (["--jwt-private-key", "/nonexistent/key.pem"], {}, "cannot read JWT private key"),
        (["--redis", "redis://127.0.0.1:1/0"], {}, "every instance must share the signing key"),
        (["--admin-token", "short"], {}, "at least 16 characters"),
        (["--cors-origin", "app.example.com"], {}, "CORS origin must be"),
        (["--mesh-max-users", "0"], {}, "mesh max users must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(
    args: list[str], env: dict[str, str], reason: str
) -> None:
    out = _run(*args, env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("holocall-signal: error: "), out.stderr
    assert reason in lines[0]


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    from holocall_desktop.server.auth import generate_private_key_pem

    key = tmp_path / "k.pem"
    key.write_bytes(generate_private_key_pem("RS256"))
    out = _run(
        "--port",
        "0",
        "--redis",
        "redis://127.0.0.1:1/0",
        "--jwt-private-key",
        str(key),
        "--log-level",
        "ERROR",
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("holocall-signal: error: cannot reach")


def test_serves_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            *CMD,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--jwt-algorithm",
            "HS256",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOLOCALL_JWT_SECRET": "a" * 40, "HOLOCALL_ADMIN_TOKEN": "b" * 20},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("holocall-signal: listening on http://127.0.0.1:"), line
        base = line.split()[3]
        with urllib.request.urlopen(base + "/health", timeout=5) as r:
            assert json.load(r)["status"] == "ok"
        req = urllib.request.Request(
            base + "/rooms", headers={"Authorization": "Bearer " + "b" * 20}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.load(r) == {"rooms": []}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert "shutting down" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_event_loop_choice() -> None:
    import importlib.util

    from holocall_desktop.server.cli import event_loop_factory

    assert event_loop_factory("asyncio") is None
    if importlib.util.find_spec("uvloop") is None:
        assert event_loop_factory("auto") is None
        out = _run("--event-loop", "uvloop")
        assert out.returncode == 2 and "uvloop package is not installed" in out.stderr
    else:
        factory = event_loop_factory("uvloop")
        assert factory is not None
        loop = factory()
        assert type(loop).__module__.startswith("uvloop")
        loop.close()


def test_port_in_use_is_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _run("--host", "127.0.0.1", "--port", str(port), "--log-level", "ERROR")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "address already in use" in lines[0]
