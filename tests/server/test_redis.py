"""Several instances sharing rooms through a real redis-server started by the test."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from holocall_desktop.server.app import SignalingServer
from tests.server.client import SignalClient, create_room, invite
from tests.server.conftest import ADMIN, ServerFactory

REDIS = shutil.which("redis-server") or ""
OFFER = {"type": "offer", "sdp": "v=0\r\n"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    assert REDIS, "redis-server is not installed (scripts/setup.sh installs it)"
    port = free_port()
    proc = subprocess.Popen(
        [
            REDIS,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture
async def cluster(
    make_server: ServerFactory, redis_url: str
) -> AsyncIterator[tuple[SignalingServer, SignalingServer]]:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    common = {
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "instance_ttl": 1.2,
        "instance_heartbeat": 0.3,
    }
    a = await make_server(instance_id="A", **common)
    b = await make_server(instance_id="B", **common)
    yield a, b


async def test_relay_across_instances(
    cluster: tuple[SignalingServer, SignalingServer], http: aiohttp.ClientSession
) -> None:
    a, b = cluster
    assert a.presence.shared and b.presence.shared
    room = await create_room(http, a.http_url, "alice", maxUsers=2)
    rid = room["roomId"]
    bob_t = await invite(http, b.http_url, room, "bob")  # the invite works on any instance
    alice = await SignalClient.connect(http, a.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob = await SignalClient.connect(http, b.ws_url, bob_t["accessToken"])
    state = await bob.join(rid, "bob")
    assert [p["userId"] for p in sorted(state["participants"], key=lambda p: p["seat"])] == [
        "alice",
        "bob",
    ]
    assert (await alice.expect("user-joined"))["userId"] == "bob"
    await alice.send(type="offer", to="bob", sdp=OFFER)
    assert await bob.expect("offer") == {"type": "offer", "from": "alice", "sdp": OFFER}
    await bob.send(type="answer", to="alice", sdp={"type": "answer", "sdp": "v=0\r\n"})
    assert (await alice.expect("answer"))["from"] == "bob"
    # the room limit holds across instances
    carol_t = await invite(http, a.http_url, room, "carol")
    carol = await SignalClient.connect(http, a.ws_url, carol_t["accessToken"])
    assert (await carol.join(rid, "carol"))["type"] == "room-full"
    # both instances see the same room
    headers = {"Authorization": "Bearer " + ADMIN}
    for server in (a, b):
        async with http.get(f"{server.http_url}/rooms/{rid}/users", headers=headers) as r:
            users = (await r.json())["users"]
        assert [u["userId"] for u in users] == ["alice", "bob"]
    await bob.send(type="leave-room", roomId=rid)
    assert (await alice.expect("user-left"))["userId"] == "bob"


async def test_host_on_one_instance_kicks_a_guest_on_another(
    cluster: tuple[SignalingServer, SignalingServer], http: aiohttp.ClientSession
) -> None:
    a, b = cluster
    room = await create_room(http, a.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, a.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, b.http_url, room, "bob")
    bob = await SignalClient.connect(http, b.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    await alice.expect("user-joined")
    headers = {"Authorization": "Bearer " + room["accessToken"]}
    async with http.delete(f"{a.http_url}/rooms/{rid}/users/bob", headers=headers) as r:
        assert r.status == 200
    assert (await bob.expect("error"))["code"] == "kicked"
    assert await bob.close_code() == 4010
    assert (await alice.expect("user-left"))["reason"] == "kicked"


async def test_reconnect_on_another_instance_replaces_the_old_connection(
    cluster: tuple[SignalingServer, SignalingServer], http: aiohttp.ClientSession
) -> None:
    a, b = cluster
    room = await create_room(http, a.http_url, "alice")
    rid = room["roomId"]
    old = await SignalClient.connect(http, a.ws_url, room["accessToken"])
    assert (await old.join(rid, "alice"))["seat"] == 0
    new = await SignalClient.connect(http, b.ws_url, room["accessToken"])
    state = await new.join(rid, "alice")
    assert state["rejoined"] is True and state["seat"] == 0
    assert (await old.expect("error"))["code"] == "replaced"
    assert await old.close_code() == 4009


async def test_graceful_stop_releases_seats(
    cluster: tuple[SignalingServer, SignalingServer], http: aiohttp.ClientSession
) -> None:
    a, b = cluster
    room = await create_room(http, a.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, a.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, b.http_url, room, "bob")
    bob = await SignalClient.connect(http, b.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    await alice.expect("user-joined")
    await b.stop()
    assert (await bob.expect("server-shutdown"))["reconnect"] is True
    left = await alice.expect("user-left")
    assert left["userId"] == "bob" and left["reason"] == "server-shutdown"


async def _start_instance(redis_url: str, prefix: str, key: Path) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "HOLOCALL_ADMIN_TOKEN": ADMIN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "holocall_desktop.server.cli",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--redis",
            redis_url,
            "--redis-prefix",
            prefix,
            "--jwt-private-key",
            str(key),
            "--instance-id",
            "killed",
            "--instance-ttl",
            "1.2",
            "--instance-heartbeat",
            "0.3",
            "--cooldown",
            "0",
            "--grace",
            "0",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
    assert "listening on http://127.0.0.1:" in line, line
    port = int(line.split("http://127.0.0.1:")[1].split()[0])
    return proc, port


async def test_killed_instance_users_leave(
    make_server: ServerFactory,
    redis_url: str,
    http: aiohttp.ClientSession,
    rsa_pem: bytes,
    tmp_path: Path,
) -> None:
    prefix = f"k{uuid.uuid4().hex[:8]}:"
    key = tmp_path / "jwt.pem"
    key.write_bytes(rsa_pem)
    a = await make_server(
        instance_id="survivor",
        redis_url=redis_url,
        redis_prefix=prefix,
        instance_ttl=1.2,
        instance_heartbeat=0.3,
    )
    proc, port = await _start_instance(redis_url, prefix, key)
    try:
        b_http = f"http://127.0.0.1:{port}"
        room = await create_room(http, a.http_url, "alice")
        rid = room["roomId"]
        alice = await SignalClient.connect(http, a.ws_url, room["accessToken"])
        await alice.join(rid, "alice")
        bob_t = await invite(http, b_http, room, "bob")
        bob = await SignalClient.connect(http, f"ws://127.0.0.1:{port}/ws", bob_t["accessToken"])
        await bob.join(rid, "bob")
        await alice.expect("user-joined")
        await bob.send(type="offer", to="alice", sdp=OFFER)
        assert (await alice.expect("offer"))["from"] == "bob"

        proc.send_signal(signal.SIGKILL)  # no goodbye: the heartbeat key just stops
        proc.wait(5)
        killed_at = time.monotonic()
        left = await alice.expect("user-left", timeout=6.0)
        waited = time.monotonic() - killed_at
        assert left["userId"] == "bob" and left["reason"] == "timeout"
        assert waited < 1.2 + 0.3 + 1.5, waited
        headers = {"Authorization": "Bearer " + ADMIN}
        async with http.get(f"{a.http_url}/rooms/{rid}/users", headers=headers) as r:
            assert [u["userId"] for u in (await r.json())["users"]] == ["alice"]
        # bob's seat is free again: he can come back through the surviving instance
        back = await SignalClient.connect(http, a.ws_url, bob_t["accessToken"])
        state = await back.join(rid, "bob")
        assert state["type"] == "room-state" and "rejoined" not in state
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def test_unreachable_redis_is_a_clear_error(make_server: ServerFactory) -> None:
    with pytest.raises(ConnectionError, match="cannot reach Redis"):
        await make_server(redis_url=f"redis://127.0.0.1:{free_port()}/0")


async def test_limits_and_single_use_tokens_hold_across_instances(
    make_server: ServerFactory, redis_url: str, http: aiohttp.ClientSession
) -> None:
    common = {
        "redis_url": redis_url,
        "redis_prefix": f"l{uuid.uuid4().hex[:8]}:",
        "max_rooms_per_ip": 2,
        "connection_cooldown": 5.0,
    }
    a = await make_server(instance_id="A", **common)
    b = await make_server(instance_id="B", **common)
    room = await create_room(http, a.http_url, "alice")
    await create_room(http, b.http_url, "bob")
    async with http.post(f"{a.http_url}/rooms", json={}) as r:
        assert r.status == 429  # two rooms from this address, one on each instance
    # a refresh token used on A cannot be replayed on B
    async with http.post(
        f"{a.http_url}/auth/refresh", json={"refreshToken": room["refreshToken"]}
    ) as r:
        assert r.status == 200
    async with http.post(
        f"{b.http_url}/auth/refresh", json={"refreshToken": room["refreshToken"]}
    ) as r:
        assert r.status == 401 and (await r.json())["code"] == "token-reused"
    # the connection cooldown is shared too
    first = await SignalClient.connect(http, a.ws_url, room["accessToken"])
    await first.join(room["roomId"], "alice")
    again = await SignalClient.connect(http, b.ws_url, room["accessToken"])
    assert (await again.expect("error"))["code"] == "cooldown"


async def test_redis_outage_answers_errors_and_keeps_connections(
    make_server: ServerFactory, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    proc, url = start_redis(tmp_path)
    try:
        server = await make_server(redis_url=url)
        room = await create_room(http, server.http_url, "alice")
        alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
        await alice.join(room["roomId"], "alice")
        proc.kill()
        proc.wait(5)
        await alice.send(type="offer", to="bob", sdp=OFFER)
        err = await alice.expect("error", timeout=10)
        assert err["code"] == "internal-error"
        assert not alice.ws.closed
        async with http.get(f"{server.http_url}/health") as r:
            assert r.status == 200  # the process keeps serving
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_a_kicked_users_tokens_open_nothing_on_any_instance(
    cluster: tuple[SignalingServer, SignalingServer], http: aiohttp.ClientSession
) -> None:
    a, b = cluster
    room = await create_room(http, a.http_url, "alice")
    rid = room["roomId"]
    bob_t = await invite(http, b.http_url, room, "bob")
    bob = await SignalClient.connect(http, b.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    bearer = {"Authorization": "Bearer " + bob_t["accessToken"]}
    async with http.get(f"{a.http_url}/rooms/{rid}/users", headers=bearer) as r:
        assert r.status == 200  # a member reads the room
    host = {"Authorization": "Bearer " + room["accessToken"]}
    async with http.delete(f"{a.http_url}/rooms/{rid}/users/bob", headers=host) as r:
        assert r.status == 200
    for server in (a, b):
        async with http.get(f"{server.http_url}/rooms/{rid}/users", headers=bearer) as r:
            assert r.status == 403, server.http_url
        async with http.post(
            f"{server.http_url}/auth/refresh", json={"refreshToken": bob_t["refreshToken"]}
        ) as r:
            assert r.status == 403, server.http_url
            assert (await r.json())["code"] == "forbidden"
