"""The signaling server against hostile or broken clients, over real sockets."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from holocall_desktop.server.app import SignalingServer
from tests.server.client import SignalClient, create_room, invite


async def _pair(
    http: aiohttp.ClientSession, server: SignalingServer
) -> tuple[SignalClient, SignalClient, dict[str, object]]:
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(room["roomId"], "bob")
    await alice.expect("user-joined")
    return alice, bob, room


async def test_an_id_with_a_trailing_newline_is_refused(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.http_url}/rooms", json={"userId": "x\n"}) as r:
        assert r.status == 400
        assert (await r.json())["code"] == "invalid-user-id"
    alice, _bob, _room = await _pair(http, server)
    await alice.send(type="offer", to="bob\n", sdp={"type": "offer", "sdp": ""})
    err = await alice.expect("error")
    assert err["code"] == "invalid-message", err


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[" * 30_000 + b"]" * 30_000, "application/json"),  # nested too deep, under 64 KB
        (b'{"userId": "a", "maxUsers": ' + b"9" * 5000 + b"}", "application/json"),
        (b'{"userId": "a"}', "application/json; charset=no-such-charset"),
        (b'{"userId": "\xff"}', "application/json"),
    ],
)
async def test_malformed_rest_bodies_get_400_not_500(
    server: SignalingServer,
    http: aiohttp.ClientSession,
    body: bytes,
    content_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    room = await create_room(http, server.http_url, "host")
    headers = {"Content-Type": content_type}
    for url in (
        f"{server.http_url}/rooms",
        f"{server.http_url}/auth/refresh",
        f"{server.http_url}/rooms/{room['roomId']}/tokens",
    ):
        async with http.post(url, data=body, headers=headers) as r:
            assert r.status == 400, (url, r.status, await r.text())
            assert (await r.json())["code"] in ("invalid-json", "invalid-body")
    assert "Traceback" not in caplog.text


async def test_a_request_line_over_the_limit_is_refused_without_a_logged_traceback(
    server: SignalingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    host, port = server.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split()[1] in (b"400", b"414"), status
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_kicking_someone_who_is_not_there_bans_nobody(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    room = await create_room(http, server.http_url, "host")
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    url = f"{server.http_url}/rooms/{room['roomId']}/users/carol"
    async with http.delete(url, headers=admin) as r:
        assert r.status == 404
    # carol was never banned: she can still be invited and join
    carol_t = await invite(http, server.http_url, room, "carol")
    carol = await SignalClient.connect(http, server.ws_url, carol_t["accessToken"])
    joined = await carol.join(room["roomId"], "carol")
    assert joined["type"] == "room-state", joined
