"""RFC 6455 §5.1 on our /ws: clients' frames must be masked; an unmasked one ends the connection."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
from typing import Any

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.wsguard import MaskedFramesOnly
from tests.server.client import SignalClient, create_room, invite


def frame(payload: bytes, masked: bool = True, opcode: int = 1) -> bytes:
    n = len(payload)
    bit = 0x80 if masked else 0
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


class _Parser:
    def __init__(self) -> None:
        self.fed = b""

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""

    def feed_eof(self) -> None:
        pass


class _Queue:
    def __init__(self) -> None:
        self.exc: BaseException | None = None

    def set_exception(self, exc: BaseException) -> None:
        self.exc = exc


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.sampled_from([0, 1, 125, 126, 300, 65535, 65536]), min_size=1, max_size=5),
    unmasked_at=st.integers(min_value=0, max_value=5),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=12),
)
def test_the_frame_scanner_finds_the_first_unmasked_frame_however_the_bytes_arrive(
    sizes: list[int], unmasked_at: int, cuts: list[int]
) -> None:
    frames = [frame(b"x" * n, masked=i != unmasked_at) for i, n in enumerate(sizes)]
    stream = b"".join(frames)
    bad = sum(len(f) for f in frames[:unmasked_at]) if unmasked_at < len(frames) else None
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    parser, queue = _Parser(), _Queue()
    guard = MaskedFramesOnly(parser, queue)
    for a, b in itertools.pairwise(points):
        guard.feed_data(stream[a:b])
    if bad is None:
        assert parser.fed == stream and queue.exc is None and not guard.refused
    else:
        assert guard.refused and queue.exc is not None
        # all before it; of it, at most the first byte when its header came in two pieces
        assert parser.fed in (stream[:bad], stream[: bad + 1])


async def _raw_client(server: SignalingServer, token: str) -> tuple[Any, Any]:
    host, port = server.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )  # fmt: skip
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _read_frame(reader: Any) -> tuple[int, bytes]:
    b0, b1 = await asyncio.wait_for(reader.readexactly(2), 5)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return b0 & 0x0F, await reader.readexactly(n)


async def test_an_unmasked_client_frame_closes_the_connection_with_1002(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    reader, writer = await _raw_client(server, bob_t["accessToken"])
    # masked frames are served, even when they arrive a byte at a time
    join = json.dumps({"type": "join-room", "roomId": room["roomId"], "userId": "bob"})
    for byte in frame(join.encode() + b" " * 200):  # past 125 bytes: a 16-bit length
        writer.write(bytes([byte]))
        await writer.drain()
    opcode, data = await _read_frame(reader)
    assert opcode == 1 and json.loads(data)["type"] == "room-state"
    await alice.expect("user-joined")
    # an unmasked one is a protocol error: close code 1002, then the connection ends
    offer = {"type": "offer", "to": "alice", "sdp": {"type": "offer", "sdp": "v=0"}}
    writer.write(frame(json.dumps(offer).encode(), masked=False))
    await writer.drain()
    opcode, data = await _read_frame(reader)
    assert opcode == 8 and int.from_bytes(data[:2], "big") == 1002, data
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # nothing of it reached alice; she sees bob leave
    assert (await alice.expect("user-left"))["userId"] == "bob"
