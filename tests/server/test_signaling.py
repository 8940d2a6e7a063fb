"""The seed's signaling sequence and the room limits, over real WebSockets."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from holocall_desktop.server.app import SignalingServer
from tests.server.client import SignalClient, create_room, invite
from tests.server.conftest import ServerFactory

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}


async def test_seed_sequence(server: SignalingServer, http: aiohttp.ClientSession) -> None:
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    state = await alice.join(rid, "alice")
    assert state["type"] == "room-state"
    assert state["roomId"] == rid
    assert [p["userId"] for p in state["participants"]] == ["alice"]
    assert state["participants"][0]["role"] == "host"
    assert state["iceServers"] == [{"urls": ["stun:stun.example.test:3478"]}]

    bob_tokens = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_tokens["accessToken"])
    state = await bob.join(rid, "bob")
    assert state["type"] == "room-state"
    assert sorted(p["userId"] for p in state["participants"]) == ["alice", "bob"]
    assert state["seat"] == 1
    joined = await alice.expect("user-joined")
    assert joined["roomId"] == rid and joined["userId"] == "bob"

    # the participant already in the room offers to the one who joined
    await alice.send(type="offer", to="bob", sdp=OFFER)
    offer = await bob.expect("offer")
    assert offer == {"type": "offer", "from": "alice", "sdp": OFFER}
    await bob.send(type="answer", to="alice", sdp=ANSWER)
    assert await alice.expect("answer") == {"type": "answer", "from": "bob", "sdp": ANSWER}
    await alice.send(type="ice-candidate", to="bob", candidate=CANDIDATE)
    ice = await bob.expect("ice-candidate")
    assert ice["from"] == "alice" and ice["candidate"] == CANDIDATE
    await bob.send(type="ice-candidate", to="alice", candidate=CANDIDATE)
    assert (await alice.expect("ice-candidate"))["from"] == "bob"

    await bob.send(type="leave-room", roomId=rid)
    left = await alice.expect("user-left")
    assert left["roomId"] == rid and left["userId"] == "bob"
    # after leaving, bob is no longer reachable
    await alice.send(type="offer", to="bob", sdp=OFFER)
    err = await alice.expect("error")
    assert err["code"] == "unknown-peer"
    await bob.nothing()

    async with http.get(f"{server.http_url}/stats") as resp:
        stats = await resp.json()
    assert stats["relayedTotal"] == 4
    assert stats["rooms"] == 1 and stats["participants"] == 1


async def test_relay_stays_inside_the_room(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    one = await create_room(http, server.http_url, "alice")
    two = await create_room(http, server.http_url, "carol")
    alice = await SignalClient.connect(http, server.ws_url, one["accessToken"])
    carol = await SignalClient.connect(http, server.ws_url, two["accessToken"])
    await alice.join(one["roomId"], "alice")
    await carol.join(two["roomId"], "carol")
    await alice.send(type="offer", to="carol", sdp=OFFER)
    assert (await alice.expect("error"))["code"] == "unknown-peer"
    await carol.nothing()
    # not joined yet: nothing is relayed
    dave_tokens = await invite(http, server.http_url, one, "dave")
    dave = await SignalClient.connect(http, server.ws_url, dave_tokens["accessToken"])
    await dave.send(type="offer", to="alice", sdp=OFFER)
    assert (await dave.expect("error"))["code"] == "not-in-room"
    await alice.nothing()


async def test_room_full_at_the_limit(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(max_users_per_room=3)
    room = await create_room(http, server.http_url, "u0")
    clients = [await SignalClient.connect(http, server.ws_url, room["accessToken"])]
    assert (await clients[0].join(room["roomId"], "u0"))["type"] == "room-state"
    for i in (1, 2):
        tokens = await invite(http, server.http_url, room, f"u{i}")
        c = await SignalClient.connect(http, server.ws_url, tokens["accessToken"])
        assert (await c.join(room["roomId"], f"u{i}"))["seat"] == i
        clients.append(c)
    tokens = await invite(http, server.http_url, room, "u3")
    late = await SignalClient.connect(http, server.ws_url, tokens["accessToken"])
    full = await late.join(room["roomId"], "u3")
    assert full == {"type": "room-full", "roomId": room["roomId"], "maxUsers": 3}
    # nobody was told about a participant that never got in
    await clients[0].expect("user-joined")
    await clients[0].expect("user-joined")
    await clients[0].nothing()
    # when a seat frees up, the late one gets in and takes the free seat
    await clients[1].send(type="leave-room", roomId=room["roomId"])
    state = await late.join(room["roomId"], "u3")
    assert state["type"] == "room-state" and state["seat"] == 1


async def test_default_limits_follow_the_seed(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    assert server.config.max_users_per_room == 6
    assert server.config.max_rooms_per_ip == 10
    assert type(server).__name__ == "SignalingServer"
    async with http.post(f"{server.http_url}/rooms", json={"maxUsers": 7}) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == "invalid-max-users"


async def test_rooms_per_ip(make_server: ServerFactory, http: aiohttp.ClientSession) -> None:
    server = await make_server(max_rooms_per_ip=3)
    rooms = [await create_room(http, server.http_url, f"h{i}") for i in range(3)]
    async with http.post(f"{server.http_url}/rooms", json={}) as resp:
        assert resp.status == 429
        body = await resp.json()
        assert body["code"] == "too-many-rooms"
    # the admin is not limited
    admin = {"Authorization": "Bearer " + server.admin_token}
    async with http.post(f"{server.http_url}/rooms", json={}, headers=admin) as resp:
        assert resp.status == 201
    # closing one of its rooms frees a slot for that address
    async with http.delete(
        f"{server.http_url}/rooms/{rooms[0]['roomId']}",
        headers={"Authorization": "Bearer " + rooms[0]["accessToken"]},
    ) as resp:
        assert resp.status == 200
    await create_room(http, server.http_url, "again")


async def test_connection_cooldown(make_server: ServerFactory, http: aiohttp.ClientSession) -> None:
    server = await make_server(connection_cooldown=0.6)
    room = await create_room(http, server.http_url, "alice")
    first = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    assert (await first.join(room["roomId"], "alice"))["type"] == "room-state"
    await first.close()
    again = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    err = await again.expect("error")
    assert err["code"] == "cooldown" and 0 < err["retryAfter"] <= 0.6
    assert await again.close_code() == 4029
    # another user from the same address is not held back
    bob = await invite(http, server.http_url, room, "bob")
    other = await SignalClient.connect(http, server.ws_url, bob["accessToken"])
    assert (await other.join(room["roomId"], "bob"))["type"] == "room-state"
    await asyncio.sleep(0.7)
    later = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    assert (await later.join(room["roomId"], "alice"))["type"] == "room-state"


async def test_reconnect_within_grace_keeps_the_seat(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(reconnect_grace=0.8)
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    carol_t = await invite(http, server.http_url, room, "carol")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    assert (await bob.join(rid, "bob"))["seat"] == 1
    await alice.expect("user-joined")
    await bob.ws.close()  # network drop, no leave-room
    await asyncio.sleep(0.2)
    # the seat is held: carol gets seat 2, not 1
    carol = await SignalClient.connect(http, server.ws_url, carol_t["accessToken"])
    assert (await carol.join(rid, "carol"))["seat"] == 2
    await alice.expect("user-joined")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    state = await bob.join(rid, "bob")
    assert state["seat"] == 1 and state["rejoined"] is True
    await alice.nothing(1.0)  # no user-left, no second user-joined: the grace timer was cancelled
    await alice.send(type="offer", to="bob", sdp=OFFER)
    assert (await bob.expect("offer"))["from"] == "alice"


async def test_ghost_leaves_after_grace(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(reconnect_grace=0.3)
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    await alice.expect("user-joined")
    await bob.ws.close()
    await alice.nothing(0.15)
    left = await alice.expect("user-left", timeout=2.0)
    assert left["userId"] == "bob" and left["reason"] == "timeout"


async def test_silent_peer_is_dropped_by_heartbeat(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(heartbeat_interval=0.3)
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    # a client that never answers pings (a frozen tab, a dead NAT mapping)
    ws = await http.ws_connect(f"{server.ws_url}?token={bob_t['accessToken']}", autoping=False)
    await ws.send_json({"type": "join-room", "roomId": rid, "userId": "bob"})
    await alice.expect("user-joined")
    left = await alice.expect("user-left", timeout=3.0)
    assert left["userId"] == "bob"
    await ws.close()


async def test_second_connection_replaces_the_first(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    room = await create_room(http, server.http_url, "alice")
    old = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await old.join(room["roomId"], "alice")
    new = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    assert (await new.join(room["roomId"], "alice"))["rejoined"] is True
    err = await old.expect("error")
    assert err["code"] == "replaced"
    assert await old.close_code() == 4009


async def test_graceful_shutdown_tells_clients(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server()
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    idle = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    stopping = asyncio.create_task(server.stop("maintenance"))
    notice = await alice.expect("server-shutdown")
    assert notice["message"] == "maintenance" and notice["reconnect"] is True
    assert await alice.close_code() == 1001
    assert (await idle.expect("server-shutdown"))["type"] == "server-shutdown"
    await stopping
    async with aiohttp.ClientSession() as fresh:
        try:
            await fresh.get(server.http_url + "/health")
        except aiohttp.ClientConnectionError:
            pass
        else:
            raise AssertionError("server still answers after stop()")


async def test_host_kicks_a_guest(server: SignalingServer, http: aiohttp.ClientSession) -> None:
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    await alice.expect("user-joined")
    url = f"{server.http_url}/rooms/{rid}/users/alice"
    async with http.delete(url, headers={"Authorization": "Bearer " + bob_t["accessToken"]}) as r:
        assert r.status == 403  # a guest has no host privileges
    url = f"{server.http_url}/rooms/{rid}/users/bob"
    async with http.delete(url, headers={"Authorization": "Bearer " + room["accessToken"]}) as r:
        assert r.status == 200
    assert (await bob.expect("error"))["code"] == "kicked"
    assert await bob.close_code() == 4010
    left = await alice.expect("user-left")
    assert left["userId"] == "bob" and left["reason"] == "kicked"
    # and bob cannot come back with the same token
    again = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await again.send(type="join-room", roomId=rid, userId="bob")
    assert (await again.expect("error"))["code"] == "forbidden"
    assert await again.close_code() == 4003


async def test_join_timeout_closes_idle_connections(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(join_timeout=0.3)
    room = await create_room(http, server.http_url, "alice")
    idle = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    assert (await idle.expect("error"))["code"] == "join-timeout"
    assert await idle.close_code() == 4008


async def test_gc_tuning_freezes_and_releases(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    import gc

    server = await make_server(gc_tuning=True, gc_full_interval=1.5, gc_full_growth=0.0)
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    await asyncio.sleep(1.2)
    assert gc.get_freeze_count() > 0  # long-lived objects left the collector's generations
    await asyncio.sleep(1.0)  # a full collection ran and froze again; the server still serves
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    assert (await bob.join(room["roomId"], "bob"))["type"] == "room-state"
    await server.stop()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize(("growth", "collects"), [(0.0, True), (100.0, False)])
async def test_a_full_collection_runs_only_when_memory_grew(
    make_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
    growth: float,
    collects: bool,
) -> None:
    """A full pass over 10,000 connections stalls the loop for about half a second and, with
    closed connections freed by reference counting, finds nothing: it runs only when the RSS
    grew by ``gc_full_growth`` since the last one (0: at every interval)."""
    caplog.set_level(logging.DEBUG, logger="holocall_desktop.server.app")
    server = await make_server(gc_tuning=True, gc_full_interval=0.5, gc_full_growth=growth)
    await asyncio.sleep(2.2)
    messages = [r.getMessage() for r in caplog.records if "full GC" in r.getMessage()]
    ran = [m for m in messages if m.startswith("full GC:")]
    skipped = [m for m in messages if m.startswith("full GC skipped")]
    assert bool(ran) is collects and bool(skipped) is not collects, messages
    await server.stop()


async def test_relay_to_a_reconnecting_peer_says_so(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(reconnect_grace=5.0)
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    await alice.expect("user-joined")
    await bob.ws.close()
    await asyncio.sleep(0.2)
    await alice.send(type="offer", to="bob", sdp=OFFER)
    err = await alice.expect("error")
    assert err["code"] == "unknown-peer" and "reconnecting" in err["message"]
    headers = {"Authorization": "Bearer " + room["accessToken"]}
    async with http.get(f"{server.http_url}/rooms/{rid}/users", headers=headers) as r:
        users = {u["userId"]: u["connected"] for u in (await r.json())["users"]}
    assert users == {"alice": True, "bob": False}
