"""The signaling server's control of a real Janus node (Debian's janus 1.1, with the
configuration in packaging/janus): rooms created and destroyed through the API, every request
needing the API secret, no admin API, a room's pin required to join it, and a Janus restart
survived."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from holocall_desktop.server.janus import JanusError, VideoRoomAdmin
from tests.server.janus_node import JanusNode, janus_node

SECRET = "janus-api-secret-for-tests"


@pytest.fixture
def janus(tmp_path: Path) -> Iterator[JanusNode]:
    with janus_node(tmp_path, SECRET) as node:
        yield node


async def _join(node: JanusNode, room: str, pin: str) -> dict[str, Any]:
    """What Janus tells a publisher that joins ``room`` with ``pin`` (its asynchronous event)."""
    async with aiohttp.ClientSession() as http:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            body = {**body, "transaction": secrets.token_hex(6), "apisecret": SECRET}
            async with http.post(node.url + path, json=body) as r:
                return dict(await r.json(content_type=None))

        session = (await post("", {"janus": "create"}))["data"]["id"]
        handle = (
            await post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        )["data"]["id"]
        join = {"request": "join", "ptype": "publisher", "room": room, "pin": pin, "display": "x"}
        ack = await post(f"/{session}/{handle}", {"janus": "message", "body": join})
        assert ack["janus"] == "ack", ack
        url = f"{node.url}/{session}?maxev=1&apisecret={SECRET}"
        for _ in range(5):
            async with http.get(url) as r:
                event = await r.json(content_type=None)
            if event.get("janus") == "event" and event.get("sender") == handle:
                return dict(event["plugindata"]["data"])
        raise AssertionError("no answer to the join")


async def test_a_room_is_created_joined_with_its_pin_and_destroyed(janus: JanusNode) -> None:
    async with VideoRoomAdmin(janus.url, SECRET) as admin:
        await admin.create_room("mq10DxQwYlm2", secret="room-secret", pin="room-pin", publishers=10)
        assert await admin.exists("mq10DxQwYlm2")
        assert await admin.participants("mq10DxQwYlm2") == []
        refused = await _join(janus, "mq10DxQwYlm2", "wrong pin")
        assert refused.get("error_code") == 433, refused  # unauthorized
        joined = await _join(janus, "mq10DxQwYlm2", "room-pin")
        assert joined["videoroom"] == "joined" and joined["room"] == "mq10DxQwYlm2", joined
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
