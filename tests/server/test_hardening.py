"""The signaling server against hostile or broken clients, over real sockets."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter

import aiohttp
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.ws import Connection
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


async def _stalled(
    http: aiohttp.ClientSession, server: SignalingServer, room: dict[str, object], user: str
) -> SignalClient:
    """A member whose socket is never read again (its kernel buffers fill up)."""
    tokens = await invite(http, server.http_url, room, user)
    client = await SignalClient.connect(http, server.ws_url, tokens["accessToken"])
    await client.join(str(room["roomId"]), user)
    transport = client.ws._response.connection.transport  # type: ignore[union-attr]
    transport.pause_reading()
    return client


async def test_a_member_that_stops_reading_never_holds_up_the_others(
    make_server: object, http: aiohttp.ClientSession
) -> None:
    server = await make_server(  # type: ignore[operator]
        message_rate=10_000, message_burst=10_000, send_timeout=1.0, reconnect_grace=0.0
    )
    alice, bob, room = await _pair(http, server)
    slow = await _stalled(http, server, room, "slow")
    await alice.expect("user-joined")
    await bob.expect("user-joined")
    big = {"type": "offer", "sdp": "v=0\r\n" + "a=x-pad:" + "x" * 60_000 + "\r\n"}
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(300):  # ~18 MB towards the stalled member: far more than socket buffers hold
        await alice.send(type="offer", to="slow", sdp=big)
    await alice.send(type="offer", to="bob", sdp={"type": "offer", "sdp": "v=0\r\n"})
    got = await bob.expect("offer", timeout=5)
    assert got["from"] == "alice"
    assert loop.time() - started < 5
    # the stalled member is dropped once its sends stop moving, and the others are told
    left = await bob.expect("user-left", timeout=10)
    assert left["userId"] == "slow"
    slow.ws._response.connection.transport.abort()  # type: ignore[union-attr]


async def test_kick_and_shutdown_are_prompt_while_a_member_is_stalled(
    make_server: object, http: aiohttp.ClientSession
) -> None:
    server = await make_server(  # type: ignore[operator]
        message_rate=10_000, message_burst=10_000, send_timeout=1.0
    )
    alice, bob, room = await _pair(http, server)
    slow = await _stalled(http, server, room, "slow")
    await alice.expect("user-joined")
    await bob.expect("user-joined")
    big = {"type": "offer", "sdp": "v=0\r\n" + "a=x-pad:" + "x" * 60_000 + "\r\n"}
    for _ in range(300):
        await alice.send(type="offer", to="slow", sdp=big)
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    async with http.delete(
        f"{server.http_url}/rooms/{room['roomId']}/users/slow", headers=admin
    ) as r:
        assert r.status in (200, 404)  # 404: dropped as too slow already
    assert loop.time() - started < 3
    left = await bob.expect("user-left", timeout=5)
    assert left["userId"] == "slow"
    started = loop.time()
    await server.stop()
    assert loop.time() - started < server.config.shutdown_grace + 3
    slow.ws._response.connection.transport.abort()  # type: ignore[union-attr]


async def test_a_frame_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    limit = server.config.max_message_bytes
    alice, bob, _room = await _pair(http, server)

    def offer_of(size: int) -> str:
        head, tail = '{"type":"offer","to":"alice","sdp":{"type":"offer","sdp":"', '"}}'
        return head + "a" * (size - len(head) - len(tail)) + tail

    await bob.send_raw(offer_of(limit))
    got = await alice.expect("offer")
    assert len(got["sdp"]["sdp"]) > limit - 100
    await bob.send_raw(offer_of(limit + 1))
    assert await bob.close_code() == 1009


async def test_a_request_head_sent_one_byte_at_a_time_is_cut(
    make_server: object, http: aiohttp.ClientSession
) -> None:
    server = await make_server(request_head_timeout=1.0)  # type: ignore[operator]
    host, port = server.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    loop = asyncio.get_running_loop()
    started = loop.time()
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    for byte in head:
        if reader.at_eof() or loop.time() - started > 5:
            break
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # cut, nothing answered
    assert loop.time() - started < 3
    writer.close()
    # whoever sends a whole request in time is served, over HTTP and the WebSocket alike
    async with http.get(f"{server.http_url}/health") as r:
        assert r.status == 200
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    assert (await alice.join(room["roomId"], "alice"))["type"] == "room-state"
    await asyncio.sleep(1.5)  # past the deadline: an established WebSocket is not cut
    await alice.send(type="leave-room", roomId=room["roomId"])
    await alice.nothing(0.3)


def _server_garbage(port: int) -> Counter[str]:
    """The server-side objects that only the cyclic collector could free, by type."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found: Counter[str] = Counter()
        for obj in gc.garbage:
            if isinstance(obj, asyncio.Transport):
                sockname = obj.get_extra_info("sockname")
                if not (isinstance(sockname, tuple) and sockname[1] == port):
                    continue  # a client's socket
            elif not isinstance(
                obj, Connection | web.WebSocketResponse | web.BaseRequest | RequestHandler
            ):
                continue
            found[type(obj).__qualname__] += 1
        return found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_closed_connections_are_freed_without_the_cyclic_collector(
    make_server: object, http: aiohttp.ClientSession
) -> None:
    """The server freezes most objects away from the cyclic collector (its GC tuning), so what
    a closed connection leaves in reference cycles is memory that grows with every wave of
    connections. Every way a connection or a request ends must free it by reference counting
    alone."""
    server = await make_server(join_timeout=0.3)  # type: ignore[operator]
    room = await create_room(http, server.http_url, "alice")
    tokens = [await invite(http, server.http_url, room, f"u{i}") for i in range(4)]
    gc.collect()
    gc.disable()
    try:
        for i in (0, 1):  # joins, then closes
            client = await SignalClient.connect(http, server.ws_url, tokens[i]["accessToken"])
            await client.join(room["roomId"], f"u{i}")
            await client.close()
        idle = await SignalClient.connect(http, server.ws_url, tokens[2]["accessToken"])
        assert await idle.close_code() == 4008  # the server closes who never joins
        refused = await SignalClient.connect(http, server.ws_url, "not-a-token")
        assert await refused.close_code() == 4001
        kicked = await SignalClient.connect(http, server.ws_url, tokens[3]["accessToken"])
        await kicked.join(room["roomId"], "u3")
        async with http.delete(
            f"{server.http_url}/rooms/{room['roomId']}/users/u3",
            headers={"Authorization": f"Bearer {room['accessToken']}"},
        ) as r:
            assert r.status == 200
        assert await kicked.close_code() == 4010
        # and refused REST requests, ours (400) and aiohttp's (404, 405)
        for method, path, body, status in (
            ("POST", "/rooms", b"{not json", 400),
            ("GET", "/no/such/path", b"", 404),
            ("PUT", "/rooms", b"", 405),
            ("GET", "/health", b"", 200),
        ):
            async with http.request(method, f"{server.http_url}{path}", data=body) as r:
                assert r.status == status, (method, path, await r.text())
        for _ in range(50):
            if not server.hub.connections:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the handlers' last steps, the transports' connection_lost
        assert _server_garbage(server.port) == Counter()
    finally:
        gc.enable()
