"""Two real aiortc peers negotiate through the server and open a data channel."""

from __future__ import annotations

import asyncio

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from holocall_desktop.server.app import SignalingServer
from tests.server.client import SignalClient, create_room, invite


async def test_real_peers_connect_through_the_server(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    room = await create_room(http, server.http_url, "alice")
    rid = room["roomId"]
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(rid, "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(rid, "bob")
    joined = await alice.expect("user-joined")

    pc_a, pc_b = RTCPeerConnection(), RTCPeerConnection()
    try:
        channel = pc_a.createDataChannel("control")
        opened = asyncio.get_running_loop().create_future()
        received: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        @pc_b.on("datachannel")
        def on_channel(ch: object) -> None:
            @ch.on("message")  # type: ignore[attr-defined]
            def on_message(message: str) -> None:
                if not received.done():
                    received.set_result(message)

        @channel.on("open")
        def on_open() -> None:
            opened.set_result(True)

        # the participant already in the room offers to the one who joined (seed sequence)
        await pc_a.setLocalDescription(await pc_a.createOffer())
        local = pc_a.localDescription
        await alice.send(
            type="offer", to=joined["userId"], sdp={"type": local.type, "sdp": local.sdp}
        )
        offer = await bob.expect("offer")
        await pc_b.setRemoteDescription(RTCSessionDescription(**offer["sdp"]))
        await pc_b.setLocalDescription(await pc_b.createAnswer())
        answer_sdp = pc_b.localDescription
        await bob.send(
            type="answer", to=offer["from"], sdp={"type": answer_sdp.type, "sdp": answer_sdp.sdp}
        )
        answer = await alice.expect("answer")
        await pc_a.setRemoteDescription(RTCSessionDescription(**answer["sdp"]))
        await asyncio.wait_for(opened, 15)
        channel.send("hello through signaling")
        assert await asyncio.wait_for(received, 10) == "hello through signaling"
    finally:
        await pc_a.close()
        await pc_b.close()
