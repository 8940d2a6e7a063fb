"""A minimal signaling test client over a real WebSocket (the real client lives in transport/)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class SignalClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, ws_url: str, token: str | None
    ) -> SignalClient:
        url = ws_url if token is None else f"{ws_url}?token={token}"
        ws = await session.ws_connect(url, autoping=True, max_msg_size=0)
        return cls(ws)

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(json.dumps(message))

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {msg.type!r} {msg.data!r}")
        data = json.loads(msg.data)
        assert isinstance(data, dict)
        return data

    async def expect(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        data = await self.recv(timeout)
        assert data.get("type") == kind, f"expected {kind}, got {data}"
        return data

    async def nothing(self, within: float = 0.3) -> None:
        """Assert that no frame arrives within ``within`` seconds."""
        try:
            msg = await self.ws.receive(timeout=within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {msg.type!r} {msg.data!r}")

    async def close_code(self, timeout: float = 3.0) -> int | None:
        """Read until the server closes; return the close code."""
        while True:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type == aiohttp.WSMsgType.CLOSE:
                return int(msg.data)  # the code in the server's close frame
            if msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return self.ws.close_code
            if msg.type == aiohttp.WSMsgType.ERROR:
                return self.ws.close_code

    async def join(self, room_id: str, user_id: str) -> dict[str, Any]:
        await self.send(type="join-room", roomId=room_id, userId=user_id)
        return await self.recv()

    async def close(self) -> None:
        await self.ws.close()


async def create_room(
    session: aiohttp.ClientSession, http_url: str, user_id: str = "host", **extra: Any
) -> dict[str, Any]:
    async with session.post(f"{http_url}/rooms", json={"userId": user_id, **extra}) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        assert isinstance(body, dict)
        return body


async def invite(
    session: aiohttp.ClientSession, http_url: str, room: dict[str, Any], user_id: str
) -> dict[str, Any]:
    async with session.post(
        f"{http_url}/rooms/{room['roomId']}/tokens",
        json={"inviteSecret": room["inviteSecret"], "userId": user_id},
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        assert isinstance(body, dict)
        return body
