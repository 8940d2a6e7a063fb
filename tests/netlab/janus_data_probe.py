"""How Janus' VideoRoom relays data channels, asked of a real Janus by two real aiortc peers:
run inside a network namespace whose only address is ``ADDRESS`` (Janus gathers no loopback
candidates), ``python janus_data_probe.py ADDRESS WORKDIR`` prints one JSON line of what the
subscriber received.

Alice publishes two channels as a HoloCall peer does (``hologram``: unordered, 150 ms lifetime;
``control``: ordered), Bob subscribes to her feed twice: first without a channel of his own,
then with one."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from holocall_desktop.server.janus import VideoRoomAdmin
from tests.server.janus_node import janus_node

SECRET = secrets.token_hex(16)
SIZES = (100, 1200, 16000, 60000)


class Handle:
    """One VideoRoom handle over Janus' HTTP API, with its asynchronous events."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6), "apisecret": SECRET}
        async with self.http.post(self.url + path, json=body) as r:
            return dict(await r.json(content_type=None))

    async def open(self) -> Handle:
        self.session = (await self.post("", {"janus": "create"}))["data"]["id"]
        attach = {"janus": "attach", "plugin": "janus.plugin.videoroom"}
        self.handle = (await self.post(f"/{self.session}", attach))["data"]["id"]
        return self

    async def send(self, body: dict[str, Any], jsep: RTCSessionDescription | None = None) -> Any:
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = {"type": jsep.type, "sdp": jsep.sdp}
        await self.post(f"/{self.session}/{self.handle}", message)
        poll = f"{self.url}/{self.session}?maxev=1&apisecret={SECRET}"
        for _ in range(30):
            async with self.http.get(poll) as r:
                event = await r.json(content_type=None)
            if event.get("janus") == "event" and event.get("sender") == self.handle:
                return event
        raise RuntimeError(f"no answer to {body['request']}")


async def _open(channel: RTCDataChannel) -> None:
    for _ in range(100):
        if channel.readyState == "open":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{channel.label} never opened")


async def _subscribe(
    http: aiohttp.ClientSession, url: str, pvt: int, own_channel: bool
) -> tuple[RTCPeerConnection, list[dict[str, Any]]]:
    bob = await Handle(http, url).open()
    join = {"request": "join", "ptype": "subscriber", "room": "room", "pin": "pin",
            "streams": [{"feed": "alice"}], "private_id": pvt}  # fmt: skip
    offer = (await bob.send(join))["jsep"]
    pc = RTCPeerConnection()
    got: list[dict[str, Any]] = []

    @pc.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(m: bytes | str) -> None:
            got.append({
                "label": channel.label, "ordered": channel.ordered,
                "maxRetransmits": channel.maxRetransmits,
                "maxPacketLifeTime": channel.maxPacketLifeTime,
                "binary": isinstance(m, bytes), "size": len(m),
            })  # fmt: skip

    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
    if own_channel:
        pc.createDataChannel("bob")
    await pc.setLocalDescription(await pc.createAnswer())
    await bob.send({"request": "start"}, pc.localDescription)
    for _ in range(100):
        if pc.connectionState == "connected" and pc.sctp is not None:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    return pc, got


async def main(workdir: Path) -> dict[str, Any]:
    with janus_node(workdir, SECRET) as node:
        async with VideoRoomAdmin(node.url, SECRET) as admin, aiohttp.ClientSession() as http:
            await admin.create_room("room", secret="secret", pin="pin", publishers=10)
            alice = await Handle(http, node.url).open()
            join = {"request": "join", "ptype": "publisher", "room": "room", "pin": "pin",
                    "display": "Alice", "id": "alice"}  # fmt: skip
            pvt = (await alice.send(join))["plugindata"]["data"]["private_id"]
            pc = RTCPeerConnection()
            hologram = pc.createDataChannel("hologram", ordered=False, maxPacketLifeTime=150)
            control = pc.createDataChannel("control", ordered=True)
            await pc.setLocalDescription(await pc.createOffer())
            answer = (await alice.send({"request": "publish", "data": True}, pc.localDescription))[
                "jsep"
            ]
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            await _open(hologram)
            await _open(control)
            sizes = [x for x in answer["sdp"].splitlines() if x.startswith("a=max-message-size")]
            # what aiortc holds Alice's messages to: Janus' answer's, or RFC 8841's 64 KB default
            limit = pc.sctp._remote_max_message_size  # type: ignore[union-attr]
            result: dict[str, Any] = {"max_message_size": limit, "sdp_max_message_size": sizes}
            for own in (False, True):
                sub, got = await _subscribe(http, node.url, pvt, own)
                for n in SIZES:
                    hologram.send(os.urandom(n))
                control.send(b"\x01control")
                control.send("text")
                await asyncio.sleep(2.0)
                result["with_own_channel" if own else "without_own_channel"] = got
                await sub.close()
            await pc.close()
            return result


if __name__ == "__main__":
    from holocall_desktop.transport import ice

    ice.install()
    print(json.dumps(asyncio.run(main(Path(sys.argv[2])))), flush=True)
