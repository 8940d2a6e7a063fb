"""Group-call signaling through the SFU: the signaling server speaks Janus' VideoRoom API for
its participants (a real Janus with the project's configuration, real aiortc peers). A
publisher's offer gets Janus' answer, a subscriber gets Janus' offer for the feeds it names and
starts with its answer, and then the publisher's data reaches it; leaving releases it and the
last one takes the Janus room along; whatever is asked out of turn, malformed, or of a server
without a reachable SFU is refused with a code.

Janus gathers no loopback candidates, so each test runs in a network namespace of its own
(the test's thread enters it: the server, Janus and the peers all live there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from holocall_desktop.netlab.lab import NetLab
from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.janus import VideoRoomAdmin
from tests.server.client import SignalClient, create_room, invite
from tests.server.conftest import ServerFactory
from tests.server.janus_node import JanusNode, janus_node

SECRET = "janus-secret-for-the-signaling-tests"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def namespace() -> Iterator[NetLab]:
    """This thread (the test's event loop, and what it starts) in a lab's namespace ``a``."""
    with NetLab(seed=1) as lab, lab.inside("a"):
        yield lab


@pytest.fixture
def janus(namespace: NetLab, tmp_path: Path) -> Iterator[JanusNode]:
    with janus_node(tmp_path, SECRET) as node:
        yield node


@pytest.fixture
async def sfu_server(
    namespace: NetLab, make_server: ServerFactory, janus: JanusNode
) -> SignalingServer:
    return await make_server(janus_url=janus.url, janus_secret=SECRET)


async def _joined(
    http: aiohttp.ClientSession,
    server: SignalingServer,
    users: tuple[str, ...],
    topology: str | None = None,
) -> tuple[str, list[SignalClient]]:
    """``users`` in a new room (its room-state says ``topology`` when given)."""
    room = await create_room(http, server.http_url, users[0])
    clients = []
    for user in users:
        token = room["accessToken"] if user == users[0] else None
        if token is None:
            token = (await invite(http, server.http_url, room, user))["accessToken"]
        client = await SignalClient.connect(http, server.ws_url, token)
        state = await client.join(room["roomId"], user)
        assert state["type"] == "room-state"
        assert topology is None or state["topology"] == topology, state
        clients.append(client)
    for i, client in enumerate(clients):  # the user-joined news of those after each
        for _ in users[i + 1 :]:
            await client.expect("user-joined")
    return room["roomId"], clients


async def _offer() -> tuple[RTCPeerConnection, dict[str, str], RTCDataChannel]:
    """A HoloCall publisher's connection (its two channels), its offer and its hologram
    channel."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendonly")  # a voice line (silent here)
    hologram = pc.createDataChannel("hologram", ordered=False, maxPacketLifeTime=150)
    pc.createDataChannel("control")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, {"type": "offer", "sdp": pc.localDescription.sdp}, hologram


