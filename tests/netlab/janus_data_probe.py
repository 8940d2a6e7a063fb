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

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from holocall_desktop.server.janus import VideoRoomAdmin
from tests.server.janus_node import janus_node

SECRET = secrets.token_hex(16)
SIZES = (100, 1200, 16000, 60000)


async def _open(channel: RTCDataChannel) -> None:
    for _ in range(100):
        if channel.readyState == "open":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{channel.label} never opened")


def _jsep(description: RTCSessionDescription) -> dict[str, str]:
    return {"type": description.type, "sdp": description.sdp}


async def _subscribe(
    admin: VideoRoomAdmin, pvt: int, own_channel: bool
) -> tuple[RTCPeerConnection, list[dict[str, Any]]]:
    bob = await admin.attach()
    join = {"request": "join", "ptype": "subscriber", "room": "room", "pin": "pin",
            "streams": [{"feed": "alice"}], "private_id": pvt}  # fmt: skip
    offer = (await bob.message(join)).jsep
    assert offer is not None
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
    await bob.message({"request": "start"}, _jsep(pc.localDescription))
    for _ in range(100):
        if pc.connectionState == "connected" and pc.sctp is not None:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    return pc, got


async def main(workdir: Path) -> dict[str, Any]:
    with janus_node(workdir, SECRET) as node:
        async with VideoRoomAdmin(node.url, SECRET) as admin:
            await admin.create_room("room", secret="secret", pin="pin", publishers=10)
            alice = await admin.attach()
            join = {"request": "join", "ptype": "publisher", "room": "room", "pin": "pin",
                    "display": "Alice", "id": "alice"}  # fmt: skip
            pvt = (await alice.message(join)).data["private_id"]
            pc = RTCPeerConnection()
            hologram = pc.createDataChannel("hologram", ordered=False, maxPacketLifeTime=150)
            control = pc.createDataChannel("control", ordered=True)
            await pc.setLocalDescription(await pc.createOffer())
            published = await alice.message(
                {"request": "publish", "data": True}, _jsep(pc.localDescription)
            )
            answer = published.jsep
            assert answer is not None
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            await _open(hologram)
            await _open(control)
            sizes = [x for x in answer["sdp"].splitlines() if x.startswith("a=max-message-size")]
            # what aiortc holds Alice's messages to: Janus' answer's, or RFC 8841's 64 KB default
            limit = pc.sctp._remote_max_message_size  # type: ignore[union-attr]
            result: dict[str, Any] = {"max_message_size": limit, "sdp_max_message_size": sizes}
            for own in (False, True):
                sub, got = await _subscribe(admin, pvt, own)
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
