"""The signaling server's control of a real Janus node (Debian's janus 1.1, with the
configuration in packaging/janus): rooms created and destroyed through the API, every request
needing the API secret, no admin API, a room's pin required to join it, and a Janus restart
survived."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from holocall_desktop.server.janus import JanusError, JanusEvent, VideoRoomAdmin
from tests.server.janus_node import JanusNode, janus_node

SECRET = "janus-api-secret-for-tests"


@pytest.fixture
def janus(tmp_path: Path) -> Iterator[JanusNode]:
    with janus_node(tmp_path, SECRET) as node:
        yield node


async def _join(admin: VideoRoomAdmin, room: str, pin: str, user: str = "x") -> JanusEvent:
    """A publisher's join of ``room`` with ``pin`` on a handle of its own: Janus' answer."""
    handle = await admin.attach()
    body = {"request": "join", "ptype": "publisher", "room": room, "pin": pin, "id": user}
    return await handle.message({**body, "display": user.title()})


async def test_a_room_is_created_joined_with_its_pin_and_destroyed(janus: JanusNode) -> None:
    async with VideoRoomAdmin(janus.url, SECRET) as admin:
        await admin.create_room("mq10DxQwYlm2", secret="room-secret", pin="room-pin", publishers=10)
        assert await admin.exists("mq10DxQwYlm2")
        assert await admin.participants("mq10DxQwYlm2") == []
        with pytest.raises(JanusError) as refused:
            await _join(admin, "mq10DxQwYlm2", "wrong pin")
        assert refused.value.code == 433  # unauthorized
        joined = (await _join(admin, "mq10DxQwYlm2", "room-pin")).data
        assert joined["videoroom"] == "joined" and joined["room"] == "mq10DxQwYlm2", joined
        assert [p["id"] for p in await admin.participants("mq10DxQwYlm2")] == ["x"]
        with pytest.raises(JanusError) as wrong:
            await admin.destroy_room("mq10DxQwYlm2", secret="not the secret")
        assert wrong.value.code == 433
        await admin.destroy_room("mq10DxQwYlm2", secret="room-secret")
        assert not await admin.exists("mq10DxQwYlm2")
        with pytest.raises(JanusError, match=r"No such room.*\(426\)"):
            await admin.destroy_room("mq10DxQwYlm2", secret="room-secret")


async def test_only_the_api_secret_opens_janus_and_there_is_no_admin_api(
    janus: JanusNode,
) -> None:
    async with VideoRoomAdmin(janus.url, "a guess") as stranger:
        with pytest.raises(JanusError, match=r"Unauthorized.*\(403\)"):
            await stranger.exists("any")
    with socket.socket() as s:  # the admin API's default port is not listening
        assert s.connect_ex(("127.0.0.1", 7088)) != 0
    log = janus.log.read_text()
    assert f"HTTP webserver started (port {janus.port}" in log
    assert "Admin/monitor HTTP webserver started" not in log, log


async def test_a_restarted_janus_gets_a_new_session_and_an_absent_one_says_so(
    janus: JanusNode,
) -> None:
    async with VideoRoomAdmin(janus.url, SECRET) as admin:
        await admin.create_room("room-a", secret="s", pin="p", publishers=4)
        janus.stop()
        with pytest.raises(JanusError, match="cannot be reached") as gone:
            await admin.exists("room-a")
        assert gone.value.code == 0
        janus.start()  # a new Janus: our session is unknown to it, and so is the room
        assert not await admin.exists("room-a")
        await admin.create_room("room-a", secret="s", pin="p", publishers=4)
        assert await admin.exists("room-a")


async def test_a_handle_hears_of_others_and_of_its_session_lost(janus: JanusNode) -> None:
    async with VideoRoomAdmin(janus.url, SECRET) as admin:
        await admin.create_room("room-b", secret="s", pin="p", publishers=4)
        alice = await admin.attach()
        await alice.message({"request": "join", "ptype": "publisher", "room": "room-b",
                             "pin": "p", "id": "alice", "display": "Alice"})  # fmt: skip
        await _join(admin, "room-b", "p", "bob")
        event = await asyncio.wait_for(alice.events.get(), 5)  # not an answer: news
        assert event.kind == "event" and event.data["joining"]["id"] == "bob", event
        janus.stop()
        janus.start()
        assert not await admin.exists("room-b")  # a new session; the old one's handles are gone
        gone = await asyncio.wait_for(alice.events.get(), 5)
        assert gone.kind == "gone" and alice.gone
        with pytest.raises(JanusError, match="session was lost"):
            await alice.message({"request": "leave"})