async def _until_true(check: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("never")


@pytest.fixture
async def pcs() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()


async def test_a_publisher_and_a_subscriber_negotiate_through_the_sfu(
    sfu_server: SignalingServer,
    janus: JanusNode,
    http: aiohttp.ClientSession,
    pcs: list[RTCPeerConnection],
) -> None:
    # a room for more than three (the default six) calls through the SFU from the start
    room_id, (alice, bob) = await _joined(http, sfu_server, ("alice", "bob"), topology="sfu")
    pc, offer, hologram = await _offer()
    pcs.append(pc)
    await alice.send(type="sfu-publish", sdp=offer)
    answer = (await alice.expect("sfu-answer", 10))["sdp"]
    assert answer["type"] == "answer" and "m=application" in answer["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    await _until_true(lambda: hologram.readyState == "open")  # connected to Janus
    # the others hear of it, to subscribe anew
    assert (await bob.expect("sfu-published")) == {
        "type": "sfu-published", "roomId": room_id, "userId": "alice"}  # fmt: skip

    await bob.send(type="sfu-publish", sdp=(await _offer())[1])
    await bob.expect("sfu-answer", 10)
    assert (await alice.expect("sfu-published", 10))["userId"] == "bob"
    await bob.send(type="sfu-subscribe", feeds=["alice", "bob", "carol"])
    got = await bob.expect("sfu-offer", 10)
    assert got["feeds"] == ["alice"]  # not himself, not who is not there
    # which media line is whose: Alice's voice
    assert [(s["feed"], s["type"]) for s in got["streams"]] == [("alice", "audio")]
    assert f"a=mid:{got['streams'][0]['mid']}" in got["sdp"]["sdp"]
    assert got["sdp"]["type"] == "offer" and "m=application" in got["sdp"]["sdp"]
    sub = RTCPeerConnection()
    pcs.append(sub)
    received: list[tuple[str, bytes | str]] = []

    @sub.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        channel.on("message", lambda data: received.append((channel.label, data)))

    await sub.setRemoteDescription(RTCSessionDescription(**got["sdp"]))
    sub.createDataChannel("bob")  # Janus relays data only once the subscriber opened one
    await sub.setLocalDescription(await sub.createAnswer())
    await bob.send(type="sfu-start", sdp={"type": "answer", "sdp": sub.localDescription.sdp})
    await bob.expect("sfu-started", 10)
    await _until_true(lambda: sub.connectionState == "connected")
    fragment = bytes(range(256)) * 4

    def arrived() -> bool:
        hologram.send(fragment)  # until the subscriber's side is ready in Janus
        return ("alice", fragment) in received

    await _until_true(arrived)

    async with VideoRoomAdmin(janus.url, SECRET) as admin:
        assert {p["id"] for p in await admin.participants(room_id)} == {"alice", "bob"}
        await alice.send(type="leave-room", roomId=room_id)
        await bob.expect("user-left")
        await _until(lambda: _ids(admin, room_id), {"bob"})
        await bob.close()  # the last one: the room goes in Janus too
        await _until(lambda: admin.exists(room_id), False)


async def _ids(admin: VideoRoomAdmin, room_id: str) -> set[str]:
    return {str(p["id"]) for p in await admin.participants(room_id)}


async def _until(probe: Any, wanted: Any, timeout: float = 10.0) -> None:
    seen = None
    for _ in range(int(timeout * 10)):
        seen = await probe()
        if seen == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{seen!r}, not {wanted!r}")


async def test_what_is_asked_out_of_turn_or_malformed_is_refused(
    sfu_server: SignalingServer, http: aiohttp.ClientSession, pcs: list[RTCPeerConnection]
) -> None:
    room = await create_room(http, sfu_server.http_url, "alice")
    alice = await SignalClient.connect(http, sfu_server.ws_url, room["accessToken"])
    pc, offer, _hologram = await _offer()
    pcs.append(pc)
    await alice.send(type="sfu-publish", sdp=offer)
    assert (await alice.expect("error"))["code"] == "not-in-room"
    await alice.join(room["roomId"], "alice")
    await alice.send(type="sfu-subscribe", feeds=["bob"])
    refused = await alice.expect("error", 10)
    assert refused["code"] == "sfu-refused" and "publish before" in refused["message"]
    await alice.send(type="sfu-start", sdp={"type": "answer", "sdp": "v=0"})
    assert (await alice.expect("error", 10))["code"] == "sfu-refused"
    for bad in (
        {"type": "sfu-publish"},
        {"type": "sfu-publish", "sdp": {"type": "answer", "sdp": "v=0"}},
        {"type": "sfu-subscribe", "feeds": "bob"},
        {"type": "sfu-subscribe", "feeds": []},
        {"type": "sfu-subscribe", "feeds": ["not an id!"]},
        {"type": "sfu-subscribe", "feeds": [f"u{i}" for i in range(65)]},
        {"type": "sfu-start", "sdp": {"type": "offer", "sdp": "v=0"}},
    ):
        await alice.send(**bad)
        assert (await alice.expect("error"))["code"] == "invalid-message", bad
    await alice.send(type="sfu-publish", sdp={"type": "offer", "sdp": "v=0\r\nnot an offer"})
    refused = await alice.expect("error", 10)
    assert refused["code"] == "sfu-refused", refused  # Janus' own reason, in one line
    await alice.send(type="sfu-publish", sdp=offer)  # and a good offer after it is taken
    assert (await alice.expect("sfu-answer", 10))["sdp"]["type"] == "answer"
    await alice.close()


async def test_without_a_reachable_sfu_requests_are_refused_as_unavailable(
    make_server: ServerFactory, janus: JanusNode, http: aiohttp.ClientSession
) -> None:
    plain = await make_server()
    _room, (alice,) = await _joined(http, plain, ("alice",), topology="mesh")
    await alice.send(type="sfu-publish", sdp=(await _offer())[1])
    gone = await alice.expect("error")
    assert gone == {"type": "error", "code": "sfu-unavailable", "message": "this server has no SFU"}
    janus.stop()
    down = await make_server(janus_url=janus.url, janus_secret=SECRET)
    _room, (bob,) = await _joined(http, down, ("bob",))
    await bob.send(type="sfu-publish", sdp=(await _offer())[1])
    refused = await bob.expect("error", 10)
    assert refused["code"] == "sfu-unavailable" and "cannot be reached" in refused["message"]
