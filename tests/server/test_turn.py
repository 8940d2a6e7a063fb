"""TURN credentials handed out in room-state, checked by a real coturn doing a TURN Allocate."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from holocall_desktop.server.turn import turn_credentials
from tests.server.client import SignalClient, create_room
from tests.server.conftest import ServerFactory

TURNSERVER = shutil.which("turnserver") or ""
CONFIG = Path(__file__).resolve().parents[2] / "packaging" / "coturn" / "turnserver.conf"
SECRET = "coturn-shared-secret-for-tests"
REALM = "holocall.test"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not TURNSERVER:
        pytest.fail("turnserver is not installed (Debian package coturn)")
    port = _free_udp_port()
    workdir = tmp_path_factory.mktemp("coturn")
    proc = subprocess.Popen(
        [
            TURNSERVER,
            "-c",
            str(CONFIG),  # the configuration the project ships; addresses and logs overridden
            "--listening-ip=127.0.0.1",
            f"--listening-port={port}",
            "--relay-ip=127.0.0.1",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            f"--realm={REALM}",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--simple-log",
            f"--log-file={workdir / 'turn.log'}",
            f"--pidfile={workdir / 'turn.pid'}",
            f"--userdb={workdir / 'turndb'}",
            "--min-port=49152",
            "--max-port=65535",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    if proc.poll() is not None:
        pytest.fail(f"turnserver exited with {proc.returncode}")
    yield port
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _bind(port: int, username: str, password: str, peer: tuple[str, int]) -> None:
    """Allocate, then ask the relay to let ``peer`` in (a TURN ChannelBind, which installs a
    permission for it); ``stun.TransactionFailed`` when the relay refuses."""
    transport, _protocol = await asyncio.wait_for(
        create_turn_endpoint(
            asyncio.DatagramProtocol, ("127.0.0.1", port), username, password, lifetime=60
        ),
        5,
    )
    try:
        inner = transport._TurnTransport__inner_protocol  # type: ignore[attr-defined]
        await inner.channel_bind(0x4000, peer)
    finally:
        transport.close()


async def _allocate(port: int, username: str, password: str) -> tuple[str, int]:
    """A real TURN Allocate (with the 401 challenge and MESSAGE-INTEGRITY); the relayed address."""
    last: BaseException | None = None
    for _ in range(10):  # coturn may need a moment before it listens
        try:
            transport, _protocol = await asyncio.wait_for(
                create_turn_endpoint(
                    asyncio.DatagramProtocol, ("127.0.0.1", port), username, password, lifetime=60
                ),
                5,
            )
        except (ConnectionError, OSError, TimeoutError) as exc:
            last = exc
            await asyncio.sleep(0.3)
            continue
        relayed = transport.get_extra_info("sockname")
        transport.close()
        return str(relayed[0]), int(relayed[1])
    raise AssertionError(f"TURN allocate never answered: {last!r}")


def test_credential_format() -> None:
    username, credential = turn_credentials("s3cret", "alice", ttl=3600, now=1_700_000_000)
    assert username == "1700003600:alice"
    expected = base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest())
    assert credential == expected.decode()


async def test_room_state_credentials_allocate_on_coturn(
    coturn: int, make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    turn_url = f"turn:127.0.0.1:{coturn}?transport=udp"
    server = await make_server(turn_urls=(turn_url,), turn_secret=SECRET, turn_ttl=600.0)
    room = await create_room(http, server.http_url, "alice")
    client = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    state = await client.join(room["roomId"], "alice")
    stun_entry, turn_entry = state["iceServers"]
    assert stun_entry == {"urls": ["stun:stun.example.test:3478"]}
    assert turn_entry["urls"] == [turn_url]
    expiry, user = turn_entry["username"].split(":")
    assert user == "alice" and 590 <= int(expiry) - time.time() <= 601
    assert turn_entry["credentialType"] == "password"

    host, port = await _allocate(coturn, turn_entry["username"], turn_entry["credential"])
    assert host == "127.0.0.1" and port > 0


async def test_wrong_or_expired_credentials_are_refused(coturn: int) -> None:
    username, credential = turn_credentials(SECRET, "mallory", ttl=600)
    with pytest.raises(stun.TransactionFailed) as wrong:
        await _allocate(coturn, username, credential[:-4] + "AAA=")
    assert wrong.value.response.attributes["ERROR-CODE"][0] == 401
    forged = turn_credentials("not-the-secret", "mallory", ttl=600)
    with pytest.raises(stun.TransactionFailed):
        await _allocate(coturn, *forged)
    expired = turn_credentials(SECRET, "mallory", ttl=-60)
    with pytest.raises(stun.TransactionFailed):
        await _allocate(coturn, *expired)
    # and the genuine one still works
    assert (await _allocate(coturn, username, credential))[1] > 0


@pytest.mark.parametrize(
    "peer", ["127.0.0.1", "10.1.2.3", "172.16.5.5", "192.168.1.20", "169.254.1.1", "100.64.0.9"]
)
async def test_the_shipped_configuration_keeps_relays_out_of_private_networks(
    coturn: int, peer: str
) -> None:
    username, credential = turn_credentials(SECRET, "mallory", ttl=600)
    with pytest.raises(stun.TransactionFailed) as refused:
        await _bind(coturn, username, credential, (peer, 5000))
    assert refused.value.response.attributes["ERROR-CODE"][0] == 403


async def test_a_public_peer_may_be_relayed_to(coturn: int) -> None:
    username, credential = turn_credentials(SECRET, "alice", ttl=600)
    await _bind(coturn, username, credential, ("198.18.0.9", 5000))  # the benchmarking range
